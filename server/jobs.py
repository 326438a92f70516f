"""Comparison jobs: plan a comparison, then run it in the background of the server.

``POST /api/v1/comparisons`` plans the comparison (:func:`hpo.plan_comparison`: the
record and one study per searcher and seed), claims its member studies for this server,
and starts a job: a thread that runs each member's missing trials through the member's
driver in the server's pool, evaluating the objective in worker processes
(``job_executor="process"``, ``job_workers`` of them; their calls reach the server's
drivers), in threads, or on Ray (``ray_address``). Studies fill in live: every trial is
stored as it finishes, and the API shows it at once.

**Restarts.** A job keeps nothing in memory that the database does not: on start the
server resumes every comparison whose member studies it owns and that still has trials
to run, so a job survives a server restart (trials running at the crash are failed by
the reaper after the grace period, as any dead worker's).

**Objectives.** A built-in problem (:mod:`hpo.benchmarks`) is always allowed. An
objective ``module:function`` runs only when it matches one of the server's
``--allow-objective`` patterns (:class:`~hpo.storage.http.ObjectiveNotAllowedError`,
403, otherwise): it executes code on the server's machine.
"""

from __future__ import annotations

import importlib
import logging
import threading
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.storage import ComparisonRecord, Storage
from hpo.storage.http import ObjectiveNotAllowedError

if TYPE_CHECKING:
    from hpo.benchmarks import Problem
    from hpo.executors.base import Executor
    from hpo.objective import Objective
    from hpo.server.config import ServerConfig
    from hpo.server.drivers import DriverPool

log = logging.getLogger("hpo.server.jobs")


@dataclass
class Job:
    """One comparison's background run."""

    name: str
    state: str = "running"  # running, done, failed, stopped
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "error": self.error}


def problem_for(
    target: str | None, problem: str | None, config: ServerConfig
) -> tuple[Problem, Objective]:
    """The problem a comparison runs and the objective its trials evaluate: a registered
    problem by name, or an allowed objective ``module:function``."""
    from hpo.benchmarks import available_problems, get_problem

    if (target is None) == (problem is None):
        raise ValueError("give exactly one of `problem` (a built-in problem) and `objective`")
    if problem is not None:
        if problem not in available_problems():
            return _objective_problem(problem, config)  # a resumed objective comparison
        prob = get_problem(problem)
        return prob, prob.objective
    assert target is not None
    return _objective_problem(target, config)


