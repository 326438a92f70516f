"""The stand-in driver of a study that an hpo server drives.

A study opened on an :class:`~hpo.storage.http.HTTPStorage` holds a :class:`RemoteDriver`
(:func:`remote_driver`, called by :func:`hpo.study.open_driver`): every
:class:`~hpo.driver.Driver` call becomes one request to the server, which runs the
study's real driver (its searcher, stopper and storage). Executors cannot tell the
difference, so the serial, thread and process executors work unchanged; a trial's
channel requests (suggest, report, user attributes) travel as the JSON of
:func:`hpo.channel.request_to_json`, checkpoints as bytes to the server's artifact
endpoint.

**One round trip per trial.** :meth:`RemoteDriver.finish_and_start` tells a trial and
opens the next in one request (``POST .../tell-and-ask``): a worker loop that knows it
will run another trial sends that instead of a tell and an ask. The next trial is opened
only when the caller asks for it, so a run that stops leaves no trial behind.

**Worker ids.** Every ask carries a worker id, so that an ask the client retries after a
lost answer gets the same trial back instead of opening a second one. By default each
``start_trial`` call draws a fresh id (retries of that call reuse it). ``worker_id=``
(``hpo worker --worker-id``) makes the id stable per executor thread: a worker restarted
after preemption gets its own RUNNING trial back and finishes it.

>>> study = hpo.load_study("svm", "http://127.0.0.1:8000")      # doctest: +SKIP
>>> type(study.driver).__name__                                  # doctest: +SKIP
'RemoteDriver'
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from hpo.channel import Report as ReportRequest
from hpo.channel import Request, Suggest, request_to_json
from hpo.channel import SetUserAttr as UserAttrRequest
from hpo.driver import DEFAULT_HEARTBEAT_INTERVAL, Driver
from hpo.objective import TrialOutcome
from hpo.space import Param
from hpo.storage import Storage, StudyRecord
from hpo.trial import Decision, FrozenTrial, TrialSpec

__all__ = ["RemoteDriver", "remote_driver"]


def _check_finished(outcome: TrialOutcome) -> None:
    if not outcome.state.is_finished:
        raise ValueError(f"a trial finishes COMPLETE, PRUNED or FAILED, got {outcome.state.value}")


def remote_driver(storage: Storage, record: StudyRecord) -> Driver:
    """The driver of ``record`` for a storage whose server drives its studies."""
    from hpo.storage.http import HTTPStorage

    if not isinstance(storage, HTTPStorage):
        raise TypeError(
            f"{storage!r} does not drive its studies but is not an hpo server's storage; "
            "remote drivers talk to hpo servers only"
        )
    return RemoteDriver(storage, record)


class RemoteDriver(Driver):
    """Forwards every driver call for one study to the hpo server that drives it.

    ``worker_id`` (optional) is this worker's stable name; each executor thread asks
    under ``<worker_id>/<thread name>``. Thread-safe.
    """

    def __init__(self, storage: Any, record: StudyRecord, *, worker_id: str | None = None) -> None:
        from hpo.storage.base import check_worker_id

        self.storage = storage
        self._client = storage.client
        self._record = record
        self._path = f"/api/v1/studies/{int(record.study_id)}"
        self.worker_id = check_worker_id(worker_id)
        self._lock = threading.Lock()
        try:
            interval = float(storage.info.get("heartbeat_interval", DEFAULT_HEARTBEAT_INTERVAL))
        except (TypeError, ValueError):
            interval = DEFAULT_HEARTBEAT_INTERVAL
        self.heartbeat_interval = interval

    def __repr__(self) -> str:
        return f"RemoteDriver(study={self._record.name!r}, server={self.storage.url!r})"

    @property
    def record(self) -> StudyRecord:
        return self._record

    @property
    def checkpoint_root(self) -> str:
        """The server: checkpoints go to its artifact endpoint, reachable from anywhere."""
        return str(self.storage.url)

    def refresh(self) -> StudyRecord:
        """Read the study's record again (a define-by-run space grows in the server)."""
        record: StudyRecord = self.storage.get_study_by_id(self._record.study_id)
        with self._lock:
            self._record = record
        return record

    # --- trials -----------------------------------------------------------------------
    def _worker_for_call(self, worker_id: str | None) -> tuple[str, bool]:
        """The worker id of one ask, and whether it is new (never asked before)."""
        if worker_id is not None:
            return worker_id, False
        if self.worker_id is not None:
            name = threading.current_thread().name
            return f"{self.worker_id}/{name}"[:128], False
        return uuid.uuid4().hex, True  # one per call: a retried ask returns the same trial

    def start_trial(self, *, heartbeat: bool = True, worker_id: str | None = None) -> TrialSpec:
        return self.start_trials(1, heartbeat=heartbeat, worker_id=worker_id)[0]

    def start_trials(
        self, n: int = 1, *, heartbeat: bool = True, worker_id: str | None = None
    ) -> list[TrialSpec]:
        """Open up to ``n`` trials in one request (see :meth:`Driver.start_trial`)."""
        from hpo.exceptions import SearchSpaceExhausted

        wid, new = self._worker_for_call(worker_id)
        body = {"n": int(n), "heartbeat": bool(heartbeat), "worker_id": wid}
        # a fresh id skips the server's look-up of the worker's trials, except on retries
        # (an earlier attempt may have opened one)
        data = self._client.request(
            "POST", f"{self._path}/ask", json={**body, "new_worker": new}, retry_json=body
        )
        specs = self._specs(data)
        if not specs:
            raise SearchSpaceExhausted(f"study {self._record.name!r} has nothing left to try")
        return specs

    def _specs(self, data: Mapping[str, Any]) -> list[TrialSpec]:
        from hpo.codecs import trial_spec_from_json

        root = self.checkpoint_root
        specs = [trial_spec_from_json(s) for s in data["trials"]]
        return [
            TrialSpec(s.study_name, s.number, s.params, s.budget, s.parent, root) for s in specs
        ]

    def finish_trial(self, number: int, outcome: TrialOutcome) -> FrozenTrial:
        from hpo.codecs import trial_from_json, trial_outcome_to_json

        _check_finished(outcome)
        data = self._client.request(
            "POST", f"{self._path}/trials/{int(number)}/tell", json=trial_outcome_to_json(outcome)
        )
        return trial_from_json(data)

    def finish_and_start(
        self,
        number: int,
        outcome: TrialOutcome,
        *,
        heartbeat: bool = True,
        worker_id: str | None = None,
    ) -> tuple[FrozenTrial, TrialSpec | None]:
        """Tell trial ``number`` and open the next trial in one request (``POST
        .../tell-and-ask``); see :meth:`Driver.finish_and_start`. Retry-safe as the two
        calls are: the tell is idempotent, and the ask carries a worker id."""
        from hpo.codecs import trial_from_json, trial_outcome_to_json
        from hpo.exceptions import error_from_code

        _check_finished(outcome)
        wid, new = self._worker_for_call(worker_id)
        tell = trial_outcome_to_json(outcome)
        ask = {"n": 1, "heartbeat": bool(heartbeat), "worker_id": wid}
        data = self._client.request(
            "POST",
            f"{self._path}/trials/{int(number)}/tell-and-ask",
            json={"tell": tell, "ask": {**ask, "new_worker": new}},
            retry_json={"tell": tell, "ask": ask},
        )
        frozen = trial_from_json(data["trial"])
        failure = data.get("ask_error")
        if failure:
            raise error_from_code(str(failure["code"]), str(failure.get("message", "")))
        specs = self._specs(data)
        return frozen, (specs[0] if specs else None)

    def enqueue(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None
    ) -> FrozenTrial:
        return self.storage.enqueue_trial(
            self._record.study_id, dict(params), user_attrs=dict(user_attrs or {})
        )

    def heartbeat(self, numbers: Iterable[int]) -> list[int]:
        wanted = sorted({int(n) for n in numbers})
        if not wanted:
            return []
        return self.storage.heartbeat_trials(self._record.study_id, wanted)

    def sync(self) -> None:
        """Nothing to do: the server keeps the searcher current."""

    # --- the channel ------------------------------------------------------------------
    def call(self, request: Request) -> Any:
        """Send one channel request to the server and return its answer's value."""
        data = self._client.request("POST", f"{self._path}/channel", json=request_to_json(request))
        return data.get("value") if isinstance(data, Mapping) else None

    def suggest(self, number: int, name: str, param: Param) -> Any:
        value = self.call(Suggest(number, name, param))
        if self._record.define_by_run and name not in self._record.space:
            self.refresh()
        return value

    def report(self, number: int, step: int, value: float) -> Decision:
        return Decision(self.call(ReportRequest(number, step, value)))

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        self.call(UserAttrRequest(number, key, value))

    def save_checkpoint(self, number: int, data: bytes) -> None:
        from hpo.artifacts import get_artifact_store

        get_artifact_store(self.checkpoint_root).save_bytes(self._record.name, number, data)

    def load_checkpoint(self, number: int, parent: int | None = None) -> bytes | None:
        from hpo.artifacts import get_artifact_store

        store = get_artifact_store(self.checkpoint_root)
        for n in (number, parent):
            if n is None:
                continue
            try:
                return store.load_bytes(self._record.name, n)
            except FileNotFoundError:
                continue
        return None
