"""Local executors: serial (this thread) and threads (``n_workers`` threads, one process).

Threads suit objectives that release the GIL (NumPy, scikit-learn with native code,
PyTorch) or wait on I/O; :class:`~hpo.executors.process.ProcessExecutor` suits pure-Python
objectives and enforces a per-trial time limit.
"""

from __future__ import annotations

from hpo.executors.base import Executor, OptimizeRun, drive_in_threads, interrupt_reason


class SerialExecutor(Executor):
    """Runs one trial at a time in the calling thread."""

    def run(self, run: OptimizeRun) -> None:
        try:
            while (spec := run.start_trial()) is not None:
                run.finish(spec, run.evaluate_here(spec))
        except KeyboardInterrupt as exc:
            run.abort(interrupt_reason(exc))
            raise
        except BaseException as exc:
            run.abort(f"optimization stopped by {type(exc).__name__}: {exc}")
            raise


class ThreadExecutor(Executor):
    """Runs trials in ``n_workers`` threads of this process."""

    def __init__(self, n_workers: int = 2) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
        self.n_workers = n_workers

    def run(self, run: OptimizeRun) -> None:
        drive_in_threads(run, [run.evaluate_here] * self.n_workers)
