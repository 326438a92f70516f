"""A dependency-free progress line for long ``optimize`` runs (shown on terminals only)."""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from hpo.trial import FrozenTrial, TrialState


class ProgressBar:
    """Redraws ``[##### ] 12/50  best 0.123  3.2s`` on stderr after each finished trial.

    Enabled only when asked and the stream is a terminal, so logs and tests stay clean."""

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        stream: IO[str] | None = None,
        force: bool = False,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = bool(enabled) and (is_tty or force)
        self.total = total
        self.done = 0
        self.best: float | None = None
        self._t0 = time.monotonic()
        self._drawn = False

    def update(self, run: Any, trial: FrozenTrial) -> None:
        self.done += 1
        if trial.state is TrialState.COMPLETE and trial.value is not None:
            direction = run.driver.record.direction
            better = self.best is None or (
                trial.value < self.best if direction == "minimize" else trial.value > self.best
            )
            if better:
                self.best = trial.value
        if self.enabled:
            self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self._t0
        best = "-" if self.best is None else f"{self.best:.6g}"
        if self.total:
            width = 24
            filled = int(width * min(self.done / self.total, 1.0))
            bar = f"[{'#' * filled}{' ' * (width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done} trials"
        self.stream.write(f"\r{bar}  best {best}  {elapsed:.1f}s ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
