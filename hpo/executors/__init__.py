"""Executors: where trials run (this thread, threads, processes; Ray in its own module,
imported only when ``executor="ray"`` or :class:`hpo.RayExecutor` asks for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpo.executors.base import Executor, OptimizeRun
from hpo.executors.local import SerialExecutor, ThreadExecutor
from hpo.executors.process import ProcessExecutor

if TYPE_CHECKING:
    from hpo.executors.ray import RayExecutor

__all__ = [
    "Executor",
    "OptimizeRun",
    "ProcessExecutor",
    "RayExecutor",
    "SerialExecutor",
    "ThreadExecutor",
    "resolve_executor",
]

_NAMES = ("serial", "thread", "process", "ray")


def __getattr__(name: str) -> Any:
    if name == "RayExecutor":  # imports Ray: only on demand
        from hpo.executors.ray import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_executor(executor: Executor | str | None, n_workers: int = 1) -> Executor:
    """An executor from an instance, a name (``serial``, ``thread``, ``process``,
    ``ray``) or ``None`` (serial for one worker, threads for more). ``"ray"`` runs at most
    ``n_workers`` trials at once when ``n_workers > 1``, else as many as the cluster fits."""
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
    if executor == "ray":
        from hpo.executors.ray import RayExecutor

        return RayExecutor(max_concurrent=n_workers if n_workers > 1 else None)
    raise ValueError(
        f"unknown executor {executor!r}; use one of {', '.join(_NAMES)} or an Executor instance"
    )
