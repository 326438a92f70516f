"""The HTTP client of an hpo server: a :class:`~hpo.storage.base.Storage` whose studies the
server drives, and the server's artifact store.

>>> study = hpo.create_study(objective, storage="http://127.0.0.1:8000")   # doctest: +SKIP
>>> study.optimize(n_trials=50, executor="process", n_workers=8)          # doctest: +SKIP

The searcher stays in the server: :attr:`HTTPStorage.drives_studies` is false, so a study
opened on this storage holds the stand-in driver of :mod:`hpo.remote`, which forwards every
driver call (ask, tell, report, suggest, heartbeat) to the server. Reads (studies,
summaries, incremental trial reads, comparisons) are plain ``GET`` requests answered from
the server's storage, decoded with :mod:`hpo.codecs`.

**Retries.** Every request is retried on a connection error (refused, reset, timed out)
and on ``502``/``503``/``504`` answers, with exponential backoff (50 ms doubling to 2 s,
with jitter) for up to ``retry_timeout`` seconds (default 120, or ``$HPO_RETRY_TIMEOUT``),
so a server restart reaches a worker only as delay. The server makes that safe: an ask
carries a worker id (a repeated ask returns the worker's RUNNING trial), a repeated tell
with the same outcome answers with the stored trial, reports replace their step.

**Errors.** The server answers errors as ``{"code", "kind", "message"}``; the client
raises the exception registered under that code (:func:`hpo.exceptions.error_from_code`),
so ``StudyNotFoundError``, ``DuplicateStudyError``, ``TrialFinishedError``,
``SearchSpaceExhausted`` and ``SpaceError`` arrive as themselves.

**Connections.** Requests go over keep-alive HTTP/1.1 connections of :mod:`http.client`,
one per thread (and per process: a forked child opens its own), with ``TCP_NODELAY``; a
connection the server closed while idle is replaced before it is used. A request costs
the client about a fifth of the CPU it costs through ``httpx``, which a worker whose
objective is quick spends most of its time on. When the environment names a proxy for
the server (``$HTTP_PROXY``, ``$HTTPS_PROXY``, ``$ALL_PROXY``, unless ``$NO_PROXY``
exempts it), requests go through ``httpx``, which honours it.

**Auth.** The token is ``token=`` or ``$HPO_API_TOKEN``; it travels as
``Authorization: Bearer <token>`` and is never part of a URL or a message.

What the server's driver does itself is not offered here: creating or popping trials,
setting parameters, counters, owners and searcher states raise
:class:`RemoteStorageError` (use the study's ask / tell, which go through the driver).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from hpo.artifacts import DEFAULT_ROOT, DEFAULT_ROOT_ENV, ArtifactStore
from hpo.budget import Budget
from hpo.exceptions import (
    DuplicateStudyError,
    HPOError,
    StudyNotFoundError,
    error_from_code,
)
from hpo.space import Space
from hpo.storage.base import (
    ComparisonRecord,
    SearcherState,
    Storage,
    StudyRecord,
    StudySummary,
    TrialBatch,
)
from hpo.trial import FrozenTrial, TrialState

__all__ = [
    "API_PREFIX",
    "TOKEN_ENV",
    "AuthenticationError",
    "HTTPArtifactStore",
    "HTTPClient",
    "HTTPStorage",
    "ObjectiveNotAllowedError",
    "PayloadTooLargeError",
    "RemoteStorageError",
    "ServerUnavailableError",
]

API_PREFIX = "/api/v1"
TOKEN_ENV = "HPO_API_TOKEN"
RETRY_TIMEOUT_ENV = "HPO_RETRY_TIMEOUT"
DEFAULT_RETRY_TIMEOUT = 120.0
#: answers that mean "try again": the server (or a proxy in front of it) is restarting
RETRY_STATUSES = frozenset({502, 503, 504})


# --- errors the server answers with (registered: the client rebuilds them by code) ---------
class AuthenticationError(HPOError):
    """The request needs the server's API token (``Authorization: Bearer <token>``), or
    carried a wrong one."""

    code = "unauthorized"
    kind = "forbidden"


class ObjectiveNotAllowedError(HPOError):
    """The server runs only objectives its ``--allow-objective`` patterns name."""

    code = "objective_not_allowed"
    kind = "forbidden"


class PayloadTooLargeError(HPOError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"
    kind = "invalid"


class ServerUnavailableError(HPOError, ConnectionError):
    """The server could not be reached (or kept answering 503) for the whole retry time."""

    code = "server_unavailable"
    kind = "unavailable"


class RemoteStorageError(HPOError):
    """An operation the server's driver performs itself, not offered over HTTP."""

    code = "remote_storage_unsupported"
    kind = "invalid"


