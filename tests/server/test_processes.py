"""Real ``hpo server`` processes: the API on SQLite and PostgreSQL, 16 concurrent workers
through one server and through two server processes on one PostgreSQL, kill -9 of the
server while workers tell, kill -9 of a worker, ``hpo worker``, comparison jobs that
survive a restart, and the command's refusals."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import hpo
from hpo.storage.http import HTTPStorage

from . import objectives
from .conftest import REPO, TOKEN, ServerProcess, free_port, wait_for

pytestmark = pytest.mark.slow
API = "/api/v1"
SPAWN = __import__("multiprocessing").get_context("spawn")


def test_real_server_serves_the_api(
    server_process: Callable[..., ServerProcess], sql_url: str
) -> None:
    server = server_process(sql_url, "--token", TOKEN, "--max-body-bytes", "20000")
    storage = HTTPStorage(server.url, token=TOKEN)
    study = hpo.create_study(objectives.quadratic, searcher="tpe", storage=storage, name="a/b")
    study.optimize(n_trials=8, n_workers=4, progress=False)
    assert len(study.trials) == 8 and study.best_value is not None
    assert httpx.get(f"{server.url}/docs").status_code == 200
    anonymous = httpx.Client(base_url=server.url)
    assert anonymous.get(f"{API}/studies").status_code == 200  # reads are open
    denied = anonymous.post(f"{API}/studies", json={"name": "x"})
    assert denied.status_code == 401 and denied.json()["code"] == "unauthorized"
    assert TOKEN not in denied.text and TOKEN not in server.output()
    authed = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"})
    big = authed.post(f"{API}/studies", json={"name": "x", "user_attrs": {"a": "x" * 30000}})
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    objective = authed.post(
        f"{API}/comparisons",
        json={"objective": "os:system", "searchers": ["random"], "n_trials": 1},
    )
    assert objective.status_code == 403 and objective.json()["code"] == "objective_not_allowed"
    # SIGTERM: a graceful shutdown (uvicorn re-raises the signal once it is done)
    assert server.terminate() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output()


def test_several_workers_on_sqlite_are_refused(tmp_path: Any, sqlite_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hpo", "server", "--storage", sqlite_url, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 2
    assert "--workers 2 needs PostgreSQL" in proc.stderr and "Traceback" not in proc.stderr


def _concurrent_run(urls: list[str], study: str, n_processes: int = 2) -> list[Any]:
    """16 workers (2 processes x 8 threads, spread over ``urls``) x 50 trials each; the
    second process's workers tell and ask in one request (``finish_and_start``)."""
    with concurrent.futures.ProcessPoolExecutor(n_processes, mp_context=SPAWN) as pool:
        futures = [
            pool.submit(
                objectives.ask_tell_workers, urls[i % len(urls)], study, 8, 50, i, i % 2 == 1
            )
            for i in range(n_processes)
        ]
        return [ack for f in futures for ack in f.result(timeout=600)]


@pytest.mark.parametrize("searcher", ["grid", "tpe"])
@pytest.mark.parametrize("servers", [1, 2])
def test_sixteen_workers_on_one_study(
    server_process: Callable[..., ServerProcess],
    sqlite_url: str,
    postgres_url: str,
    searcher: str,
    servers: int,
) -> None:
    url = sqlite_url if servers == 1 else postgres_url
    started = [server_process(url) for _ in range(servers)]
    storage = HTTPStorage(started[0].url)
    space = objectives.GRID_SPACE if searcher == "grid" else objectives.SPACE
    study = hpo.create_study(
        space=space,
        searcher=searcher,
        storage=storage,
        name="shared",
        seed=0,
        searcher_kwargs={"n_startup": 10, "n_candidates": 8} if searcher == "tpe" else {},
    )
    if servers == 2:  # both processes serve the study: its searcher is shared
        pids = {httpx.get(f"{s.url}{API}/info").json()["pid"] for s in started}
        assert len(pids) == 2 and all(
            httpx.get(f"{s.url}{API}/info").json()["replica"] for s in started
        )
    acked = _concurrent_run([s.url for s in started], "shared")
    trials = study.trials
    assert len(acked) == 800 and len(trials) == 800  # exactly the trials asked for
    assert [t.number for t in trials] == list(range(800))
    assert all(t.state is hpo.TrialState.COMPLETE for t in trials)
    by_number = {t.number: t for t in trials}
    for number, params, value in acked:  # no lost tell
        assert by_number[number].value == value and by_number[number].params == params
    points = {tuple(sorted(t.params.items())) for t in trials}
    if searcher == "grid":
        assert len(points) == 800  # every grid point exactly once, none twice
        with pytest.raises(hpo.SearchSpaceExhausted):
            study.ask()
    else:
        assert len(points) == 800  # 800 distinct configurations
        saved = storage.load_searcher_state(study.study_id)
        assert saved.version >= 1


def test_kill_9_the_server_while_workers_tell(
    server_process: Callable[..., ServerProcess], sqlite_url: str
) -> None:
    server = server_process(sqlite_url)
    storage = HTTPStorage(server.url, retry_timeout=120)
    study = hpo.create_study(
        space=objectives.SPACE, searcher="random", storage=storage, name="durable", seed=0
    )
    results: list[Any] = []
    failures: list[BaseException] = []

    def workers() -> None:
        try:
            results.extend(objectives.ask_tell_workers(server.url, "durable", 8, 40, 0))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=workers)
    thread.start()
    wait_for(lambda: storage.count_trials(study.study_id) >= 60, 120, "60 trials")
    server.kill()  # kill -9, in the middle of asks and tells
    restarted = server_process(sqlite_url, port=server.port)
    thread.join(300)
    assert not thread.is_alive() and failures == []
    assert len(results) == 320  # every worker carried on and finished its trials
    stored = {t.number: t for t in HTTPStorage(restarted.url).get_trials(study.study_id).trials}
    for number, _params, value in results:  # every acknowledged tell survived the crash
        assert stored[number].state is hpo.TrialState.COMPLETE and stored[number].value == value
    complete = [t for t in stored.values() if t.state is hpo.TrialState.COMPLETE]
    assert len(complete) == 320
    # at most the trials in flight at the crash are left RUNNING (the reaper fails them)
    assert len(stored) - len(complete) <= 8


