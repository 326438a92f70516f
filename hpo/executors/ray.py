"""Ray executor: trials as Ray tasks on a laptop or a cluster, driven from one loop.

>>> study.optimize(n_trials=200, executor=hpo.RayExecutor(resources={"gpu": 0.5}))  # doctest: +SKIP

**Where things run.** The driver (this process) keeps the study's driver and so its
searcher, stopper and storage; each trial is one Ray task with the requested resources
(``{"cpu": 1, "gpu": 0.5, "memory": 4e9, "my_resource": 1}``). One loop over ``ray.wait``
submits trials while the cluster has room, feeds results to the searcher as they arrive,
answers the running trials' calls and enforces time limits: no thread per running trial,
so hundreds of concurrent trials cost the driver nothing but their results.

**Calls from running trials** (``suggest_*``, ``report`` / ``should_stop``, user
attributes, checkpoints) are the channel protocol's requests (:mod:`hpo.channel`). A
trial sends each to a small async actor, the run's *mailbox*, and waits for the reply;
the driver's loop long-polls the mailbox, answers the pending requests from the study's
driver and posts the replies with its next poll. So the decisions of ASHA's rungs, BOHB's
brackets and one PBT population span the whole cluster, and in-memory studies work.

**Checkpoints.** Trials write them straight to the study's artifact store when every node
can reach it (``s3://``, the server's artifact endpoint, a ``file://`` directory that
every node mounts, or a plain directory when all nodes run on the driver's machine);
otherwise they travel through the mailbox to the driver's store, so PBT's exploits and
retries load a checkpoint written on any node.

**GPUs.** Ray assigns GPU ids and sets ``CUDA_VISIBLE_DEVICES``; the objective reads them
as ``trial.devices``. A fractional GPU (``{"gpu": 0.25}``) packs four trials onto one
device. Ray starts a fresh worker process for every GPU trial, so GPU memory is always
released between trials.

**Failures.** A trial whose worker process or node dies (killed, out of memory, node
removed) runs again, as the same trial number, resuming from its last checkpoint, up to
``max_retries`` times; then it is FAILED with the reason. A trial running longer than
``trial_timeout`` seconds is cancelled (its worker killed) and FAILED. Ctrl-C cancels
every running task and marks its trial FAILED before the interrupt propagates. If the
driver itself dies, Ray ends its tasks, and the study's next run fails the orphaned
RUNNING trials once their heartbeat is older than the grace period.

**Objectives** travel with cloudpickle: ones defined in ``__main__`` or a notebook, and
ones from modules that no installed distribution provides (a script next to yours, a test
file), go by value; ones from installed packages are imported on the workers, which must
have them (``runtime_env={"pip": [...]}`` or the worker image).

**Concurrency.** At most ``max_concurrent`` trials run at once; by default as many as the
cluster's alive nodes fit with the requested resources (recounted as nodes come and
go). An autoscaling cluster grows only for work that waits, so give it
``max_concurrent`` to scale toward.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import logging
import math
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hpo.artifacts import get_artifact_store
from hpo.channel import Reply, Request, RequestChannel, portable, reply
from hpo.executors.base import Executor, OptimizeRun, interrupt_reason
from hpo.objective import Objective, TrialOutcome, evaluate
from hpo.trial import Trial, TrialSpec, TrialState

try:
    import ray
    from ray import cloudpickle
    from ray import exceptions as ray_errors
except ImportError as exc:  # pragma: no cover - ray is in hpo[ray]
    raise ImportError(
        "the Ray executor needs Ray; install it with: pip install 'hpo[ray]'"
    ) from exc

__all__ = ["RayExecutor"]

log = logging.getLogger(__name__)

#: seconds the mailbox holds a poll open when no trial has asked anything
_POLL_WAIT = 5.0
#: longest sleep of the loop (time limits and the cluster's size are checked this often)
_TICK = 1.0
#: seconds between recounts of how many trials the cluster fits
_RECOUNT = 10.0
#: a worker process that died, a node that died or was removed, memory exhausted
_LOST = (
    ray_errors.WorkerCrashedError,
    ray_errors.NodeDiedError,
    ray_errors.LocalRayletDiedError,
    ray_errors.OutOfMemoryError,
    ray_errors.ObjectLostError,
)
_RESOURCE_TYPOS = {
    "cpus": "cpu",
    "num_cpus": "cpu",
    "gpus": "gpu",
    "num_gpus": "gpu",
}


# --- resources -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Resources:
    """A trial's resource request in Ray's terms."""

    cpu: float
    gpu: float
    memory: float | None
    custom: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, resources: Mapping[str, float] | None) -> _Resources:
        given = dict(resources or {})
        for key, value in given.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"resource names are non-empty strings, got {key!r}")
            hint = _RESOURCE_TYPOS.get(key.lower()) or (
                key.lower() if key in ("CPU", "GPU", "Cpu", "Gpu") else None
            )
            if hint is not None:
                raise ValueError(f"unknown resource {key!r}: did you mean {hint!r}?")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"resource {key!r} must be a non-negative number, got {value!r}")
        gpu = float(given.pop("gpu", 0))
        if gpu > 1 and not gpu.is_integer():
            raise ValueError(
                f"a trial takes a fraction of one GPU or whole GPUs, got gpu={gpu:g}; "
                "use e.g. 0.5 or 2"
            )
        cpu = float(given.pop("cpu", 1))
        memory = given.pop("memory", None)
        custom = tuple(sorted((k, float(v)) for k, v in given.items()))
        return cls(cpu, gpu, None if memory is None else float(memory), custom)

    def demand(self) -> dict[str, float]:
        """What one trial takes, in the names ``ray.nodes()`` reports."""
        out = {"CPU": self.cpu, "GPU": self.gpu, **dict(self.custom)}
        if self.memory:
            out["memory"] = self.memory
        return {k: v for k, v in out.items() if v > 0}

    def task_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"num_cpus": self.cpu, "num_gpus": self.gpu}
        if self.memory:
            opts["memory"] = self.memory
        if self.custom:
            opts["resources"] = dict(self.custom)
        return opts

    def __str__(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in self.demand().items()) or "nothing"


def _fits(node: Mapping[str, float], demand: Mapping[str, float]) -> int:
    """How many trials asking ``demand`` a node with resources ``node`` holds at once."""
    if not demand:
        return max(1, int(node.get("CPU", 1)))
    return min(math.floor(node.get(k, 0.0) / v + 1e-9) for k, v in demand.items())


# --- shipping the objective ----------------------------------------------------------------
@functools.cache
def _installed_top_levels() -> frozenset[str]:
    return frozenset(importlib.metadata.packages_distributions())


def _travels_by_value(module: str | None) -> bool:
    """Whether code from ``module`` must be sent by value: ``__main__`` (scripts,
    notebooks) and modules that no installed distribution provides (workers could not
    import them); not the standard library or installed packages."""
    if not module or module == "builtins":
        return False
    if module == "__main__":
        return True
    top = module.partition(".")[0]
    return top not in sys.stdlib_module_names and top not in _installed_top_levels()


@dataclass(frozen=True)
class _ObjectiveParts:
    """An objective sent by value: rebuilt on the worker from its parts."""

    func: Any
    space: Any
    direction: str | None
    metric: str | None
    budget: Any

    def build(self) -> Objective:
        return Objective(
            self.func,
            space=self.space,
            direction=self.direction,
            metric=self.metric,
            budget=self.budget,
        )


def _ship(objective: Objective, catch: tuple[type[BaseException], ...]) -> bytes:
    """The objective and ``catch`` as bytes any Ray worker can load."""
    module = getattr(objective.func, "__module__", None)
    loose = {
        m
        for m in {module, *(c.__module__ for c in catch)}
        if m and m != "__main__" and _travels_by_value(m) and m in sys.modules
    }
    thing: Any = objective
    if _travels_by_value(module):
        # Objective pickles a module-level function by reference to its module, which a
        # worker may not have (its __main__ is Ray's): send the parts instead.
        thing = _ObjectiveParts(
            objective.func, objective.space, objective.direction, objective.metric,
            objective.budget,
        )  # fmt: skip
    with _SHIP_LOCK:
        loose -= set(cloudpickle.list_registry_pickle_by_value())  # registered already
        for name in loose:
            cloudpickle.register_pickle_by_value(sys.modules[name])
        try:
            data: bytes = cloudpickle.dumps((thing, catch))
        except Exception as exc:
            raise TypeError(
                f"the Ray executor sends the objective to Ray workers, but {objective.name!r} "
                f"cannot be serialized ({type(exc).__name__}: {exc}); move unpicklable state "
                "(open files, locks, clients) inside the function"
            ) from None
        finally:
            for name in loose:
                with contextlib.suppress(Exception):
                    cloudpickle.unregister_pickle_by_value(sys.modules[name])
    return data


_SHIP_LOCK = threading.Lock()  # cloudpickle's by-value registry is process-wide


#: objectives a worker process already loaded, by payload key (a worker runs many trials)
_LOADED: OrderedDict[str, tuple[Objective, tuple[type[BaseException], ...]]] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def _load(key: str, payload: Any) -> tuple[Objective, tuple[type[BaseException], ...]]:
    with _LOADED_LOCK:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
    thing, catch = cloudpickle.loads(ray.get(payload))
    objective = thing.build() if isinstance(thing, _ObjectiveParts) else thing
    with _LOADED_LOCK:
        _LOADED[key] = (objective, catch)
        while len(_LOADED) > 8:
            _LOADED.popitem(last=False)
    return objective, catch


# --- the worker side -----------------------------------------------------------------------
def _run_trial(
    key: str, payload: list[Any], spec: TrialSpec, mailbox: Any, run_id: str, attempt: int,
    notify: bool,
) -> TrialOutcome:  # fmt: skip
    """Evaluate one trial on a Ray worker; its calls go to the run's mailbox."""
    if notify:  # the driver starts the trial's clock when it really starts
        mailbox.notify.remote(run_id, ("started", spec.number, attempt))
    try:
        objective, catch = _load(key, payload[0])
    except Exception as exc:
        error = (
            f"the objective could not be loaded on the Ray worker ({type(exc).__name__}: "
            f"{exc}); install its module on the workers, or ship it with "
            "RayExecutor(runtime_env={'working_dir': ...})"
        )
        return TrialOutcome(TrialState.FAILED, error=error, raised=RuntimeError(error))

    def send(request: Request) -> Reply:
        answer: Reply = ray.get(mailbox.call.remote(run_id, request))
        return answer

    devices = [str(d) for d in ray.get_gpu_ids()]
    outcome = evaluate(objective, Trial(spec, RequestChannel(send), devices=devices), catch)
    if outcome.raised is not None:
        outcome = replace(outcome, raised=portable(outcome.raised))
    return outcome