# --- the client ------------------------------------------------------------------------------
def _base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"an hpo server URL looks like http://host:8000, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"an hpo server URL has no query or fragment, got {url!r}")
    if "@" in parts.netloc:
        raise ValueError("put the API token in $HPO_API_TOKEN or token=..., not in the server URL")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc}{path}"


class _Response:
    """An answer of the lean transport (the attributes of ``httpx.Response`` that
    :class:`HTTPClient` and its callers read)."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, content: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _LeanTransport:
    """Keep-alive HTTP/1.1 over :mod:`http.client`, one connection per thread (and per
    process: a forked child opens its own). A request costs a fraction of the CPU of
    ``httpx``'s, which matters to workers whose round trips are most of their work."""

    def __init__(self, url: str, headers: Mapping[str, str], timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port
        self._prefix = parts.path
        self._headers = dict(headers)
        self._timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Any] = set()

    def _connection(self) -> Any:
        import http.client
        import socket

        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            self._drop()  # the server closed it while idle (its keep-alive timeout)
        if self._https:
            import ssl

            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=10.0, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=10.0)
        conn.connect()  # within the connect timeout; then the read timeout
        assert conn.sock is not None
        conn.sock.settimeout(self._timeout)
        # TCP_NODELAY: a request's headers and body go out at once, not 40 ms apart
        # (Nagle waiting for the server's delayed ACK)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._open.add(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> _Response:
        """One request; a connection error raises :class:`OSError` (or an
        ``http.client`` error) with the connection dropped, for the caller to retry."""
        import http.client

        target = self._prefix + path
        if params:
            target += "?" + urlencode({k: str(v) for k, v in params.items()})
        all_headers = {**self._headers, **(headers or {})}
        try:
            conn = self._connection()
            conn.request(method, target, body=body, headers=all_headers)
            response = conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self._drop()
            raise
        if response.will_close:
            self._drop()
        return _Response(response.status, content, dict(response.getheaders()))

    def close(self) -> None:
        with self._lock:
            open_, self._open = self._open, set()
        for conn in open_:
            conn.close()


