"""Executors: where trials run (this thread, threads, processes; Ray in its own module)."""

from __future__ import annotations

from hpo.executors.base import Executor, OptimizeRun
from hpo.executors.local import SerialExecutor, ThreadExecutor
from hpo.executors.process import ProcessExecutor

__all__ = [
    "Executor",
    "OptimizeRun",
    "ProcessExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "resolve_executor",
]

_NAMES = ("serial", "thread", "process")


def resolve_executor(executor: Executor | str | None, n_workers: int = 1) -> Executor:
    """An executor from an instance, a name (``serial``, ``thread``, ``process``) or
    ``None`` (serial for one worker, threads for more)."""
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
    if isinstance(executor, Executor):
        return executor
    if executor is None:
        return SerialExecutor() if n_workers == 1 else ThreadExecutor(n_workers)
    if executor == "serial":
        if n_workers != 1:
            raise ValueError(
                "the serial executor runs one worker; use executor='thread' or "
                "'process' for n_workers > 1"
            )
        return SerialExecutor()
    if executor == "thread":
        return ThreadExecutor(n_workers)
    if executor == "process":
        return ProcessExecutor(n_workers)
    raise ValueError(
        f"unknown executor {executor!r}; use one of {', '.join(_NAMES)} or an Executor instance"
    )