class _Inbox:
    """One run's pending requests and the trials waiting for their replies."""

    def __init__(self) -> None:
        self.pending: list[tuple[int | None, Any]] = []
        self.waiting: dict[int, asyncio.Future[Reply]] = {}
        self.wakeup = asyncio.Event()
        self.tickets = 0


class _Mailbox:
    """Where remote trials leave their requests for the driver (one inbox per run).

    ``call`` (from a trial) waits for the driver's reply; ``poll`` (from the driver)
    delivers replies and returns the requests pending, waiting up to ``wait`` seconds for
    one; ``notify`` leaves a message that needs no reply."""

    def __init__(self) -> None:
        self._inboxes: dict[str, _Inbox] = {}

    async def open(self, run_id: str) -> None:
        self._inboxes[run_id] = _Inbox()

    async def close(self, run_id: str) -> None:
        inbox = self._inboxes.pop(run_id, None)
        if inbox is not None:
            for fut in inbox.waiting.values():
                if not fut.done():
                    fut.set_result(Reply(error=RuntimeError("the optimize run has ended")))

    async def call(self, run_id: str, request: Any) -> Reply:
        inbox = self._inboxes.get(run_id)
        if inbox is None:
            return Reply(error=RuntimeError("the optimize run this trial belongs to has ended"))
        ticket = inbox.tickets
        inbox.tickets += 1
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        inbox.waiting[ticket] = fut
        inbox.pending.append((ticket, request))
        inbox.wakeup.set()
        return await fut

    async def notify(self, run_id: str, message: Any) -> None:
        inbox = self._inboxes.get(run_id)
        if inbox is not None:
            inbox.pending.append((None, message))
            inbox.wakeup.set()

    async def poll(
        self, run_id: str, replies: list[tuple[int, Reply]], wait: float
    ) -> list[tuple[int | None, Any]]:
        inbox = self._inboxes.get(run_id)
        if inbox is None:
            return []
        for ticket, answer in replies:
            fut = inbox.waiting.pop(ticket, None)
            if fut is not None and not fut.done():
                fut.set_result(answer)
        if not inbox.pending:
            inbox.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inbox.wakeup.wait(), wait)
        batch, inbox.pending = inbox.pending, []
        return batch

    async def ping(self) -> bool:
        return True