class _HttpxTransport:
    """``httpx``, for servers reached through a proxy (``$HTTPS_PROXY`` and friends,
    which ``httpx`` honours and :mod:`http.client` does not)."""

    def __init__(self, url: str, headers: Mapping[str, str], timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self._url = url
        self._headers = dict(headers)
        self._timeout = httpx.Timeout(timeout, connect=10.0)
        self._lock = threading.Lock()
        self._client = self._new()
        self._pid = os.getpid()

    def _new(self) -> Any:
        import socket

        httpx = self._httpx
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        return httpx.Client(
            base_url=self._url, headers=self._headers, timeout=self._timeout, transport=transport
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> Any:
        if os.getpid() != self._pid:  # a forked child builds its own pool
            with self._lock:
                if os.getpid() != self._pid:
                    self._client, self._pid = self._new(), os.getpid()
        try:
            return self._client.request(method, path, content=body, params=params, headers=headers)
        except self._httpx.TransportError as exc:
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _readable(sock: Any) -> bool:
    """Whether an idle connection has something to read: the server closed it."""
    import select

    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _proxied(url: str) -> bool:
    """Whether the environment routes requests to ``url`` through a proxy."""
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxies = getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(parts.netloc)


class HTTPClient:
    """JSON requests to one hpo server, with retries and typed errors (thread-safe).

    Requests go over keep-alive connections of :mod:`http.client` (one per thread), or
    through ``httpx`` when the environment names a proxy for the server.

    >>> client = HTTPClient("http://127.0.0.1:8000")               # doctest: +SKIP
    >>> client.request("GET", "/api/v1/studies")                    # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        retry_timeout: float | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.url = _base_url(url)
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        if retry_timeout is None:
            retry_timeout = float(os.environ.get(RETRY_TIMEOUT_ENV, DEFAULT_RETRY_TIMEOUT))
        if not retry_timeout >= 0:
            raise ValueError(f"retry_timeout must be >= 0 seconds, got {retry_timeout!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.retry_timeout = float(retry_timeout)
        headers = {"User-Agent": "hpo-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        transport = _HttpxTransport if _proxied(self.url) else _LeanTransport
        self._transport: _LeanTransport | _HttpxTransport = transport(
            self.url, headers, float(timeout)
        )
        self._local = threading.local()

    @property
    def last_retried(self) -> bool:
        """Whether this thread's last request was sent more than once (an earlier attempt
        may have reached the server)."""
        return bool(getattr(self._local, "retried", False))

    def __repr__(self) -> str:
        return f"HTTPClient({self.url!r})"

    def close(self) -> None:
        self._transport.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
        ok_statuses: Iterable[int] = (),
        retry_json: Any = None,
    ) -> Any:
        """Send one request (retried, see the module docstring) and return the decoded
        JSON answer (``None`` for 204), or the response itself with ``raw=True``.

        An error answer raises its exception; a status in ``ok_statuses`` is returned as
        the raw response instead (see also :attr:`last_retried`). ``retry_json``, when
        given, is the body of every attempt after the first."""
        import http.client

        deadline = time.monotonic() + self.retry_timeout
        delay = 0.05
        attempts = 0
        self._local.retried = False
        ok = set(ok_statuses)
        body, headers = _body(json, content, headers)
        response: Any = None
        while True:
            attempts += 1
            try:
                response = self._transport.send(
                    method, path, body=body, params=params, headers=headers
                )
            except (OSError, http.client.HTTPException) as exc:
                failure: str = f"{type(exc).__name__}: {exc}"
                response = None
                if retry_json is not None:
                    body, headers = _body(retry_json, None, headers)
            else:
                if response.status_code not in RETRY_STATUSES:
                    break
                failure = f"HTTP {response.status_code}: {_message(response)}"
                if retry_json is not None:
                    body, headers = _body(retry_json, None, headers)
            now = time.monotonic()
            if now >= deadline:
                raise ServerUnavailableError(
                    f"the hpo server at {self.url} did not answer {method} {path} for "
                    f"{self.retry_timeout:g}s ({attempts} attempts; last: {failure}); check "
                    f"that it runs, or raise ${RETRY_TIMEOUT_ENV}"
                )
            self._local.retried = True
            time.sleep(min(delay * (0.5 + random.random()), max(deadline - now, 0.0)))
            delay = min(delay * 2, 2.0)
        status = response.status_code
        if status < 400 or status in ok:
            if raw:
                return response
            if status == 204 or not response.content:
                return None
            return response.json()
        raise self._error(response)

    def _error(self, response: Any) -> Exception:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("code"), str):
            return error_from_code(body["code"], str(body.get("message", "")))
        text = _message(response)
        if response.status_code == 401:
            hint = "" if self._has_token else f" (set ${TOKEN_ENV} or pass token=...)"
            return AuthenticationError(f"the hpo server at {self.url} refused: {text}{hint}")
        if response.status_code == 404:
            return HPOError(f"{self.url}: not found ({text}); is this an hpo server?")
        if response.status_code == 413:
            return PayloadTooLargeError(text)
        return HPOError(f"the hpo server at {self.url} answered {response.status_code}: {text}")


def _body(
    data: Any, content: bytes | None, headers: Mapping[str, str] | None
) -> tuple[bytes | None, Mapping[str, str] | None]:
    """A request's body bytes and headers: ``data`` as JSON, else ``content``."""
    if data is None:
        return content, headers
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return encoded.encode(), {**(headers or {}), "Content-Type": "application/json"}


def _message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, Mapping):
        return str(body.get("message") or body.get("detail") or body)[:500]
    return str(body)[:200]


# --- the storage -----------------------------------------------------------------------------
def _studies(study_id: int) -> str:
    return f"{API_PREFIX}/studies/{int(study_id)}"


def _name(name: str) -> str:
    return quote(str(name), safe="")


