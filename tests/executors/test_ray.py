"""The Ray executor on a real multi-node Ray cluster (see conftest.py): trials across
nodes, calls from remote trials (define-by-run, reports and ASHA, user attributes,
checkpoints), declared GPUs and fractional packing, a killed worker process and a removed
node mid-study, time limits, PBT continuing on another node, an objective from ``__main__``,
Ctrl-C and a driver killed mid-study.

No test asserts on elapsed time: trials that must overlap wait for each other through a
:class:`~tests.executors._ray_helpers.Tracker` actor, with generous limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import hpo
from hpo.executors import resolve_executor
from hpo.storage import get_storage
from hpo.trial import TrialState

from ._ray_helpers import PATIENCE, node_id, tracker
from .conftest import S3_CREDENTIALS, RayCluster

ray = pytest.importorskip("ray", reason="the Ray executor's tests need ray (hpo[ray])")

from hpo.executors.ray import RayExecutor  # noqa: E402 - after the importorskip

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": hpo.Float(0.0, 1.0)}


def states(study: hpo.Study) -> Counter[str]:
    return Counter(t.state.value for t in study.trials)


def wait_until(
    condition: Callable[[], bool],
    what: str,
    limit: float = PATIENCE,
    proc: subprocess.Popen[str] | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` after ``limit`` seconds, or
    at once if ``proc`` ended meanwhile."""
    end = time.monotonic() + limit
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the script ended before {what}:\n{out}\n{err}")
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.25)


# --- options (no cluster) --------------------------------------------------------------------
def test_ray_resolves_by_name_and_checks_its_options() -> None:
    ex = resolve_executor("ray", 3)
    assert isinstance(ex, RayExecutor) and ex.max_concurrent == 3
    assert resolve_executor("ray").max_concurrent is None  # type: ignore[attr-defined]
    assert hpo.RayExecutor is RayExecutor
    assert RayExecutor().resources == {"cpu": 1, "gpu": 0}
    with pytest.raises(ValueError, match="did you mean 'gpu'"):
        RayExecutor(resources={"gpus": 1})
    with pytest.raises(ValueError, match="fraction of one GPU or whole GPUs"):
        RayExecutor(resources={"gpu": 1.5})
    with pytest.raises(ValueError, match="non-negative number"):
        RayExecutor(resources={"cpu": -1})
    with pytest.raises(ValueError, match="max_retries"):
        RayExecutor(max_retries=-1)
    with pytest.raises(ValueError, match="max_concurrent"):
        RayExecutor(max_concurrent=0)
    with pytest.raises(ValueError, match="trial_timeout"):
        RayExecutor(trial_timeout=0)


# --- trials across nodes ---------------------------------------------------------------------
def test_trials_run_across_nodes_and_report_back(ray_cluster: RayCluster) -> None:
    gate = tracker()

    @hpo.objective(space=SPACE)
    def spread(config: dict[str, Any], trial: hpo.Trial) -> float:
        node = node_id()
        ray.get(gate.enter.remote(trial.number, node))
        ray.get(gate.wait_for.remote("", 4))  # the first four overlap: both nodes fill
        ray.get(gate.leave.remote(node))
        trial.set_user_attr("node", node)
        trial.set_user_attr("devices", list(trial.devices))
        return config["x"]

    study = hpo.create_study(spread, searcher="tpe", seed=0)
    study.optimize(n_trials=10, executor=RayExecutor(), progress=False)
    assert states(study) == {"COMPLETE": 10}
    assert [t.number for t in study.trials] == list(range(10))
    nodes = {t.user_attrs["node"] for t in study.trials}
    assert nodes == {ray_cluster.nodes["a"], ray_cluster.nodes["b"]}
    assert all(t.user_attrs["devices"] == [] for t in study.trials)  # CPU trials
    assert ray.get(gate.state.remote())["peak"][""] == 4  # as many as the cluster fits
    assert study.best_value == min(t.value for t in study.trials)  # type: ignore[type-var]