_MAILBOX = ray.remote(_Mailbox)
_MAILBOXES: dict[str, Any] = {}
_MAILBOXES_LOCK = threading.Lock()


def _mailbox() -> Any:
    """This Ray job's mailbox actor, started once (on this node) and shared by runs."""
    job = ray.get_runtime_context().get_job_id()
    with _MAILBOXES_LOCK:
        box = _MAILBOXES.get(job)
        if box is not None:
            try:
                ray.get(box.ping.remote(), timeout=30)
                return box
            except ray_errors.RayError:
                _MAILBOXES.pop(job, None)
        options: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = ray.get_runtime_context().get_node_id()
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        box = _MAILBOX.options(
            num_cpus=0, max_concurrency=100_000, max_restarts=0, **options
        ).remote()
        _MAILBOXES[job] = box
        return box


# --- the driver side -----------------------------------------------------------------------
class RayExecutor(Executor):
    """Runs each trial as a Ray task; see the module's documentation.

    ``address``: ``None`` (``$RAY_ADDRESS``, a cluster started on this machine with
    ``ray start``, else a new local instance), ``"auto"``, ``"ray://head:10001"`` or
    ``"host:6379"``; if Ray is already initialized in this process, that connection is
    used. ``resources``: per trial (``cpu`` default 1, ``gpu`` whole or fractional,
    ``memory`` in bytes, custom resources by name). ``max_concurrent``: trials at once
    (default: as many as the cluster fits). ``max_retries``: runs again of a trial whose
    worker or node died. ``trial_timeout``: seconds a trial may run. ``runtime_env``:
    Ray's runtime environment for the trials (``{"pip": [...], "working_dir": ...}``).

    >>> ex = RayExecutor(resources={"cpu": 2, "gpu": 0.5}, max_retries=2, trial_timeout=3600)
    >>> study.optimize(n_trials=64, executor=ex)                       # doctest: +SKIP
    """

    remote = True

    def __init__(
        self,
        address: str | None = None,
        resources: Mapping[str, float] | None = None,
        max_concurrent: int | None = None,
        max_retries: int = 3,
        trial_timeout: float | None = None,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address):
            raise ValueError(f"address must be a non-empty string or None, got {address!r}")
        if max_concurrent is not None and (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(
                f"max_concurrent must be a positive int or None, got {max_concurrent!r}"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative int, got {max_retries!r}")
        if trial_timeout is not None and (
            isinstance(trial_timeout, bool)
            or not isinstance(trial_timeout, int | float)
            or not trial_timeout > 0
        ):
            raise ValueError(
                f"trial_timeout must be a positive number of seconds, got {trial_timeout!r}"
            )
        if runtime_env is not None and not isinstance(runtime_env, Mapping):
            raise TypeError(f"runtime_env must be a dict, got {runtime_env!r}")
        self.address = address
        self.resources = dict(resources) if resources is not None else {"cpu": 1, "gpu": 0}
        self.max_concurrent = max_concurrent
        self.max_retries = max_retries
        self.trial_timeout = None if trial_timeout is None else float(trial_timeout)
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None
        self._request = _Resources.parse(self.resources)

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, resources={self.resources!r}, "
            f"max_concurrent={self.max_concurrent!r}, max_retries={self.max_retries}, "
            f"trial_timeout={self.trial_timeout!r})"
        )

    def _connect(self) -> bool:
        """Initialize Ray unless it is; returns whether the job carries ``runtime_env``."""
        if ray.is_initialized():
            if self.address is not None:
                log.info("Ray is already initialized; RayExecutor uses that connection")
            return False
        ray.init(address=self.address, runtime_env=self.runtime_env)
        return True

    def run(self, run: OptimizeRun) -> None:
        with_env = self._connect()
        payload = ray.put(_ship(run.objective, run.catch))
        options = {**self._request.task_options(), "max_retries": 0, "retry_exceptions": False}
        if self._request.gpu > 0:
            options["max_calls"] = 1
        if self.runtime_env is not None and not with_env:
            options["runtime_env"] = self.runtime_env
        loop = _Loop(self, run, payload, options)
        loop.drive()


@dataclass
class _Task:
    """A trial in flight: its spec, the Ray task running it, and which attempt this is."""

    spec: TrialSpec
    ref: Any
    attempt: int
    deadline: float | None = None


class _Loop:
    """One optimize run on Ray: the ``ray.wait`` loop and its bookkeeping."""

    def __init__(
        self, executor: RayExecutor, run: OptimizeRun, payload: Any, options: dict[str, Any]
    ) -> None:
        self.ex = executor
        self.run = run
        self.driver = run.driver
        self.key = uuid.uuid4().hex
        self.payload = payload
        # a remote function per run: Ray's `max_calls=1` for GPU tasks (a fresh worker
        # process per trial, so GPU memory is released) is honoured only at definition
        self.remote = ray.remote(**options)(_run_trial)
        self.tasks: dict[Any, _Task] = {}  # by ObjectRef
        self.by_number: dict[int, _Task] = {}
        self.cancelled: dict[int, str] = {}  # trial number -> why we cancelled its task
        self.limit = 1
        self.direct = True
        self.counted_at = -math.inf
        self.mailbox: Any = None
        self.poll: Any = None

    # --- capacity and checkpoint routing ------------------------------------------------
    def recount(self, *, first: bool = False) -> None:
        """How many trials may run at once, and whether workers reach the checkpoints.

        A cluster that fits no trial at the start is an error; one that shrinks to none
        later (nodes lost) keeps the last count, and Ray queues the retried trials until
        a node fits them again."""
        self.counted_at = time.monotonic()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        demand = self.ex._request.demand()
        fits = sum(_fits(n.get("Resources", {}), demand) for n in nodes)
        if self.ex.max_concurrent is not None:
            self.limit = self.ex.max_concurrent
        elif fits < 1 and not first:
            pass
        elif fits < 1:
            sizes = "; ".join(_describe(n.get("Resources", {})) for n in nodes)
            raise ValueError(
                f"no node of the Ray cluster fits a trial asking {self.ex._request} "
                f"(nodes: {sizes or 'none'}); ask for less, add nodes, or pass "
                "max_concurrent to wait for an autoscaler"
            )
        else:
            self.limit = fits
        root = self.driver.checkpoint_root
        if root is None:
            self.direct = True  # the spec says: through the channel
        else:
            store = get_artifact_store(root)
            self.direct = store.shared or _nodes_share_files(nodes)
            if not self.direct:
                log.info(
                    "checkpoints of %s stay on the driver's machine; trials send them "
                    "through the driver (use a file:// directory every node mounts, or "
                    "s3://, to let trials write them directly)",
                    root,
                )

    # --- the loop ----------------------------------------------------------------------
    def drive(self) -> None:
        self.mailbox = _mailbox()
        ray.get(self.mailbox.open.remote(self.key))
        try:
            self.recount(first=True)
            self.fill()
            while self.tasks:
                self.step()
                self.fill()
        except KeyboardInterrupt as exc:
            reason = interrupt_reason(exc)
            self.cancel_all(reason)
            self.run.abort(reason)
            raise
        except BaseException as exc:
            reason = f"optimization stopped by {type(exc).__name__}: {exc}"
            self.cancel_all(reason)
            self.run.abort(reason)
            raise
        finally:
            with contextlib.suppress(Exception):
                self.mailbox.close.remote(self.key)

    def fill(self) -> None:
        if time.monotonic() - self.counted_at > _RECOUNT:
            self.recount()
        while len(self.tasks) < self.limit:
            spec = self.run.start_trial()
            if spec is None:
                return
            self.submit(spec, 0)

    def submit(self, spec: TrialSpec, attempt: int) -> None:
        sent = spec if self.direct else replace(spec, checkpoint_root=None)
        notify = self.ex.trial_timeout is not None
        ref = self.remote.remote(
            self.key, [self.payload], sent, self.mailbox, self.key, attempt, notify
        )
        task = _Task(spec, ref, attempt)
        self.tasks[ref] = task
        self.by_number[spec.number] = task

    def step(self) -> None:
        if self.poll is None:
            self.poll = self.mailbox.poll.remote(self.key, [], _POLL_WAIT)
        poll = self.poll
        waitables = [*self.tasks, poll]
        ready, _ = ray.wait(waitables, num_returns=1, timeout=self.timeout())
        if ready:
            ready, _ = ray.wait(waitables, num_returns=len(waitables), timeout=0)
        for ref in ready:
            if ref == poll:
                self.answer(ray.get(ref))
            else:
                self.collect(self.tasks.pop(ref))
        self.enforce_time_limits()

    def timeout(self) -> float:
        deadlines = [t.deadline for t in self.tasks.values() if t.deadline is not None]
        if not deadlines:
            return _TICK
        return max(0.0, min(_TICK, min(deadlines) - time.monotonic()))

    def answer(self, batch: list[tuple[int | None, Any]]) -> None:
        """Answer the trials' requests from the driver; the replies go with the next poll,
        sent at once."""
        replies: list[tuple[int, Reply]] = []
        for ticket, message in batch:
            if ticket is not None:
                replies.append((ticket, reply(self.driver, message)))
            elif message[0] == "started":
                task = self.by_number.get(message[1])
                if task is not None and task.attempt == message[2] and task.deadline is None:
                    assert self.ex.trial_timeout is not None
                    task.deadline = time.monotonic() + self.ex.trial_timeout
        self.poll = self.mailbox.poll.remote(self.key, replies, _POLL_WAIT)

    def collect(self, task: _Task) -> None:
        """The result of a finished Ray task: record it, or run the trial again."""
        number = task.spec.number
        self.by_number.pop(number, None)
        try:
            outcome: TrialOutcome = ray.get(task.ref)
        except _LOST as exc:
            if number in self.cancelled:
                outcome = TrialOutcome(TrialState.FAILED, error=self.cancelled.pop(number))
            elif task.attempt < self.ex.max_retries:
                log.warning(
                    "trial %d: its Ray worker was lost (%s); running it again (attempt %d of "
                    "%d)", number, _first_line(exc), task.attempt + 2, self.ex.max_retries + 1,
                )  # fmt: skip
                self.counted_at = -math.inf  # a node may have gone: recount
                self.submit(task.spec, task.attempt + 1)
                return
            else:
                outcome = TrialOutcome(
                    TrialState.FAILED,
                    error=f"trial {number} was lost {task.attempt + 1} times (max_retries="
                    f"{self.ex.max_retries}); last: {type(exc).__name__}: {_first_line(exc)}",
                )
        except ray_errors.TaskCancelledError:
            why = self.cancelled.pop(number, f"the Ray task of trial {number} was cancelled")
            outcome = TrialOutcome(TrialState.FAILED, error=why)
        except ray_errors.RayError as exc:
            # the runtime environment failed, the task cannot be scheduled, ...: every
            # trial would fail the same way, so the run stops with this error
            error = f"trial {number} could not run on Ray: {type(exc).__name__}: {exc}"
            outcome = TrialOutcome(TrialState.FAILED, error=error, raised=portable(exc))
        else:
            self.cancelled.pop(number, None)
        self.run.finish(task.spec, outcome)

    def enforce_time_limits(self) -> None:
        if self.ex.trial_timeout is None:
            return
        now = time.monotonic()
        for task in list(self.tasks.values()):
            number = task.spec.number
            if task.deadline is not None and now > task.deadline and number not in self.cancelled:
                self.cancelled[number] = (
                    f"trial {number} exceeded the per-trial time limit of "
                    f"{self.ex.trial_timeout:g}s; its Ray task was cancelled"
                )
                with contextlib.suppress(Exception):
                    ray.cancel(task.ref, force=True)

    def cancel_all(self, reason: str) -> None:
        """Cancel every running task (their trials are failed by ``run.abort``)."""
        for task in self.tasks.values():
            self.cancelled[task.spec.number] = reason
            with contextlib.suppress(Exception):
                ray.cancel(task.ref, force=True)
        self.tasks.clear()
        self.by_number.clear()


def _nodes_share_files(nodes: list[dict[str, Any]]) -> bool:
    """Whether every alive node runs on the driver's machine (one filesystem), so a plain
    local directory is reachable by every trial. Not in Ray client mode (``ray://``)."""
    with contextlib.suppress(Exception):
        from ray.util.client import ray as client

        if client.is_connected():
            return False
    try:
        here = ray.util.get_node_ip_address()
    except Exception:
        return False
    return all(n.get("NodeManagerAddress") == here for n in nodes)


def _describe(resources: Mapping[str, float]) -> str:
    """A node's resources for a message: ``CPU=2, GPU=1, memory=16GB``."""
    shown = []
    for key, value in sorted(resources.items()):
        if key.startswith("node:") or key.startswith("accelerator_type:"):
            continue
        if key == "object_store_memory":
            continue
        shown.append(f"{key}={value / 1e9:.0f}GB" if key == "memory" else f"{key}={value:g}")
    return ", ".join(shown) or "nothing"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