class HTTPStorage(Storage):
    """The storage of the hpo server at ``url`` (``http(s)://host:port``).

    ``token`` defaults to ``$HPO_API_TOKEN``; ``retry_timeout`` is how long a request is
    retried while the server cannot answer (see the module docstring).
    """

    drives_studies = False

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        retry_timeout: float | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.client = HTTPClient(url, token=token, retry_timeout=retry_timeout, timeout=timeout)
        self.url = self.client.url
        self._info: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"HTTPStorage({self.url!r})"

    def __str__(self) -> str:
        return self.url

    def __getstate__(self) -> dict[str, Any]:  # a worker process opens its own connections
        return {"url": self.url, "retry_timeout": self.client.retry_timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], retry_timeout=state["retry_timeout"])  # type: ignore[misc]

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs)

    @property
    def info(self) -> dict[str, Any]:
        """What the server says about itself (version, heartbeat interval, owner, ...)."""
        if self._info is None:
            self._info = dict(self._call("GET", f"{API_PREFIX}/info"))
        return self._info

    # --- studies ---------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        *,
        direction: str,
        space: Space | None,
        searcher: str,
        searcher_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        metric: str | None = None,
        user_attrs: dict[str, Any] | None = None,
        budget: Budget | None = None,
        stopper: str | None = None,
        stopper_kwargs: dict[str, Any] | None = None,
        owner: str | None = None,
    ) -> StudyRecord:
        from hpo.codecs import study_record_from_json, to_json_value

        if owner is not None:
            raise RemoteStorageError(
                "the server owns the studies it stores; create them without an owner"
            )
        body = {
            "name": name,
            "direction": direction,
            "space": None if space is None else space.to_json(),
            "searcher": searcher,
            "searcher_kwargs": to_json_value(searcher_kwargs or {}),
            "seed": seed,
            "metric": metric,
            "user_attrs": to_json_value(user_attrs or {}),
            "budget": None if budget is None else budget.to_json(),
            "stopper": stopper,
            "stopper_kwargs": to_json_value(stopper_kwargs or {}),
        }
        try:
            data = self._call("POST", f"{API_PREFIX}/studies", json=body)
        except DuplicateStudyError:
            # a retry after a lost answer finds the study it created: the same definition
            if self.client.last_retried:
                record = self.get_study(name)
                if _same_definition(record, body):
                    return record
            raise
        return study_record_from_json(data)

    def get_study(self, name: str) -> StudyRecord:
        from hpo.codecs import study_record_from_json

        return study_record_from_json(
            self._call("GET", f"{API_PREFIX}/studies/by-name/{_name(name)}")
        )

    def get_study_by_id(self, study_id: int) -> StudyRecord:
        from hpo.codecs import study_record_from_json

        return study_record_from_json(self._call("GET", _studies(study_id)))

    def list_studies(self) -> list[StudyRecord]:
        from hpo.codecs import study_record_from_json

        data = self._call("GET", f"{API_PREFIX}/studies", params={"view": "records"})
        return [study_record_from_json(r) for r in data["studies"]]

    def delete_study(self, name: str) -> None:
        self._call("DELETE", _studies(self.get_study(name).study_id))

    def set_study_owner(self, study_id: int, owner: str | None) -> None:
        raise RemoteStorageError("the server decides who drives its studies")

    def study_summaries(self, study_ids: Iterable[int] | None = None) -> list[StudySummary]:
        from hpo.codecs import study_summary_from_json

        params: dict[str, Any] = {}
        if study_ids is not None:
            ids = sorted({int(i) for i in study_ids})
            if not ids:
                return []
            params["ids"] = ",".join(map(str, ids))
        data = self._call("GET", f"{API_PREFIX}/studies", params=params)
        return [study_summary_from_json(s) for s in data["studies"]]

    def set_study_space(self, study_id: int, space: Space) -> None:
        raise RemoteStorageError("a define-by-run study's space grows in the server")

    def save_searcher_state(
        self, study_id: int, state: dict[str, Any], *, expected_version: int | None = None
    ) -> int:
        raise RemoteStorageError("the searcher lives in the server; its state is saved there")

    def load_searcher_state(self, study_id: int) -> SearcherState:
        data = self._call("GET", f"{_studies(study_id)}/searcher-state")
        return SearcherState(data.get("state"), int(data["version"]))

    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        summaries = self.study_summaries([study_id])
        if not summaries:
            raise StudyNotFoundError(f"no study with id {study_id}")
        counts = summaries[0].counts
        wanted = list(TrialState) if states is None else [TrialState(s) for s in states]
        return sum(int(counts.get(s.value, 0)) for s in set(wanted))

    # --- trials ----------------------------------------------------------------------
    def create_trial(self, study_id: int, **kwargs: Any) -> FrozenTrial:
        raise RemoteStorageError(
            "trials of a server's study are opened by its driver: use study.ask() or "
            "study.optimize(), or enqueue a configuration"
        )

    def pop_waiting_trial(
        self, study_id: int, *, heartbeat: bool = False, worker_id: str | None = None
    ) -> FrozenTrial | None:
        raise RemoteStorageError("the server's driver starts enqueued trials: use study.ask()")

    def worker_trials(self, study_id: int, worker_id: str) -> list[FrozenTrial]:
        from hpo.codecs import trial_from_json

        data = self._call("GET", f"{_studies(study_id)}/trials", params={"worker_id": worker_id})
        return [trial_from_json(t) for t in data["trials"]]

    def enqueue_trial(
        self, study_id: int, params: dict[str, Any], *, user_attrs: dict[str, Any] | None = None
    ) -> FrozenTrial:
        from hpo.codecs import to_json_value, trial_from_json

        body = {"params": to_json_value(params), "user_attrs": to_json_value(user_attrs or {})}
        data = self._call("POST", f"{_studies(study_id)}/enqueue", json=body)
        return trial_from_json(data)

    def set_trial_param(self, study_id: int, number: int, name: str, value: Any) -> None:
        raise RemoteStorageError("define-by-run values are drawn by the server: trial.suggest_*")

    def report(self, study_id: int, number: int, step: int, value: float) -> None:
        self._call(
            "POST",
            f"{_studies(study_id)}/trials/{int(number)}/report",
            json={"step": int(step), "value": float(value)},
        )

    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        from hpo.codecs import to_json_value

        self._call(
            "POST",
            f"{_studies(study_id)}/trials/{int(number)}/user-attrs",
            json={"key": key, "value": to_json_value(value)},
        )

    def heartbeat(self, study_id: int, number: int) -> None:
        from hpo.exceptions import TrialFinishedError

        if not self.heartbeat_trials(study_id, [number]):
            self.get_trial(study_id, number)  # TrialNotFoundError
            raise TrialFinishedError(f"trial {number} is finished; finished trials cannot beat")

    def heartbeat_trials(self, study_id: int, numbers: Iterable[int]) -> list[int]:
        wanted = sorted({int(n) for n in numbers})
        data = self._call("POST", f"{_studies(study_id)}/heartbeat", json={"numbers": wanted})
        return [int(n) for n in data["beaten"]]

    def finish_trial(
        self,
        study_id: int,
        number: int,
        state: TrialState,
        *,
        value: float | None = None,
        metrics: dict[str, float | None] | None = None,
        error: str | None = None,
    ) -> FrozenTrial:
        from hpo.codecs import trial_from_json, trial_outcome_to_json
        from hpo.objective import TrialOutcome

        state = TrialState(state)
        if not state.is_finished:
            raise ValueError(f"finish_trial needs COMPLETE, PRUNED or FAILED, got {state}")
        outcome = TrialOutcome(state, value, dict(metrics or {}), error)
        data = self._call(
            "POST",
            f"{_studies(study_id)}/trials/{int(number)}/tell",
            json=trial_outcome_to_json(outcome),
        )
        return trial_from_json(data)

    def get_trial(self, study_id: int, number: int) -> FrozenTrial:
        from hpo.codecs import trial_from_json

        return trial_from_json(self._call("GET", f"{_studies(study_id)}/trials/{int(number)}"))

    def get_trials(
        self,
        study_id: int,
        *,
        since: int = 0,
        states: Iterable[TrialState] | None = None,
    ) -> TrialBatch:
        from hpo.codecs import trial_from_json

        params: dict[str, Any] = {"since": max(int(since), 0)}
        if states is not None:
            params["states"] = ",".join(sorted({TrialState(s).value for s in states}))
        data = self._call("GET", f"{_studies(study_id)}/trials", params=params)
        return TrialBatch(
            trials=[trial_from_json(t) for t in data["trials"]], cursor=int(data["cursor"])
        )

    def next_counter(self, study_id: int, key: str) -> int:
        raise RemoteStorageError("counters belong to the server's searchers")

    # --- comparisons -------------------------------------------------------------------
    def create_comparison(
        self,
        name: str,
        *,
        problem: str,
        direction: str,
        n_trials: int,
        spec: dict[str, Any],
        optimum: float | None = None,
        reference: float | None = None,
    ) -> ComparisonRecord:
        from hpo.codecs import comparison_record_from_json, to_json_value

        body = {
            "name": name,
            "problem": problem,
            "direction": direction,
            "n_trials": n_trials,
            "spec": to_json_value(spec),
            "optimum": to_json_value(optimum),
            "reference": to_json_value(reference),
        }
        return comparison_record_from_json(
            self._call("POST", f"{API_PREFIX}/comparison-records", json=body)
        )

    def add_comparison_study(
        self, comparison_id: int, study_id: int, *, label: str, seed: int
    ) -> None:
        self._call(
            "POST",
            f"{API_PREFIX}/comparisons/{int(comparison_id)}/members",
            json={"study_id": int(study_id), "label": label, "seed": int(seed)},
        )

    def get_comparison(self, name: str) -> ComparisonRecord:
        from hpo.codecs import comparison_record_from_json

        data = self._call("GET", f"{API_PREFIX}/comparisons/by-name/{_name(name)}")
        return comparison_record_from_json(data)

    def list_comparisons(self) -> list[ComparisonRecord]:
        from hpo.codecs import comparison_record_from_json

        data = self._call("GET", f"{API_PREFIX}/comparisons")
        return [comparison_record_from_json(c) for c in data["comparisons"]]

    def delete_comparison(self, name: str) -> None:
        record = self.get_comparison(name)
        self._call("DELETE", f"{API_PREFIX}/comparisons/{record.comparison_id}")