def test_kill_9_a_worker_fails_its_trial_with_nobody_asking(
    server_process: Callable[..., ServerProcess], sqlite_url: str, tmp_path: Any
) -> None:
    server = server_process(sqlite_url, "--heartbeat-interval", "0.5", "--grace-period", "2")
    client = httpx.Client(base_url=server.url)
    plain = client.post(
        f"{API}/studies",
        json={
            "name": "plain",
            "space": hpo.Space(objectives.SPACE).to_json(),
            "searcher": "random",
        },
    ).json()
    retried = client.post(
        f"{API}/studies",
        json={
            "name": "retried",
            "space": hpo.Space(objectives.SPACE).to_json(),
            "searcher": "random",
            "retries": 1,
        },
    ).json()
    workers = []
    for name in ("plain", "retried"):
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hpo",
                    "worker",
                    "--server",
                    server.url,
                    "--study",
                    name,
                    "tests.server.objectives:hang",
                    "--worker-id",
                    f"w-{name}",
                ],
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    for study in (plain, retried):
        wait_for(
            lambda s=study: client.get(
                f"{API}/studies/{s['study_id']}/trials", params={"states": "RUNNING"}
            ).json()["trials"],
            120,
            "a running trial",
        )
    for proc in workers:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def trial_failed(study: dict[str, Any]) -> Any:
        trial = client.get(f"{API}/studies/{study['study_id']}/trials/0").json()
        return trial["state"] == "FAILED" and trial

    failed = wait_for(lambda: trial_failed(plain), 120, "the reaper")
    assert "no heartbeat" in failed["error"]
    wait_for(lambda: trial_failed(retried), 120, "the reaper")
    queued = client.get(
        f"{API}/studies/{retried['study_id']}/trials", params={"states": "WAITING"}
    ).json()["trials"]
    assert len(queued) == 1 and queued[0]["user_attrs"]["hpo:retry_of"] == 0


def test_hpo_worker_runs_until_the_study_is_done(
    server_process: Callable[..., ServerProcess], sqlite_url: str
) -> None:
    server = server_process(sqlite_url)
    hpo.create_study(space=objectives.SPACE, searcher="random", storage=server.url, name="w")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpo",
                "worker",
                "--server",
                server.url,
                "--study",
                "w",
                "tests.server.objectives:quadratic",
                "--total-trials",
                "20",
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    trials = HTTPStorage(server.url).get_trials(hpo.load_study("w", server.url).study_id).trials
    assert 20 <= len(trials) <= 21 and all(t.state.is_finished for t in trials)


def test_comparison_job_survives_a_restart(
    server_process: Callable[..., ServerProcess], sqlite_url: str
) -> None:
    args = (
        "--job-executor",
        "thread",
        "--heartbeat-interval",
        "0.5",
        "--grace-period",
        "2",
        "--allow-objective",
        "tests.server.objectives:*",
    )
    server = server_process(sqlite_url, *args, env={"HPO_TEST_SLEEP": "0.02"})
    client = httpx.Client(base_url=server.url, timeout=60)
    created = client.post(
        f"{API}/comparisons",
        json={
            "name": "cmp",
            "objective": "tests.server.objectives:slow_quadratic",
            "searchers": ["random", "tpe"],
            "seeds": 2,
            "n_trials": 25,
        },
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert len(record["members"]) == 4 and record["job"]["state"] == "running"
    members = [m["study_id"] for m in record["members"]]

    def finished() -> int:
        return sum(
            client.get(f"{API}/studies/{sid}/summary").json()["counts"]["COMPLETE"]
            for sid in members
        )

    wait_for(lambda: finished() >= 10, 120, "the job to start")
    server.kill()
    restarted = server_process(sqlite_url, *args, port=server.port, env={"HPO_TEST_SLEEP": "0.02"})
    client = httpx.Client(base_url=restarted.url, timeout=60)

    def done() -> Any:
        job = client.get(f"{API}/comparisons/{record['comparison_id']}").json()["job"]
        return job is not None and job["state"] != "running" and job

    job = wait_for(done, 300, "the resumed job")
    assert job["state"] == "done", job
    for sid in members:
        counts = client.get(f"{API}/studies/{sid}/summary").json()["counts"]
        assert counts["COMPLETE"] + counts["FAILED"] + counts["PRUNED"] >= 25
    summary = client.get(f"{API}/comparisons/{record['comparison_id']}/summary").json()
    assert set(summary["labels"]) == {"random", "tpe"}
    assert summary["record"]["problem"] == "tests.server.objectives:slow_quadratic"


def test_server_workers_flag_on_postgres(
    server_process: Callable[..., ServerProcess], postgres_url: str
) -> None:
    server = server_process(postgres_url, "--workers", "2")
    study = hpo.create_study(
        space=objectives.SPACE,
        searcher="grid",
        storage=server.url,
        searcher_kwargs={"resolution": 3},
        name="g",
    )
    acked = objectives.ask_tell_workers(server.url, "g", 6, 3, 0)
    assert len(acked) == 18 and len(study.trials) == 18
    assert len({tuple(sorted(p.items())) for _n, p, _v in acked}) == 18
    free_port()  # the port is the server's until the fixture kills it
