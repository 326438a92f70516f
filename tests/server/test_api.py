"""The REST API in this process (uvicorn in a thread, real HTTP), on SQLite and
PostgreSQL where the storage matters: studies, ask/tell, reports, define-by-run,
enqueue, heartbeats, incremental reads, exports, errors, retry safety, the reaper."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

import hpo
from hpo.server.reaper import reap_once
from hpo.storage.base import utcnow

from .conftest import LiveServer

API = "/api/v1"
SPACE = hpo.Space({"x": hpo.Float(-5.0, 5.0), "k": hpo.Categorical(["a", "b"])}).to_json()
DEEP: Any = 1
for _ in range(40):
    DEEP = [DEEP]
GRID = hpo.Space({"a": hpo.Int(0, 2), "b": hpo.Categorical(["u", "v"])}).to_json()


def create(client: httpx.Client, name: str = "s", **body: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/studies",
        json={"name": name, "space": SPACE, "searcher": "random", "seed": 0, **body},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def ask(client: httpx.Client, sid: int, **body: Any) -> httpx.Response:
    return client.post(f"{API}/studies/{sid}/ask", json=body)


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"], body
    return dict(body)


def test_study_lifecycle(live_server: Callable[..., LiveServer], sql_url: str) -> None:
    server = live_server(sql_url)
    with server.client() as c:
        record = create(
            c, "svm/seed0", direction="maximize", metric="acc", user_attrs={"team": "ml"}
        )
        sid = record["study_id"]
        assert record["owner"] == "hpo-server"  # the server drives it
        assert hpo.codecs.study_record_from_json(record).space.to_json() == SPACE
        assert c.get(f"{API}/studies/{sid}").json() == record
        assert c.get(f"{API}/studies/by-name/svm%2Fseed0").json() == record
        listed = c.get(f"{API}/studies").json()["studies"]
        assert [s["name"] for s in listed] == ["svm/seed0"] and listed[0]["n_trials"] == 0
        records = c.get(f"{API}/studies", params={"view": "records"}).json()["studies"]
        assert records == [record]
        again = c.post(
            f"{API}/studies",
            json={
                "name": "svm/seed0",
                "space": SPACE,
                "searcher": "random",
                "direction": "maximize",
                "load_if_exists": True,
            },
        )
        assert again.status_code == 200 and again.json()["study_id"] == sid
        error(
            c.post(f"{API}/studies", json={"name": "svm/seed0", "space": SPACE}),
            409,
            "duplicate_study",
        )
        assert c.delete(f"{API}/studies/{sid}").status_code == 204
        error(c.get(f"{API}/studies/{sid}"), 404, "study_not_found")
        error(c.get(f"{API}/studies/by-name/svm%2Fseed0"), 404, "study_not_found")


def test_ask_tell_report_and_reads(live_server: Callable[..., LiveServer], sql_url: str) -> None:
    server = live_server(sql_url)
    with server.client() as c:
        sid = create(
            c,
            budget={"name": "epoch", "min": 1, "max": 9},
            stopper="median",
            stopper_kwargs={"min_trials": 1, "warmup_steps": 0},
        )["study_id"]
        cursor = c.get(f"{API}/studies/{sid}/trials").json()["cursor"]
        answer = ask(c, sid, n=3, worker_id="w1").json()
        assert answer["exhausted"] is False and [s["number"] for s in answer["trials"]] == [0, 1, 2]
        spec = answer["trials"][0]
        assert (
            spec["study_name"] == "s" and spec["budget"] == 9 and set(spec["params"]) == {"x", "k"}
        )
        decision = c.post(f"{API}/studies/{sid}/trials/0/report", json={"step": 1, "value": 0.5})
        assert decision.json() == {"decision": "CONTINUE"}
        c.post(f"{API}/studies/{sid}/trials/1/report", json={"step": 1, "value": 0.1})
        stop = c.post(f"{API}/studies/{sid}/trials/0/report", json={"step": 2, "value": 0.9})
        assert stop.json()["decision"] in ("CONTINUE", "STOP")
        c.post(f"{API}/studies/{sid}/trials/0/user-attrs", json={"key": "note", "value": [1, "a"]})
        done = c.post(
            f"{API}/studies/{sid}/trials/0/tell",
            json={"state": "COMPLETE", "value": 0.25, "metrics": {"acc": 0.9}},
        )
        trial = done.json()
        assert trial["state"] == "COMPLETE" and trial["value"] == 0.25
        assert trial["intermediate_values"] == {"1": 0.5, "2": 0.9}
        assert trial["user_attrs"] == {"note": [1, "a"]} and trial["metrics"] == {"acc": 0.9}
        c.post(f"{API}/studies/{sid}/trials/1/tell", json={"state": "FAILED", "error": "boom"})
        changed = c.get(f"{API}/studies/{sid}/trials", params={"since": cursor}).json()
        assert [t["number"] for t in changed["trials"]] == [0, 1, 2]
        later = c.get(f"{API}/studies/{sid}/trials", params={"since": changed["cursor"]}).json()
        assert later["trials"] == [] and later["cursor"] == changed["cursor"]
        complete = c.get(f"{API}/studies/{sid}/trials", params={"states": "COMPLETE,PRUNED"})
        assert [t["number"] for t in complete.json()["trials"]] == [0]
        assert c.get(f"{API}/studies/{sid}/trials/0").json() == trial
        summary = c.get(f"{API}/studies/{sid}/summary").json()
        assert summary["counts"] == {
            "WAITING": 0,
            "RUNNING": 1,
            "COMPLETE": 1,
            "PRUNED": 0,
            "FAILED": 1,
        }
        assert (summary["best_value"], summary["best_number"]) == (0.25, 0)
        beaten = c.post(f"{API}/studies/{sid}/heartbeat", json={"numbers": [0, 1, 2, 99]})
        assert beaten.json() == {"beaten": [2]}
        state = c.get(f"{API}/studies/{sid}/searcher-state").json()
        assert state["version"] >= 0


def test_asks_are_idempotent_per_worker_and_tells_safe_to_repeat(
    live_server: Callable[..., LiveServer], sql_url: str
) -> None:
    server = live_server(sql_url)
    with server.client() as c:
        sid = create(c)["study_id"]
        first = ask(c, sid, worker_id="worker-a").json()["trials"]
        again = ask(c, sid, worker_id="worker-a").json()["trials"]  # a lost answer, retried
        assert again == first and len(first) == 1
        other = ask(c, sid, worker_id="worker-b").json()["trials"]
        assert other[0]["number"] != first[0]["number"]
        two = ask(c, sid, worker_id="worker-a", n=2).json()["trials"]  # its own first
        assert [t["number"] for t in two] == [first[0]["number"], 2]
        number = first[0]["number"]
        tell = {"state": "COMPLETE", "value": 1.5}
        stored = c.post(f"{API}/studies/{sid}/trials/{number}/tell", json=tell)
        repeated = c.post(f"{API}/studies/{sid}/trials/{number}/tell", json=tell)
        assert repeated.status_code == 200 and repeated.json() == stored.json()
        error(
            c.post(
                f"{API}/studies/{sid}/trials/{number}/tell",
                json={"state": "COMPLETE", "value": 2.0},
            ),
            409,
            "trial_finished",
        )
        mine = c.get(f"{API}/studies/{sid}/trials", params={"worker_id": "worker-a"}).json()
        assert [t["number"] for t in mine["trials"]] == [2]  # the told one left the list
        assert ask(c, sid, worker_id="worker-a").json()["trials"][0]["number"] == 2
        assert c.get(f"{API}/studies/{sid}/summary").json()["n_trials"] == 3  # no orphans


def test_grid_exhaustion_is_a_typed_answer(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c, "grid", space=GRID, searcher="grid")["study_id"]
        partial = ask(c, sid, n=10).json()
        assert len(partial["trials"]) == 6 and partial["exhausted"] is True
        body = error(ask(c, sid), 409, "search_space_exhausted")
        assert body["kind"] == "exhausted"
        params = {(t["params"]["a"], t["params"]["b"]) for t in partial["trials"]}
        assert len(params) == 6  # every grid point once


def test_define_by_run_enqueue_and_channel(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c, "dbr", space=None)["study_id"]
        queued = c.post(f"{API}/studies/{sid}/enqueue", json={"params": {"lr": 0.5}})
        assert queued.status_code == 201 and queued.json()["state"] == "WAITING"
        spec = ask(c, sid).json()["trials"][0]
        assert spec["params"] == {"lr": 0.5}  # the queue first
        param = hpo.Float(1e-3, 1.0, log=True).to_json()
        value = c.post(f"{API}/studies/{sid}/trials/0/suggest", json={"name": "lr", "param": param})
        assert value.json() == {"value": 0.5}  # the queued value stays
        ask(c, sid)
        drawn = c.post(
            f"{API}/studies/{sid}/channel",
            json={
                "type": "suggest",
                "number": 1,
                "name": "depth",
                "param": hpo.Int(1, 5).to_json(),
            },
        ).json()["value"]
        again = c.post(
            f"{API}/studies/{sid}/channel",
            json={
                "type": "suggest",
                "number": 1,
                "name": "depth",
                "param": hpo.Int(1, 5).to_json(),
            },
        ).json()["value"]
        assert drawn == again and 1 <= drawn <= 5
        record = c.get(f"{API}/studies/{sid}").json()
        assert record["define_by_run"] and [p["name"] for p in record["space"]["params"]] == [
            "depth"
        ]
        report = c.post(
            f"{API}/studies/{sid}/channel",
            json={"type": "report", "number": 1, "step": 3, "value": 0.5},
        )
        assert report.json() == {"value": "CONTINUE"}
        error(
            c.post(f"{API}/studies/{sid}/channel", json={"type": "report", "number": 1}),
            422,
            "invalid",
        )


def test_export_csv_and_json(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c, "exp")["study_id"]
        for n in range(3):
            ask(c, sid)
            c.post(f"{API}/studies/{sid}/trials/{n}/tell", json={"value": float(n)})
        data = c.get(f"{API}/studies/{sid}/export", params={"format": "json"}).json()
        assert data["study"]["name"] == "exp" and [t["value"] for t in data["trials"]] == [0, 1, 2]
        text = c.get(f"{API}/studies/{sid}/export", params={"format": "csv"})
        assert text.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(text.text)))
        assert [float(r["value"]) for r in rows] == [0.0, 1.0, 2.0] and "params_x" in rows[0]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/studies/424242", None, 404, "study_not_found"),
        ("GET", "/studies/{sid}/trials/99", None, 404, "trial_not_found"),
        ("POST", "/studies/{sid}/trials/99/tell", {"value": 1.0}, 404, "trial_not_found"),
        ("POST", "/studies/{sid}/ask", {"n": 0}, 422, "invalid"),
        ("POST", "/studies/{sid}/ask", {"worker_id": ""}, 422, "invalid"),
        ("POST", "/studies/{sid}/trials/0/tell", {"state": "COMPLETE"}, 422, "invalid"),
        ("POST", "/studies/{sid}/trials/0/report", {"step": -1, "value": 1}, 422, "invalid"),
        (
            "POST",
            "/studies",
            {
                "name": "x",
                "space": {"params": [{"name": "a", "type": "float", "low": 5, "high": 1}]},
            },
            422,
            "invalid_space",
        ),
        ("POST", "/studies", {"name": "x", "searcher": "nope"}, 422, "unknown_searcher"),
        (
            "POST",
            "/studies",
            {"name": "x", "space": SPACE, "searcher": "random", "searcher_kwargs": {"bogus": 1}},
            422,
            "searcher_error",
        ),
        ("POST", "/studies", {"name": "a\u0000b"}, 422, "invalid"),
        ("POST", "/studies", {"name": "x", "seed": 2**70}, 422, "invalid"),
        ("POST", "/studies", {"name": "x", "stopper": "asha"}, 422, "invalid"),
        ("POST", "/studies", {"name": "x", "user_attrs": {"deep": DEEP}}, 422, "invalid"),
        ("GET", "/studies/{sid}/trials?states=DONE", None, 422, "invalid"),
        ("GET", "/studies/99999999999999", None, 422, "invalid"),
        ("GET", "/nowhere", None, 404, "not_found"),
        ("DELETE", "/studies", None, 405, "method_not_allowed"),
    ],
)
def test_errors_have_codes_and_never_500(
    live_server: Callable[..., LiveServer],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    server = live_server(None)
    with server.client() as c:
        sid = create(c, "e")["study_id"]
        ask(c, sid)
        c.post(f"{API}/studies/{sid}/trials/0/tell", json={"value": 1.0})
        url = f"{API}{path.format(sid=sid)}"
        error(c.request(method, url, json=body), status, code)


def test_malformed_json_is_422(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None)
    with server.client() as c:
        response = c.post(
            f"{API}/studies", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        error(response, 422, "invalid")
        response = c.post(
            f"{API}/studies", content=b'{"name": NaN}', headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422


def test_a_study_another_deployment_owns_is_409(
    live_server: Callable[..., LiveServer], sqlite_url: str
) -> None:
    storage = hpo.storage.get_storage(sqlite_url)
    record = storage.create_study(
        "theirs", direction="minimize", space=None, searcher="random", owner="other-server"
    )
    server = live_server(sqlite_url)
    with server.client() as c:
        error(ask(c, record.study_id), 409, "study_owned")
    storage.close()


def test_reaper_fails_silent_trials_and_requeues_with_retries(
    live_server: Callable[..., LiveServer], sql_url: str
) -> None:
    clock = {"now": utcnow()}
    server = live_server(sql_url, heartbeat_interval=1.0, grace_period=3.0)
    with server.client() as c:
        plain = create(c, "plain")["study_id"]
        retried = create(c, "retried", retries=1)["study_id"]
        for sid in (plain, retried):
            ask(c, sid, worker_id="dies")  # trial 0, beating, then silence
            ask(c, sid, heartbeat=False)  # trial 1: driven by hand, never judged
        state = server.state
        for sid in (plain, retried):  # let the drivers read a clock 10 s ahead
            state.pool.driver(sid)._clock = lambda: clock["now"] + timedelta(seconds=10)
        failed = anyio.run(reap_once, state)
        assert failed == {plain: [0], retried: [0]}
        for sid in (plain, retried):
            trial = c.get(f"{API}/studies/{sid}/trials/0").json()
            assert trial["state"] == "FAILED" and "no heartbeat" in trial["error"]
            assert c.get(f"{API}/studies/{sid}/trials/1").json()["state"] == "RUNNING"
        requeued = c.get(f"{API}/studies/{retried}/trials", params={"states": "WAITING"}).json()
        (again,) = requeued["trials"]
        assert again["user_attrs"] == {"hpo:retry_of": 0, "hpo:attempt": 1}
        first = c.get(f"{API}/studies/{retried}/trials/0").json()
        assert again["params"] == first["params"]
        assert (
            c.get(f"{API}/studies/{plain}/trials", params={"states": "WAITING"}).json()["trials"]
            == []
        )
        assert anyio.run(reap_once, state) == {}  # each trial is failed once


def test_info_health_and_docs(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None, heartbeat_interval=5.0)
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").json() == {"status": "ready"}
        info = c.get(f"{API}/info").json()
        assert info["heartbeat_interval"] == 5.0 and info["grace_period"] == 20.0
        assert info["auth"] == "none" and info["owner"] == "hpo-server"
        assert c.get("/docs").status_code == 200
        schema = c.get("/openapi.json").json()
        assert f"{API}/studies/{{study_id}}/ask" in schema["paths"]
        assert (
            "access-control-allow-origin"
            not in c.get("/healthz", headers={"Origin": "http://evil.example"}).headers
        )  # CORS is off