def _same_definition(record: StudyRecord, body: Mapping[str, Any]) -> bool:
    from hpo.codecs import study_record_to_json

    stored = study_record_to_json(record)
    keys = ("direction", "searcher", "searcher_kwargs", "seed", "metric", "budget", "stopper")
    if any(stored[k] != body[k] for k in keys):
        return False
    return body["space"] is None or stored["space"] == body["space"]


# --- the server's artifact store ---------------------------------------------------------------
_STORE_CLIENTS: dict[tuple[str, str | None], HTTPClient] = {}
_STORE_CLIENTS_LOCK = threading.Lock()


class HTTPArtifactStore(ArtifactStore):
    """Checkpoints kept by the hpo server at ``location`` (its base URL), through
    ``/api/v1/artifacts/<study>/<trial number>``; registered for ``http://`` and
    ``https://`` locations in :mod:`hpo.artifacts`, so any worker that can reach the
    server reaches every trial's checkpoint.

    :meth:`trial_dir` is a local scratch directory (under ``$HPO_ARTIFACTS``): files the
    objective writes there stay on its machine; only checkpoints travel. The server caps
    a checkpoint's size (``413`` beyond it)."""

    def __init__(self, location: str, *, token: str | None = None) -> None:
        url = _base_url(location)
        key = (url, token)
        with _STORE_CLIENTS_LOCK:  # one connection pool per server and process
            client = _STORE_CLIENTS.get(key)
            if client is None:
                client = _STORE_CLIENTS[key] = HTTPClient(url, token=token)
        self._client = client
        self._location = url

    @property
    def location(self) -> str:
        return self._location

    def _path(self, study: str, number: int) -> str:
        return f"{API_PREFIX}/artifacts/{_name(study)}/{int(number)}"

    def trial_dir(self, study: str, number: int) -> Path:
        root = Path(os.environ.get(DEFAULT_ROOT_ENV) or DEFAULT_ROOT)
        host = urlsplit(self._location).netloc.replace(":", "_")
        path = root / "remote" / host / _name(study) / str(int(number))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, study: str, number: int) -> bool:
        response = self._client.request(
            "HEAD", self._path(study, number), raw=True, ok_statuses=(404,)
        )
        return bool(response.status_code == 200)

    def save_bytes(self, study: str, number: int, data: bytes) -> None:
        self._client.request(
            "PUT",
            self._path(study, number),
            content=bytes(data),
            headers={"Content-Type": "application/octet-stream"},
        )

    def load_bytes(self, study: str, number: int) -> bytes:
        response = self._client.request(
            "GET", self._path(study, number), raw=True, ok_statuses=(404,)
        )
        if response.status_code == 404:
            raise FileNotFoundError(f"no checkpoint of trial {number} of {study!r} on {self}")
        return bytes(response.content)

    def delete(self, study: str, number: int) -> None:
        self._client.request("DELETE", self._path(study, number))
