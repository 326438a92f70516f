"""The dashboard's API and its server-side data, without a browser: study lists paged and
sorted from summaries, down-sampling that keeps the best-so-far line exact, incremental
trial caches, controls behind the token (a stopped study refuses asks), notes with
compare-and-set, the static files (open even on a private server) and Plotly.js served
from the installed package."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import hpo
from hpo import plot
from hpo.server import dashboard_data as data
from hpo.server.app import create_app
from hpo.server.trial_cache import TrialCache
from hpo.storage import InMemoryStorage
from hpo.trial import FrozenTrial, TrialState

TOKEN = "api-test-token-0123"
SPACE = {"x": hpo.Float(0.0, 1.0), "k": hpo.Categorical(["a", "b"])}


@pytest.fixture
def storage() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.fixture
def client(storage: InMemoryStorage) -> Iterator[TestClient]:
    app = create_app(storage, token=TOKEN, reaper=False, resume_jobs=False)
    with TestClient(app) as c:
        yield c


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _study(storage: InMemoryStorage, name: str, n: int, *, failed: int = 0) -> int:
    sid = storage.create_study(
        name, direction="minimize", space=hpo.Space(SPACE), searcher="random"
    ).study_id
    for i in range(n):
        storage.create_trial(sid, params={"x": (i * 7 % 10) / 10, "k": "ab"[i % 2]})
        if i < failed:
            storage.finish_trial(sid, i, TrialState.FAILED, error=f"Traceback\nValueError: {i}")
        else:
            storage.finish_trial(sid, i, TrialState.COMPLETE, value=float((i * 7) % 10))
    return sid


# --- studies list ---------------------------------------------------------------------------
def test_studies_are_searched_sorted_and_paged_on_the_server(
    client: TestClient, storage: Any
) -> None:
    for i in range(30):
        _study(storage, f"s-{i:02d}", i % 4)
    storage.set_study_stopped(storage.get_study("s-05").study_id, True)
    page = client.get(
        "/api/v1/dashboard/studies", params={"sort": "name", "order": "asc", "limit": 10}
    ).json()
    assert page["total"] == 30 and [s["name"] for s in page["studies"]] == [
        f"s-{i:02d}" for i in range(10)
    ]
    assert page["states"] == {"empty": 8, "idle": 21, "stopped": 1}
    second = client.get(
        "/api/v1/dashboard/studies",
        params={"sort": "name", "order": "asc", "limit": 10, "offset": 10},
    )
    assert second.json()["studies"][0]["name"] == "s-10"
    by_trials = client.get(
        "/api/v1/dashboard/studies", params={"sort": "n_trials", "limit": 3}
    ).json()
    assert [s["n_trials"] for s in by_trials["studies"]] == [3, 3, 3]
    found = client.get("/api/v1/dashboard/studies", params={"q": "s-2"}).json()
    assert sorted(s["name"] for s in found["studies"]) == [f"s-2{i}" for i in range(10)]
    stopped = client.get("/api/v1/dashboard/studies", params={"status": "stopped"}).json()
    assert [s["name"] for s in stopped["studies"]] == ["s-05"] and stopped["studies"][0][
        "stopped_at"
    ]
    again = client.get(
        "/api/v1/dashboard/studies", params={"sort": "name", "order": "asc", "limit": 10}
    )
    assert again.json()["version"] == page["version"]  # nothing changed: same version
    assert client.get("/api/v1/dashboard/studies", params={"sort": "bogus"}).status_code == 422


def test_study_overview_plots_and_trial_pages(client: TestClient, storage: Any) -> None:
    sid = _study(storage, "s", 40, failed=5)
    overview = client.get(f"/api/v1/dashboard/studies/{sid}").json()
    assert overview["summary"]["counts"]["FAILED"] == 5 and overview["summary"]["state"] == "idle"
    assert [p["name"] for p in overview["params"]] == ["x", "k"]
    assert "searcher_state" not in overview["record"]
    plots = client.get(f"/api/v1/dashboard/studies/{sid}/plots").json()
    assert plots["history"]["total"] == 35 and plots["curves"] is None and plots["lineage"] is None
    page = client.get(
        f"/api/v1/dashboard/studies/{sid}/trials",
        params={"q": "x>=0.5 k=a", "sort": "value", "order": "desc", "limit": 5},
    ).json()
    rows = page["rows"]
    assert all(r["params"]["x"] >= 0.5 and r["params"]["k"] == "a" for r in rows)
    assert [r["value"] for r in rows] == sorted((r["value"] for r in rows), reverse=True)
    failed = client.get(
        f"/api/v1/dashboard/studies/{sid}/trials", params={"states": "FAILED", "q": "valueerror"}
    ).json()
    assert failed["total"] == 5 and "ValueError" in failed["rows"][0]["error"]
    sliced = client.get(f"/api/v1/dashboard/studies/{sid}/slice", params={"param": "k"}).json()
    assert sliced["axis"]["kind"] == "categorical" and sliced["total"] == 35
    grid = client.get(
        f"/api/v1/dashboard/studies/{sid}/contour", params={"x": "x", "y": "k"}
    ).json()
    assert len(grid["z"]) == 2 and grid["y"]["centres"] == ["a", "b"]
    importance = client.get(f"/api/v1/dashboard/studies/{sid}/importance").json()
    assert importance["method"] in ("random-forest", "epsilon-squared") and math.isclose(
        sum(importance["importances"]), 1
    )
    assert client.get("/api/v1/dashboard/studies/999/plots").status_code == 404


# --- controls -------------------------------------------------------------------------------
def test_controls_need_the_token(client: TestClient, storage: Any) -> None:
    sid = _study(storage, "s", 3)
    for method, path, body in (
        ("post", f"/api/v1/dashboard/studies/{sid}/stop", {"stopped": True}),
        ("post", f"/api/v1/dashboard/studies/{sid}/trials/0/fail", {}),
        ("post", f"/api/v1/dashboard/studies/{sid}/rerun", {}),
        ("put", f"/api/v1/dashboard/studies/{sid}/note", {"body": "x"}),
    ):
        assert getattr(client, method)(path, json=body).status_code == 401
    assert not storage.is_study_stopped(sid) and storage.get_study_note(sid).version == 0
    assert client.get(f"/api/v1/dashboard/studies/{sid}").status_code == 200  # reads are open


def test_a_stopped_study_refuses_asks_until_resumed(client: TestClient, storage: Any) -> None:
    created = client.post(
        "/api/v1/studies",
        headers=auth(),
        json={
            "name": "live",
            "direction": "minimize",
            "space": hpo.Space(SPACE).to_json(),
            "searcher": "random",
        },
    )
    sid = created.json()["study_id"]
    first = client.post(f"/api/v1/studies/{sid}/ask", headers=auth(), json={"worker_id": "w1"})
    assert first.status_code == 200
    stop = client.post(
        f"/api/v1/dashboard/studies/{sid}/stop", headers=auth(), json={"stopped": True}
    )
    assert stop.status_code == 200 and stop.json()["stopped_at"]
    refused = client.post(f"/api/v1/studies/{sid}/ask", headers=auth(), json={"worker_id": "w2"})
    assert refused.status_code == 409 and refused.json()["code"] == "study_stopped"
    # a worker asking again gets its own running trial back; it may still tell
    mine = client.post(f"/api/v1/studies/{sid}/ask", headers=auth(), json={"worker_id": "w1"})
    assert mine.status_code == 200 and mine.json()["trials"][0]["number"] == 0
    told = client.post(
        f"/api/v1/studies/{sid}/trials/0/tell",
        headers=auth(),
        json={"state": "COMPLETE", "value": 1.0},
    )
    assert told.status_code == 200
    assert client.get(f"/api/v1/dashboard/studies/{sid}").json()["summary"]["state"] == "stopped"
    client.post(f"/api/v1/dashboard/studies/{sid}/stop", headers=auth(), json={"stopped": False})
    assert (
        client.post(
            f"/api/v1/studies/{sid}/ask", headers=auth(), json={"worker_id": "w2"}
        ).status_code
        == 200
    )


def test_a_stopped_study_ends_a_local_optimize_loop(storage: Any) -> None:
    study = hpo.create_study(space=SPACE, storage=storage, name="local", searcher="random")
    sid = storage.get_study("local").study_id

    def objective(config: dict[str, Any]) -> float:
        if len(study.trials) == 3:
            storage.set_study_stopped(sid, True)  # e.g. from the dashboard
        return float(config["x"])

    study.optimize(objective, n_trials=10)
    assert len(study.trials) == 3
    with pytest.raises(hpo.SearchSpaceExhausted, match="stopped"):
        study.ask()


def test_fail_a_running_trial_and_rerun_failed_ones(client: TestClient, storage: Any) -> None:
    sid = _study(storage, "s", 4, failed=2)
    running = storage.create_trial(sid, params={"x": 0.5, "k": "a"}, heartbeat=True)
    failed = client.post(
        f"/api/v1/dashboard/studies/{sid}/trials/{running.number}/fail",
        headers=auth(),
        json={"error": "killed by hand"},
    )
    assert failed.status_code == 200 and failed.json()["state"] == "FAILED"
    assert storage.get_trial(sid, running.number).error == "killed by hand"
    again = client.post(
        f"/api/v1/dashboard/studies/{sid}/trials/{running.number}/fail", headers=auth(), json={}
    )
    assert again.status_code == 409
    assert (
        client.post(
            f"/api/v1/dashboard/studies/{sid}/trials/99/fail", headers=auth(), json={}
        ).status_code
        == 404
    )
    rerun = client.post(
        f"/api/v1/dashboard/studies/{sid}/rerun", headers=auth(), json={"numbers": [0, 2, 77]}
    )
    assert rerun.status_code == 201 and rerun.json() == {"enqueued": [5], "skipped": [2]}
    everything = client.post(
        f"/api/v1/dashboard/studies/{sid}/rerun", headers=auth(), json={}
    ).json()
    assert everything["enqueued"] == [6, 7, 8]  # trials 0, 1 and 4
    waiting = storage.get_trials(sid, states=[TrialState.WAITING]).trials
    assert [t.params for t in waiting] == [storage.get_trial(sid, n).params for n in (0, 0, 1, 4)]


def test_note_compare_and_set_over_http(client: TestClient, storage: Any) -> None:
    sid = _study(storage, "s", 0)
    path = f"/api/v1/dashboard/studies/{sid}/note"
    saved = client.put(path, headers=auth(), json={"body": "# Hi", "expected_version": 0})
    assert saved.status_code == 200 and saved.json()["version"] == 1
    stale = client.put(path, headers=auth(), json={"body": "lost?", "expected_version": 0})
    assert stale.status_code == 409 and stale.json()["code"] == "study_note_conflict"
    assert client.get(f"/api/v1/dashboard/studies/{sid}").json()["note"]["body"] == "# Hi"
    too_long = client.put(path, headers=auth(), json={"body": "x" * 100_001})
    assert too_long.status_code in (413, 422)


# --- static files ---------------------------------------------------------------------------
def test_static_pages_and_plotly_are_served_even_when_private(storage: Any) -> None:
    app = create_app(storage, token=TOKEN, private=True, reaper=False, resume_jobs=False)
    with TestClient(app) as c:
        index = c.get("/")
        assert index.status_code == 200 and 'src="/dashboard/js/app.js"' in index.text
        assert c.get("/dashboard/js/api.js").status_code == 200
        assert c.get("/dashboard/style.css").status_code == 200
        js = c.get("/dashboard/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
        assert js.status_code == 200 and "plotly.js" in js.text[:200]  # httpx un-gzips it
        raw = c.get("/dashboard/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
        assert raw.headers.get("content-encoding") is None and raw.content == js.content
        cached = c.get(
            "/dashboard/vendor/plotly.min.js", headers={"If-None-Match": js.headers["etag"]}
        )
        assert cached.status_code == 304
        assert c.get("/api/v1/dashboard/studies").status_code == 401  # the data is private
        assert c.get("/api/v1/dashboard/studies", headers=auth()).status_code == 200
        assert c.post("/dashboard/js/api.js").status_code == 401  # only reads are open
    assert gzip.compress(b"x")  # (gzip is what the server sends to browsers)


def test_every_api_path_the_pages_use_is_in_one_module() -> None:
    from pathlib import Path

    root = Path(data.__file__).resolve().parent / "dashboard" / "js"
    for path in root.rglob("*.js"):
        if path.name != "api.js":
            assert "/api/v1" not in path.read_text(), f"{path.name} spells an API path: use api.js"


# --- server-side data -----------------------------------------------------------------------
def _trials(values: list[float]) -> list[FrozenTrial]:
    return [
        FrozenTrial(
            number=i, state=TrialState.COMPLETE, params={"x": v / 10, "k": "ab"[i % 2]}, value=v
        )
        for i, v in enumerate(values)
    ]


def test_history_down_sampling_keeps_the_best_line_exact() -> None:
    import numpy as np

    values = list(np.random.default_rng(0).normal(size=20_000))
    trials = _trials(values)
    full = plot.history_data(trials, "minimize")
    small = data.history(trials, "minimize", max_points=500)
    assert small["total"] == 20_000 and small["shown"] <= 500
    best = dict(zip(small["best_numbers"], small["best_values"], strict=True))
    for n, v in zip(full["best_numbers"], full["best_values"], strict=True):  # a step line
        previous = [b for m, b in best.items() if m <= n]
        assert previous and previous[-1] == v
    assert min(small["values"]) == min(values)  # the best trial is drawn
    assert small["numbers"] == sorted(small["numbers"])


def test_parallel_and_curves_are_capped() -> None:
    trials = _trials([float(i % 97) for i in range(5000)])
    par = data.parallel(trials, "minimize", max_lines=300)
    assert (
        par["shown"] == 300 and par["total"] == 5000 and len(par["dimensions"][0]["values"]) == 300
    )
    assert min(par["values"]) == 0.0  # the best are kept
    reported = [
        t.evolve(intermediate_values={s: float(s) for s in range(500)}) for t in trials[:400]
    ]
    curves = data.learning_curves(reported, "minimize", max_curves=50, max_steps=40)
    assert curves["shown"] == 50 and curves["total"] == 400
    assert all(len(c["steps"]) <= 40 and c["steps"][-1] == 499 for c in curves["trials"])


def test_trial_cache_reads_only_changes(storage: Any) -> None:
    sid = _study(storage, "s", 5)
    calls: list[int] = []
    original = storage.get_trials

    def counting(study_id: int, **kw: Any) -> Any:
        calls.append(kw.get("since", 0))
        return original(study_id, **kw)

    storage.get_trials = counting
    cache = TrialCache(storage)
    first = cache.get(sid)
    assert len(first.trials) == 5 and calls == [0]
    storage.create_trial(sid, params={"x": 0.1, "k": "a"})
    second = cache.get(sid)
    assert len(second.trials) == 6 and calls[-1] == first.cursor > 0
    assert len(first.trials) == 5  # an earlier snapshot never changes
    storage.finish_trial(sid, 5, TrialState.COMPLETE, value=0.5)
    assert cache.get(sid).trials[5].value == 0.5
    hits: list[int] = []

    def compute() -> int:
        hits.append(1)
        return len(hits)

    assert cache.memo(sid, "k", second, compute) == 1
    assert cache.memo(sid, "k", second, compute) == 1 and hits == [1]  # same cursor: kept
    storage.delete_study("s")
    with pytest.raises(hpo.StudyNotFoundError):
        cache.get(sid)


def test_trial_filter_terms() -> None:
    trials = _trials([1.0, 2.0, 3.0, 4.0])
    keep = data.trial_filter("value>=2 k=b")
    assert [t.number for t in trials if keep(t)] == [1, 3]
    assert [t.number for t in trials if data.trial_filter("x<0.25")(t)] == [0, 1]
    page = data.trial_table(trials, sort="value", descending=True, limit=2)
    assert [r["number"] for r in page["rows"]] == [3, 2] and page["total"] == 4


def test_a_comparison_before_its_first_result(client: TestClient, storage: Any) -> None:
    from hpo.compare import plan_comparison

    record = plan_comparison(
        "branin", ["random", "tpe"], seeds=2, n_trials=4, storage=storage, name="c"
    )
    path = f"/api/v1/dashboard/comparisons/{record.comparison_id}"
    page = client.get(path).json()
    assert page["comparison"]["progress"] == {"finished": 0, "expected": 16, "running": 0}
    assert (
        page["summary"]["table"] == []
        and "No trial has finished" in page["summary"]["extras"]["verdict"]["text"]
    )
    assert client.get(path, params={"known": page["version"]}).json()["unchanged"] is True
    sid = record.members[0].study_id
    storage.create_trial(sid, params={"x1": 0.0, "x2": 0.0})
    storage.finish_trial(sid, 0, TrialState.COMPLETE, value=3.0)
    later = client.get(path, params={"known": page["version"]}).json()
    assert later["version"] != page["version"] and later["comparison"]["progress"]["finished"] == 1
    assert [row["searcher"] for row in later["summary"]["table"]] == ["random", "tpe"]
    listed = client.get("/api/v1/dashboard/comparisons").json()["comparisons"]
    assert [c["name"] for c in listed] == ["c"]
    catalog = client.get("/api/v1/dashboard/catalog").json()
    assert {"branin", "svm_wine"} <= {p["name"] for p in catalog["problems"]}
    assert {"random", "tpe"} <= {s["name"] for s in catalog["searchers"] if s["available"]}
