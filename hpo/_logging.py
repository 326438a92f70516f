"""The library's logger and its verbosity.

hpo logs through the standard :mod:`logging` module, on the logger named ``"hpo"``:

* ``WARNING`` (shown by default, even when the application configured no logging): each
  failed trial (its number, the exception, and where its traceback is stored) and, at the
  end of ``optimize``, a summary of the run when some of its trials failed;
* ``INFO``: each finished trial (value and parameters, or the step it was pruned at) and
  the summary of every run.

Set the level with :func:`set_verbosity` (``hpo.set_verbosity(logging.INFO)`` to see every
trial, ``logging.ERROR`` for silence), or with the standard API
(``logging.getLogger("hpo").setLevel(...)``) and your own handlers.

>>> import logging, hpo
>>> hpo.set_verbosity(logging.ERROR)     # no per-trial warnings
>>> hpo.get_verbosity() == logging.ERROR
True
>>> hpo.set_verbosity(logging.WARNING)   # the default
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from hpo.trial import FrozenTrial, TrialState

__all__ = ["LOGGER_NAME", "TrialLog", "get_logger", "get_verbosity", "set_verbosity"]

#: the name of hpo's logger (child loggers: ``hpo.<module>``)
LOGGER_NAME = "hpo"
_FORMAT = "[hpo %(levelname)s %(asctime)s] %(message)s"


def get_logger(name: str | None = None) -> logging.Logger:
    """hpo's logger, or its child ``hpo.<name>``."""
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


def set_verbosity(level: int | str) -> None:
    """Log hpo's messages from ``level`` up (``logging.INFO``, ``"DEBUG"``, ...).

    When the application has configured no handler (neither on ``"hpo"`` nor on the root
    logger), one writing to stderr is added, so the level takes effect at once; otherwise
    the messages go to the application's handlers."""
    logger = get_logger()
    logger.setLevel(level)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)


def get_verbosity() -> int:
    """The level from which hpo's messages are logged (``logging.WARNING`` by default)."""
    return get_logger().getEffectiveLevel()


class TrialLog:
    """Logs each trial one ``optimize`` call finishes, and the call's summary.

    Used as the first callback of the run (thread-safe): a failed trial is a ``WARNING``
    with its number, the exception's last line and where the traceback is stored; a
    complete or pruned one an ``INFO``. :meth:`summary` logs the counts by state when the
    run ends: ``WARNING`` when some trials failed, else ``INFO``."""

    def __init__(self, study_name: str, direction: str) -> None:
        self.study_name = study_name
        self.direction = direction
        self.counts: dict[str, int] = {}
        self.last_error: tuple[int, str] | None = None
        self.best: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self._t0 = time.monotonic()

    def __call__(self, trial: FrozenTrial) -> None:
        logger = get_logger()
        with self._lock:
            self.counts[trial.state.value] = self.counts.get(trial.state.value, 0) + 1
            if trial.state is TrialState.FAILED:
                self.last_error = (trial.number, _last_line(trial.error))
            elif trial.state is TrialState.COMPLETE and trial.value is not None:
                sign = 1.0 if self.direction == "minimize" else -1.0
                if self.best is None or sign * trial.value < sign * self.best[0]:
                    self.best = (trial.value, trial.number)
        if trial.state is TrialState.FAILED:
            logger.warning(
                "Trial %d of study %r failed: %s. Its traceback is stored with the trial: "
                "study.trials[%d].error, or `hpo show %s` for a stored study.",
                trial.number,
                self.study_name,
                _last_line(trial.error),
                trial.number,
                self.study_name,
            )
        elif trial.state is TrialState.PRUNED:
            logger.info(
                "Trial %d pruned at step %s (last value %s).",
                trial.number,
                trial.last_step,
                "-" if trial.value is None else f"{trial.value:.6g}",
            )
        elif logger.isEnabledFor(logging.INFO):
            best = (
                "" if self.best is None else f" Best is trial {self.best[1]}: {self.best[0]:.6g}."
            )
            logger.info(
                "Trial %d finished with value %s and parameters %s.%s",
                trial.number,
                "-" if trial.value is None else f"{trial.value:.6g}",
                trial.params,
                best,
            )

    def summary(self) -> None:
        """Log this run's counts by state (``WARNING`` when some trials failed)."""
        with self._lock:
            counts = dict(self.counts)
            last_error, best = self.last_error, self.best
        n = sum(counts.values())
        if not n:
            return
        states = ", ".join(
            f"{counts[s]} {s}" for s in ("COMPLETE", "PRUNED", "FAILED") if counts.get(s)
        )
        text = f"Study {self.study_name!r}: {n} trial{'s' * (n != 1)} finished ({states}) in " + (
            f"{time.monotonic() - self._t0:.1f}s."
        )
        failed = counts.get("FAILED", 0)
        if failed:
            assert last_error is not None
            every = "Every trial failed. " if failed == n else ""
            get_logger().warning(
                "%s %sLast error (trial %d): %s. Tracebacks: study.trials[n].error.",
                text,
                every,
                *last_error,
            )
        else:
            tail = (
                "" if best is None else f" Best value of this run: {best[0]:.6g} (trial {best[1]})."
            )
            get_logger().info("%s%s", text, tail)


def _last_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else "no error message"
