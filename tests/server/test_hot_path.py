"""The workers' hot path: ``tell-and-ask`` (one round trip per trial), the fast path that
answers ask / tell / tell-and-ask in front of FastAPI (same answers as FastAPI's own
routes), the lean HTTP client, and PostgreSQL study locks that commit an ask at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import hpo
from hpo.driver import LocalDriver
from hpo.objective import TrialOutcome
from hpo.storage import InMemoryStorage
from hpo.storage.http import HTTPClient, HTTPStorage

from .conftest import TOKEN, LiveServer

API = "/api/v1"
SPACE = hpo.Space({"x": hpo.Float(-5.0, 5.0)}).to_json()
GRID = hpo.Space({"a": hpo.Int(0, 2)}).to_json()
DONE = {"state": "COMPLETE", "value": 1.5}


def create(client: httpx.Client, name: str = "s", **body: Any) -> int:
    response = client.post(
        f"{API}/studies",
        json={"name": name, "space": SPACE, "searcher": "random", "seed": 0, **body},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["study_id"])


def tell_and_ask(client: httpx.Client, sid: int, number: int, **body: Any) -> httpx.Response:
    return client.post(f"{API}/studies/{sid}/trials/{number}/tell-and-ask", json=body)


def test_tell_and_ask_finishes_one_trial_and_opens_the_next(
    live_server: Callable[..., LiveServer], sql_url: str
) -> None:
    server = live_server(sql_url)
    with server.client() as c:
        sid = create(c)
        first = c.post(f"{API}/studies/{sid}/ask", json={"worker_id": "w"}).json()["trials"][0]
        body = {"tell": DONE, "ask": {"worker_id": "w2"}}
        answer = tell_and_ask(c, sid, first["number"], **body)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["trial"]["number"] == first["number"]
        assert data["trial"]["state"] == "COMPLETE" and data["trial"]["value"] == 1.5
        assert data["exhausted"] is False and data.get("ask_error") is None
        (following,) = data["trials"]
        assert following["number"] == first["number"] + 1 and "x" in following["params"]
        # a lost answer, retried: the same tell, the worker's own trial back, no orphan
        again = tell_and_ask(c, sid, first["number"], **body).json()
        assert again == data
        assert c.get(f"{API}/studies/{sid}/summary").json()["n_trials"] == 2
        stored = c.get(f"{API}/studies/{sid}/trials/{following['number']}").json()
        assert stored["state"] == "RUNNING" and stored["heartbeat"] is not None
        # telling a finished trial something else is a conflict, and opens nothing
        changed = {"tell": {"state": "COMPLETE", "value": 2.0}, "ask": {"worker_id": "w3"}}
        conflict = tell_and_ask(c, sid, first["number"], **changed)
        assert conflict.status_code == 409 and conflict.json()["code"] == "trial_finished"
        assert c.get(f"{API}/studies/{sid}/summary").json()["n_trials"] == 2


def test_tell_and_ask_at_the_end_of_a_grid_stores_the_tell(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c, "grid", space=GRID, searcher="grid")
        opened = c.post(f"{API}/studies/{sid}/ask", json={"n": 3}).json()["trials"]
        assert len(opened) == 3
        data = tell_and_ask(c, sid, opened[0]["number"], tell=DONE).json()
        assert data["trial"]["state"] == "COMPLETE"
        assert data["trials"] == [] and data["exhausted"] is True  # no 409: the tell is in
        server.state.storage.set_study_stopped(sid, True)
        stopped = tell_and_ask(c, sid, opened[1]["number"], tell=DONE).json()
        assert stopped["trial"]["state"] == "COMPLETE" and stopped["trials"] == []
        summary = c.get(f"{API}/studies/{sid}/summary").json()
        assert summary["counts"]["COMPLETE"] == 2 and summary["n_trials"] == 3


def test_tell_and_ask_reports_why_no_trial_was_opened(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c)
        opened = c.post(f"{API}/studies/{sid}/ask", json={"n": 2}).json()["trials"]
        driver = server.state.pool.driver(sid)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise hpo.exceptions.StudyOwnedError("another deployment drives it now")

        driver.start_trials = refuse  # type: ignore[method-assign]
        data = tell_and_ask(c, sid, opened[0]["number"], tell=DONE).json()
        assert data["trial"]["state"] == "COMPLETE" and data["trials"] == []
        assert data["ask_error"]["code"] == "study_owned" and data["exhausted"] is False
        remote = hpo.load_study("s", HTTPStorage(server.url)).driver
        done = TrialOutcome(hpo.TrialState.COMPLETE, 3.0)
        with pytest.raises(hpo.exceptions.StudyOwnedError):  # the client raises it ...
            remote.finish_and_start(opened[1]["number"], done)
        told = c.get(f"{API}/studies/{sid}/trials/{opened[1]['number']}").json()
        assert told["state"] == "COMPLETE" and told["value"] == 3.0  # ... after the tell


@pytest.mark.parametrize("where", ["memory", "server"])
def test_finish_and_start_runs_a_grid_to_its_end(
    live_server: Callable[..., LiveServer], where: str
) -> None:
    space = hpo.Space({"a": hpo.Int(0, 4)})
    if where == "memory":
        storage: Any = InMemoryStorage()
    else:
        storage = HTTPStorage(live_server(None).url)
    study = hpo.create_study(space=space, searcher="grid", storage=storage, name="g")
    driver = study.driver
    assert isinstance(driver, LocalDriver) == (where == "memory")
    spec = driver.start_trial()
    seen = []
    while spec is not None:
        seen.append(spec.params["a"])
        frozen, spec = driver.finish_and_start(
            spec.number, TrialOutcome(hpo.TrialState.COMPLETE, float(spec.params["a"]))
        )
        assert frozen.state is hpo.TrialState.COMPLETE
    assert sorted(seen) == [0, 1, 2, 3, 4]
    trials = study.trials
    assert len(trials) == 5 and all(t.state is hpo.TrialState.COMPLETE for t in trials)


# --- the fast path answers what FastAPI answers ---------------------------------------------
def _bodies() -> list[tuple[str, str, bytes, str]]:
    """``(label, path, body, content type)`` of requests the fast path must leave to
    FastAPI, or answer as FastAPI would."""
    ok_tell = json.dumps(DONE).encode()
    return [
        ("malformed JSON", "/studies/1/ask", b"{not json", "application/json"),
        ("a JSON list", "/studies/1/ask", b"[1]", "application/json"),
        ("an unknown field", "/studies/1/ask", b'{"n": 1, "m": 2}', "application/json"),
        ("n out of range", "/studies/1/ask", b'{"n": 0}', "application/json"),
        ("NaN value", "/studies/1/trials/0/tell", b'{"value": NaN}', "application/json"),
        ("no value", "/studies/1/trials/0/tell", b'{"state": "COMPLETE"}', "application/json"),
        ("unknown study", "/studies/999/ask", b"{}", "application/json"),
        ("unknown trial", "/studies/1/trials/77/tell", ok_tell, "application/json"),
        (
            "tell-and-ask unknown",
            "/studies/1/trials/77/tell-and-ask",
            b'{"tell": {"value": 1}}',
            "application/json",
        ),
        ("tell-and-ask no tell", "/studies/1/trials/0/tell-and-ask", b"{}", "application/json"),
        ("leading zero", "/studies/01/ask", b'{"n": 0}', "application/json"),
        ("id past 32 bits", "/studies/9999999999/ask", b"{}", "application/json"),
        ("form body", "/studies/1/ask", b"n=1", "application/x-www-form-urlencoded"),
        ("charset", "/studies/1/ask", b'{"n": 0}', "application/json; charset=utf-8"),
        ("bad worker id", "/studies/1/ask", b'{"worker_id": ""}', "application/json"),
    ]


def test_the_fast_path_answers_as_fastapi_does() -> None:
    from fastapi.testclient import TestClient

    from hpo.server.app import create_app

    app = create_app(None, reaper=False, resume_jobs=False)
    hot = app.hot_path
    assert hot is not None
    with TestClient(app) as client:
        assert create(client, "one") == 1  # the study of the paths below
        compared = 0
        for label, path, body, ctype in _bodies():
            answers = []
            for path_on in (hot, None):
                app.hot_path = path_on
                response = client.post(
                    f"{API}{path}", content=body, headers={"Content-Type": ctype}
                )
                answers.append((response.status_code, response.content))
            app.hot_path = hot
            assert answers[0] == answers[1], label
            assert answers[0][0] in (404, 409, 422), (label, answers[0])
            compared += 1
        assert compared == len(_bodies())


def test_the_fast_path_keeps_auth_and_limits(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None, token=TOKEN, max_body_bytes=1024)
    with server.client(TOKEN) as c:
        sid = create(c)
    with server.client() as anonymous:
        refused = anonymous.post(f"{API}/studies/{sid}/ask", json={})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        refused = anonymous.post(f"{API}/studies/{sid}/trials/0/tell-and-ask", json={})
        assert refused.status_code == 401
    with server.client("wrong-token-0123456789") as wrong:
        assert wrong.post(f"{API}/studies/{sid}/ask", json={}).status_code == 401
    with server.client(TOKEN) as c:
        (trial,) = c.post(f"{API}/studies/{sid}/ask", json={}).json()["trials"]
        big = {"tell": {"state": "FAILED", "error": "x" * 5000}}
        too_large = tell_and_ask(c, sid, trial["number"], **big)
        assert too_large.status_code == 413 and too_large.json()["code"] == "payload_too_large"
        ok = tell_and_ask(c, sid, trial["number"], tell=DONE)
        assert ok.status_code == 200 and len(ok.json()["trials"]) == 1


# --- the client ------------------------------------------------------------------------------
def test_the_client_keeps_one_connection_per_thread(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(None)
    client = HTTPClient(server.url)
    try:
        for _ in range(5):
            assert client.request("GET", f"{API}/info")["name"]
        assert len(client._transport._open) == 1  # type: ignore[union-attr]
        server.stop()  # closes the idle connection; the client reconnects to the new one
        server.start()
        assert client.request("GET", f"{API}/info")["name"]
        assert not client.last_retried  # a closed idle connection is no failure
    finally:
        client.close()


def test_the_client_goes_through_httpx_when_a_proxy_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hpo.storage.http import _HttpxTransport, _LeanTransport

    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(HTTPClient("http://hpo.example:8000")._transport, _LeanTransport)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert isinstance(HTTPClient("http://hpo.example:8000")._transport, _HttpxTransport)
    monkeypatch.setenv("NO_PROXY", "hpo.example")
    assert isinstance(HTTPClient("http://hpo.example:8000")._transport, _LeanTransport)


# --- PostgreSQL: an ask is one transaction ---------------------------------------------------
def test_a_postgres_study_lock_commits_its_writes_together(postgres_url: str) -> None:
    from hpo.storage.sql import SQLStorage

    mine, other = SQLStorage(postgres_url), SQLStorage(postgres_url)
    try:
        study = mine.create_study("s", direction="minimize", space=None, searcher="random")
        sid = study.study_id
        with mine.study_lock(sid):
            created = mine.create_trial(sid, params={"x": 1})
            assert mine.get_trial(sid, created.number).params == {"x": 1}  # its own writes
            assert other.count_trials(sid) == 0  # nobody else sees them before the commit
            assert mine.pop_waiting_trial(sid) is None  # an empty queue undoes only itself
        assert other.count_trials(sid) == 1
        with pytest.raises(RuntimeError), mine.study_lock(sid):
            mine.create_trial(sid, params={"x": 2})
            mine.next_counter(sid, "k")
            raise RuntimeError("the ask failed")
        assert other.count_trials(sid) == 1  # rolled back together
        assert other.next_counter(sid, "k") == 0
        batch = other.get_trials(sid)
        assert [t.params for t in batch.trials] == [{"x": 1}]
    finally:
        mine.close()
        other.close()