def _objective_problem(target: str, config: ServerConfig) -> tuple[Problem, Objective]:
    from hpo.benchmarks import Problem, available_problems
    from hpo.objective import Objective

    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"unknown problem {target!r}: give a built-in problem "
            f"({', '.join(sorted(available_problems())[:8])}, ...) or an objective as "
            "module:function"
        )
    if not config.objective_allowed(target):
        raise ObjectiveNotAllowedError(
            f"this server runs only built-in problems and objectives matching its "
            f"--allow-objective patterns; {target!r} is not allowed"
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import objective {target!r}: {exc}") from None
    if not isinstance(obj, Objective) or obj.space is None:
        raise ValueError(
            f"objective {target!r} must be an @hpo.objective with a space (comparisons need "
            "the space up front)"
        )
    problem = Problem(
        name=target,
        space=obj.space,
        direction=obj.direction or "minimize",
        function=obj.func,
        budget=obj.budget,
        trainer=obj.func if obj.budget is not None else None,
    )
    return problem, obj


class JobManager:
    """Comparison jobs of one server process (thread-safe)."""

    def __init__(self, storage: Storage, pool: DriverPool, config: ServerConfig) -> None:
        self.storage = storage
        self.pool = pool
        self.config = config
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def status(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(name)
        return None if job is None else job.to_json()

    def claim(self, record: ComparisonRecord) -> None:
        """Make this server the owner of the comparison's studies."""
        for member in record.members:
            study = self.storage.get_study_by_id(member.study_id)
            if study.owner is None:
                self.storage.set_study_owner(member.study_id, self.config.owner)

    def start(self, name: str, problem: tuple[Problem, Objective]) -> None:
        """Run the comparison ``name`` in the background (once: a running job stays)."""
        with self._lock:
            job = self._jobs.get(name)
            if job is not None and job.state == "running":
                return
            job = Job(name)
            job.thread = threading.Thread(
                target=self._run, args=(job, problem), name=f"hpo-job-{name}", daemon=True
            )
            self._jobs[name] = job
        job.thread.start()

    def stop_all(self, timeout: float = 10.0) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout)

    def forget(self, name: str) -> None:
        with self._lock:
            job = self._jobs.pop(name, None)
        if job is not None:
            job.stop.set()

    def resume(self) -> list[str]:
        """Start every unfinished comparison whose studies this server owns."""
        from hpo.comparison_result import FINISHED

        started = []
        for record in self.storage.list_comparisons():
            if not record.members:
                continue
            owners = {
                s.owner for s in self.storage.study_summaries(m.study_id for m in record.members)
            }
            if owners != {self.config.owner}:
                continue
            expected = len(record.spec.get("searchers", [])) * len(record.spec.get("seeds", []))
            unfinished = len(record.members) < expected or any(
                self.storage.count_trials(m.study_id, FINISHED) < record.n_trials
                for m in record.members
            )
            if not unfinished:
                continue
            try:
                problem = problem_for(None, record.problem, self.config)
            except Exception as exc:
                log.warning("cannot resume comparison %r: %s", record.name, exc)
                continue
            self.start(record.name, problem)
            started.append(record.name)
        return started

    # --- the job ------------------------------------------------------------------------
    def _executor(self) -> Executor | str:
        cfg = self.config
        if cfg.job_executor == "ray":
            import hpo

            ray_executor = getattr(hpo, "RayExecutor", None)
            if ray_executor is None:
                raise RuntimeError(
                    "job_executor='ray' needs hpo's Ray executor (pip install 'hpo[ray]')"
                )
            return ray_executor(address=cfg.ray_address)
        if cfg.job_executor == "process":
            from hpo.executors.process import ProcessExecutor

            return ProcessExecutor(cfg.job_workers)
        if cfg.job_executor == "thread":
            from hpo.executors.local import ThreadExecutor

            return ThreadExecutor(cfg.job_workers)
        return "serial"

    def _run(self, job: Job, target: tuple[Problem, Objective]) -> None:
        from hpo.compare import _Entry, _member_study
        from hpo.comparison_result import FINISHED
        from hpo.study import Study

        problem, objective = target

        def stop_if_asked(study: Any, _trial: Any) -> None:
            if job.stop.is_set():
                study.stop()

        try:
            record = self.storage.get_comparison(job.name)
            members = {(m.label, m.seed): m for m in record.members}
            for item in record.spec.get("searchers", []):
                entry = _Entry(
                    str(item["label"]), str(item["searcher"]), dict(item.get("kwargs") or {})
                )
                for seed in record.spec.get("seeds", []):
                    if job.stop.is_set():
                        job.state = "stopped"
                        return
                    member = members.get((entry.label, seed))
                    if member is None:  # an interrupted plan: create the missing study
                        _member_study(self.storage, record, problem, entry, seed, linked=False)
                        record = self.storage.get_comparison(job.name)
                        self.claim(record)
                        member = {(m.label, m.seed): m for m in record.members}[(entry.label, seed)]
                    left = record.n_trials - self.storage.count_trials(member.study_id, FINISHED)
                    if left <= 0:
                        continue
                    driver = self.pool.driver(member.study_id)
                    study = Study(self.storage, driver.record, objective, driver=driver)
                    study.optimize(
                        n_trials=left,
                        executor=self._executor(),
                        callbacks=[stop_if_asked],
                        progress=False,
                    )
            job.state = "stopped" if job.stop.is_set() else "done"
        except Exception as exc:
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("comparison job %r failed:\n%s", job.name, traceback.format_exc())