def test_define_by_run_and_asha_decide_for_remote_trials(ray_cluster: RayCluster) -> None:
    def curve(trial: hpo.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        value = 1.0
        for epoch in range(1, int(trial.budget or 9) + 1):
            value = x + (kind == "b") + 1.0 / epoch
            trial.report(epoch, value)
            if trial.should_stop():
                break
        trial.set_user_attr("epochs", epoch)
        return value

    study = hpo.create_study(
        searcher="random", stopper="asha", budget=hpo.Budget("epoch", 1, 9), seed=1
    )
    study.optimize(curve, n_trials=16, executor=RayExecutor(max_concurrent=4), progress=False)
    counts = states(study)
    assert counts["COMPLETE"] + counts["PRUNED"] == 16 and counts["PRUNED"] >= 1
    for t in study.trials:
        assert set(t.params) == {"x", "kind"}  # suggested remotely, stored by the driver
        assert sorted(t.intermediate_values) == list(range(1, t.user_attrs["epochs"] + 1))
        if t.state is TrialState.PRUNED:
            assert t.user_attrs["epochs"] < 9  # stopped at a rung by the driver's ASHA
    assert set(study.space) == {"x", "kind"}


# --- GPUs ------------------------------------------------------------------------------------
def test_gpus_are_assigned_and_fractions_pack(ray_cluster: RayCluster) -> None:
    gate = tracker()

    def gpu_trial(wait: int) -> Callable[..., float]:
        @hpo.objective(space=SPACE)
        def use(config: dict[str, Any], trial: hpo.Trial) -> float:
            ids = list(trial.devices)
            ray.get(gate.enter.remote(trial.number, *(f"gpu{i}" for i in ids)))
            ray.get(gate.wait_for.remote("", wait))
            ray.get(gate.leave.remote(*(f"gpu{i}" for i in ids)))
            trial.set_user_attr("devices", ids)
            trial.set_user_attr("visible", os.environ.get("CUDA_VISIBLE_DEVICES"))
            trial.set_user_attr("pid", os.getpid())
            return config["x"]

        return use

    # a quarter CPU and half a GPU each: node b (2 GPUs) holds four at once
    half = hpo.create_study(gpu_trial(4), searcher="random", seed=0)
    half.optimize(
        n_trials=8, executor=RayExecutor(resources={"cpu": 0.25, "gpu": 0.5}), progress=False
    )
    assert states(half) == {"COMPLETE": 8}
    state = ray.get(gate.state.remote())
    assert state["peak"][""] == 4  # packed: four trials on two GPUs at once, never more
    assert state["peak"]["gpu0"] <= 2 and state["peak"]["gpu1"] <= 2
    for t in half.trials:
        assert len(t.user_attrs["devices"]) == 1 and t.user_attrs["devices"][0] in ("0", "1")
        assert t.user_attrs["visible"] == t.user_attrs["devices"][0]
    # a fresh worker process per GPU trial: GPU memory never outlives its trial
    assert len({t.user_attrs["pid"] for t in half.trials}) == 8

    # a whole GPU each: two at once, on different devices
    gate = tracker()
    whole = hpo.create_study(gpu_trial(2), searcher="random", seed=0)
    whole.optimize(n_trials=2, executor=RayExecutor(resources={"gpu": 1}), progress=False)
    assert states(whole) == {"COMPLETE": 2}
    assert ray.get(gate.state.remote())["peak"][""] == 2
    assert {t.user_attrs["devices"][0] for t in whole.trials} == {"0", "1"}

    with pytest.raises(ValueError, match="no node of the Ray cluster fits"):
        hpo.create_study(gpu_trial(1)).optimize(
            n_trials=1, executor=RayExecutor(resources={"gpu": 4}), progress=False
        )


# --- failures --------------------------------------------------------------------------------
def test_a_killed_worker_is_retried_as_the_same_trial_from_its_checkpoint(
    ray_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # checkpoints through the driver, as on a cluster whose nodes share no filesystem
    import hpo.executors.ray as ray_executor

    monkeypatch.setattr(ray_executor, "_nodes_share_files", lambda nodes: False)

    @hpo.objective(space=SPACE, metric="value")
    def fragile(config: dict[str, Any], trial: hpo.Trial) -> dict[str, float]:
        state = trial.load_checkpoint()
        if trial.number == 2 and state is None:
            trial.save_checkpoint({"pid": os.getpid()})
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-trial
        trial.set_user_attr("pid", os.getpid())
        return {"value": config["x"], "resumed": float(state is not None)}

    study = hpo.create_study(fragile, artifacts=tmp_path / "ckpt")
    study.optimize(n_trials=5, executor=RayExecutor(max_retries=2), progress=False)
    assert states(study) == {"COMPLETE": 5}
    retried = study.trials[2]
    assert retried.metrics["resumed"] == 1.0
    killed = hpo.artifacts.get_artifact_store(tmp_path / "ckpt").load(study.name, 2)
    assert retried.user_attrs["pid"] != killed["pid"]  # a new worker, the driver's store
    assert all(t.metrics["resumed"] == 0.0 for t in study.trials if t.number != 2)


def test_a_trial_lost_every_time_fails_after_max_retries(ray_cluster: RayCluster) -> None:
    @hpo.objective(space=SPACE)
    def doomed(config: dict[str, Any], trial: hpo.Trial) -> float:
        if trial.number == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return config["x"]

    study = hpo.create_study(doomed)
    study.optimize(n_trials=3, executor=RayExecutor(max_retries=1), progress=False)
    assert states(study) == {"COMPLETE": 2, "FAILED": 1}
    error = study.trials[0].error or ""
    assert "lost 2 times (max_retries=1)" in error and "WorkerCrashedError" in error


def test_a_removed_node_mid_study_loses_no_trial(ray_cluster: RayCluster) -> None:
    node, doomed_id = ray_cluster.add_node("c", num_cpus=2)
    gate = tracker()

    @hpo.objective(space=SPACE, metric="value")
    def resilient(config: dict[str, Any], trial: hpo.Trial) -> dict[str, float]:
        here = node_id()
        state = trial.load_checkpoint()
        if state is None:
            trial.save_checkpoint({"node": here})
            trial.set_user_attr("first_node", here)
        if here == doomed_id:
            ray.get(gate.enter.remote(trial.number, "c"))
            time.sleep(3600)  # until the node goes away
        ray.get(gate.wait_for.remote("c", 2))  # a and b are full: two trials land on c
        return {"value": config["x"], "resumed": float(state is not None)}

    def remove_when_busy() -> None:
        if ray.get(gate.wait_for.remote("c", 2)):
            ray_cluster.cluster.remove_node(node, allow_graceful=False)

    remover = threading.Thread(target=remove_when_busy, daemon=True)
    remover.start()
    study = hpo.create_study(resilient)
    study.optimize(n_trials=8, executor=RayExecutor(max_retries=3), progress=False)
    remover.join(timeout=PATIENCE)
    assert states(study) == {"COMPLETE": 8}  # the exact count: none lost, none extra
    on_c = ray.get(gate.state.remote())["seen"]["c"]
    assert len(on_c) == 2
    for number in on_c:  # the same trial, resumed on another node from its checkpoint
        t = study.trials[number]
        assert t.user_attrs["first_node"] == doomed_id and t.metrics["resumed"] == 1.0


def test_trial_timeout_cancels_the_task_and_fails_the_trial(ray_cluster: RayCluster) -> None:
    @hpo.objective(space=SPACE)
    def stuck(config: dict[str, Any], trial: hpo.Trial) -> float:
        if trial.number == 1:
            time.sleep(3600)
        return config["x"]

    study = hpo.create_study(stuck)
    study.optimize(n_trials=4, executor=RayExecutor(trial_timeout=3), progress=False)
    assert states(study) == {"COMPLETE": 3, "FAILED": 1}
    assert "exceeded the per-trial time limit of 3s" in (study.trials[1].error or "")


# --- population-based training across nodes --------------------------------------------------
@pytest.mark.parametrize("store", ["file", "s3"])
def test_pbt_continues_from_checkpoints_written_on_another_node(
    ray_cluster: RayCluster,
    tmp_path: Path,
    store: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env: dict[str, Any] | None = None
    if store == "s3":  # S3-compatible object storage, credentials from the environment
        endpoint = request.getfixturevalue("s3_endpoint")
        artifacts = f"s3://hpo/pbt?endpoint_url={endpoint}"
        for key, value in S3_CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        env = {"env_vars": S3_CREDENTIALS}
    else:  # a directory every node mounts
        artifacts = f"file://{tmp_path / 'shared'}"

    @hpo.objective(
        space={"lr": hpo.Float(0.01, 1.0, log=True)},
        direction="maximize",
        budget=hpo.Budget("epoch", 1, 8),
    )
    def member(config: dict[str, Any], trial: hpo.Trial) -> float:
        state = trial.load_checkpoint()
        start, score = (state["epoch"], state["score"]) if state else (0, 0.0)
        for epoch in range(start + 1, int(trial.budget or 8) + 1):
            score += config["lr"]
            trial.report(epoch, score)
        trial.save_checkpoint({"epoch": int(trial.budget or 8), "score": score, "node": node_id()})
        trial.set_user_attr("node", node_id())
        trial.set_user_attr("loaded", state)
        return score

    study = hpo.create_study(
        member,
        searcher="pbt",
        searcher_kwargs={"population_size": 4, "interval": 2},
        seed=0,
        artifacts=artifacts,
    )
    on_a = RayExecutor(resources={"cpu": 1, "node_a": 1}, runtime_env=env)
    on_b = RayExecutor(resources={"cpu": 1, "node_b": 1}, runtime_env=env)
    study.optimize(n_trials=4, executor=on_a, progress=False)  # the first segments, on a
    study.optimize(n_trials=6, executor=on_b, progress=False)  # the next ones, on b
    assert states(study) == {"COMPLETE": 10}
    first, later = study.trials[:4], study.trials[4:]
    assert all(t.parent is None and t.user_attrs["node"] == ray_cluster.nodes["a"] for t in first)
    crossed = 0
    for t in later:
        assert t.parent is not None and t.user_attrs["node"] == ray_cluster.nodes["b"]
        parent = study.trials[t.parent]
        loaded = t.user_attrs["loaded"]
        assert loaded["epoch"] == parent.budget and loaded["score"] == parent.value
        crossed += loaded["node"] == ray_cluster.nodes["a"]
    assert crossed >= 4  # every member's second segment loaded a checkpoint written on a
    assert any(t.searcher_info.get("action") == "exploit" for t in later)


# --- the driver's process: __main__, Ctrl-C, killed --------------------------------------------
def run_script(tmp_path: Path, body: str, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / "study_script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_an_objective_defined_in_main_runs_remotely(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    proc = run_script(
        tmp_path,
        """
        import json, os, sys
        import ray
        import hpo

        OFFSET = 10.0  # a global of __main__: travels with the function, by value

        @hpo.objective(space={"x": hpo.Float(0, 1)})
        def shifted(config, trial):
            trial.set_user_attr("pid", os.getpid())
            return config["x"] + OFFSET

        ray.init(address=sys.argv[1], log_to_driver=False)
        study = hpo.create_study(shifted, searcher="random", seed=0)
        study.optimize(n_trials=6, executor="ray", progress=False)
        print(json.dumps({"driver": os.getpid(), "trials": [
            [t.state.value, t.value, t.user_attrs.get("pid")] for t in study.trials]}))
        """,
        ray_cluster.address,
    )
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    rows = result["trials"]
    assert len(rows) == 6
    assert all(state == "COMPLETE" and value >= 10.0 for state, value, _ in rows)
    assert result["driver"] not in {pid for *_, pid in rows}  # ran in Ray's workers


SLEEPER = """
import sys, time
from pathlib import Path
import hpo

OUT = Path(sys.argv[3])  # a global: read here, travels with the objective


@hpo.objective(space={"x": hpo.Float(0, 1)})
def sleeper(config, trial):
    if trial.number >= FAST:
        (OUT / f"started-{trial.number}").touch()
        time.sleep(3600)
    return config["x"]

study = hpo.create_study(sleeper, name="s", storage=sys.argv[2], heartbeat_interval=0.5,
                         grace_period=2.0, seed=0)
try:
    study.optimize(n_trials=20, executor=hpo.RayExecutor(address=sys.argv[1]),
                   progress=False)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_cancels_running_trials_and_fails_them(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ctrl_c.db'}"
    proc = run_script(tmp_path, "FAST = 0\n" + SLEEPER, ray_cluster.address, url, str(tmp_path))
    try:
        started = lambda: len(list(tmp_path.glob("started-*"))) >= 2  # noqa: E731
        wait_until(started, "two trials to start", proc=proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=PATIENCE)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    study = hpo.load_study("s", url)
    assert len(study.trials) >= 2
    for t in study.trials:
        assert t.state is TrialState.FAILED and "KeyboardInterrupt" in (t.error or "")


def test_a_killed_driver_leaves_a_study_that_continues(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    proc = run_script(tmp_path, "FAST = 3\n" + SLEEPER, ray_cluster.address, url, str(tmp_path))
    storage = get_storage(url)
    try:

        def progressed() -> bool:
            if not list(tmp_path.glob("started-*")):
                return False
            trials = storage.get_trials(storage.get_study("s").study_id).trials
            return sum(t.state is TrialState.COMPLETE for t in trials) >= 3

        wait_until(progressed, "three trials done and one running", proc=proc)
    finally:
        proc.kill()  # SIGKILL: no cleanup at all
        proc.communicate(timeout=PATIENCE)
    study = hpo.load_study("s", url, heartbeat_interval=0.5, grace_period=2.0)
    before = study.trials
    orphans = [t.number for t in before if t.state is TrialState.RUNNING]
    assert orphans and all(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in before)

    def silent() -> bool:  # the orphans' last heartbeat is older than the grace period
        cutoff = datetime.now(UTC) - timedelta(seconds=2.5)
        return all(
            t.heartbeat is None or t.heartbeat.replace(tzinfo=UTC) < cutoff
            for t in study.trials
            if t.state is TrialState.RUNNING
        )

    wait_until(silent, "the orphaned trials' heartbeats to age")

    @hpo.objective(space={"x": hpo.Float(0, 1)})
    def quick(config: dict[str, Any]) -> float:
        return config["x"]

    study.optimize(quick, n_trials=4, executor=RayExecutor(), progress=False)
    after = study.trials
    assert len(after) == len(before) + 4  # exactly the four asked for, numbers dense
    assert [t.number for t in after] == list(range(len(after)))
    assert not [t for t in after if t.state is TrialState.RUNNING]
    for number in orphans:
        assert after[number].state is TrialState.FAILED
        assert "no heartbeat" in (after[number].error or "")
    assert sum(t.state is TrialState.COMPLETE for t in after) == len(before) - len(orphans) + 4


# --- a study the hpo server drives -------------------------------------------------------------
def test_a_ray_study_whose_driver_asks_a_running_hpo_server(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    httpx = pytest.importorskip("httpx", reason="the server's client needs hpo[server]")
    pytest.importorskip("fastapi", reason="the hpo server needs hpo[server]")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("HPO_API_TOKEN", "HPO_STORAGE")}
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "hpo", "server", "--storage", f"sqlite:///{tmp_path / 's.db'}",
         "--port", str(port), "--artifacts", str(tmp_path / "server-artifacts")],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, "the hpo server", proc=server)  # type: ignore[arg-type]

        @hpo.objective(space={"x": hpo.Float(0.0, 1.0)}, budget=hpo.Budget("epoch", 1, 9))
        def curve(config: dict[str, Any], trial: hpo.Trial) -> float:
            state = trial.load_checkpoint()
            value = 1.0
            for epoch in range((state or {}).get("epoch", 0) + 1, int(trial.budget or 9) + 1):
                value = config["x"] + 1.0 / epoch
                trial.report(epoch, value)  # the server's ASHA decides
                trial.save_checkpoint({"epoch": epoch})  # to the server's artifact store
                if trial.should_stop():
                    break
            trial.set_user_attr("node", node_id())
            return value

        study = hpo.create_study(
            curve, searcher="random", stopper="asha", storage=url, name="ray-on-server", seed=0
        )
        assert type(study.driver).__name__ == "RemoteDriver"
        study.optimize(n_trials=12, executor=RayExecutor(max_concurrent=4), progress=False)
        stored = hpo.load_study("ray-on-server", url).trials  # what the server keeps
        counts = Counter(t.state.value for t in stored)
        assert counts["COMPLETE"] + counts["PRUNED"] == 12 and counts["PRUNED"] >= 1
        assert {t.user_attrs["node"] for t in stored} <= set(ray_cluster.nodes.values())
        store = hpo.artifacts.get_artifact_store(url)  # the server's artifact endpoint
        for t in stored:
            assert store.load("ray-on-server", t.number) == {"epoch": len(t.intermediate_values)}
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


# --- the example -----------------------------------------------------------------------------
def test_the_gpu_example_trains_on_ray(
    ray_cluster: RayCluster,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")
    import importlib.util

    path = ROOT / "examples" / "ray_gpu.py"
    spec = importlib.util.spec_from_file_location("example_ray_gpu", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.delenv("HPO_STORAGE", raising=False)  # the example's default storage
    # node b declares 2 GPUs, this machine has none: trials get GPU ids, train on the CPU
    study = module.main(["--n-trials", "2", "--gpus-per-trial", "0.5", "--epochs", "3"])
    out = capsys.readouterr().out
    assert states(study)["COMPLETE"] + states(study)["PRUNED"] == 2
    for t in study.trials:
        assert len(t.user_attrs["devices"]) == 1 and t.user_attrs["device"] == "cpu"
    assert "Best validation accuracy:" in out
