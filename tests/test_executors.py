"""Local executors: serial, threads and processes; budgets, time limits, crashes, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import hpo
from hpo.executors import ProcessExecutor, SerialExecutor, ThreadExecutor, resolve_executor
from hpo.trial import TrialState

SPACE = {"x": hpo.Float(0.0, 1.0)}


# Module-level objectives: the process executor pickles them by reference.
@hpo.objective(space=SPACE)
def sleepy(config):  # type: ignore[no-untyped-def]
    if config["x"] > 0.8:
        time.sleep(30)
    return config["x"]


@hpo.objective(space=SPACE)
def crashes(config):  # type: ignore[no-untyped-def]
    if config["x"] > 0.5:
        os._exit(7)
    return config["x"]


@hpo.objective(space=SPACE)
def pid_and_reports(config, trial):  # type: ignore[no-untyped-def]
    for step in range(3):
        trial.report(step, config["x"] * step)
    trial.set_user_attr("pid", os.getpid())
    return config["x"]


def define_by_run(trial):  # type: ignore[no-untyped-def]
    kind = trial.suggest_categorical("kind", ["a", "b"])
    x = trial.suggest_float("x", 0.0, 1.0)
    return x + (kind == "b")


@hpo.objective(space=SPACE)
def raises_keyerror(config):  # type: ignore[no-untyped-def]
    raise KeyError("outside catch")


def test_resolve_executor_defaults_and_names() -> None:
    assert isinstance(resolve_executor(None, 1), SerialExecutor)
    assert isinstance(resolve_executor(None, 3), ThreadExecutor)
    assert isinstance(resolve_executor("process", 2), ProcessExecutor)
    with pytest.raises(ValueError, match="runs one worker"):
        resolve_executor("serial", 2)


def test_threads_really_run_in_parallel() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    @hpo.objective(space=SPACE)
    def track(config):  # type: ignore[no-untyped-def]
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return config["x"]

    study = hpo.create_study(track, seed=0)
    study.optimize(n_trials=12, n_workers=4, progress=False)
    assert len(study.trials) == 12 and peak == 4


def test_process_executor_runs_trials_in_other_processes_with_reports() -> None:
    study = hpo.create_study(pid_and_reports, seed=0)
    study.optimize(n_trials=6, executor=ProcessExecutor(2), progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    pids = {t.user_attrs["pid"] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    for t in trials:
        assert t.intermediate_values == {s: pytest.approx(t.params["x"] * s) for s in range(3)}


def test_process_executor_define_by_run_goes_through_the_driver() -> None:
    study = hpo.create_study(seed=3)
    study.optimize(define_by_run, n_trials=8, executor="process", n_workers=2, progress=False)
    assert set(study.space) == {"kind", "x"}
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert len({t.params["x"] for t in study.trials}) == 8


def test_per_trial_time_limit_fails_only_the_slow_trials() -> None:
    study = hpo.create_study(sleepy, seed=5)
    t0 = time.monotonic()
    study.optimize(n_trials=12, executor=ProcessExecutor(2, trial_timeout=1.0), progress=False)
    assert time.monotonic() - t0 < 25  # no trial was allowed its 30 s sleep
    for t in study.trials:
        if t.params["x"] > 0.8:
            assert t.state is TrialState.FAILED
            assert "per-trial time limit of 1s" in (t.error or "")
        else:
            assert t.state is TrialState.COMPLETE
    assert any(t.state is TrialState.FAILED for t in study.trials)
    assert len(study.trials) == 12


def test_a_crashed_worker_fails_its_trial_and_is_replaced() -> None:
    study = hpo.create_study(crashes, seed=1)
    study.optimize(n_trials=10, executor=ProcessExecutor(2), progress=False)
    states = Counter(t.state for t in study.trials)
    assert sum(states.values()) == 10 and states[TrialState.FAILED] >= 1
    for t in study.get_trials([TrialState.FAILED]):
        assert t.params["x"] > 0.5 and "died (exit code 7)" in (t.error or "")


def test_closures_and_lambdas_travel_to_worker_processes_by_value() -> None:
    offset = 10.0  # a closure over a local: pickle refuses it, cloudpickle sends it

    def shifted(config):  # type: ignore[no-untyped-def]
        return config["x"] + offset

    study = hpo.create_study(space=SPACE, seed=0)
    study.optimize(shifted, n_trials=3, executor="process", n_workers=2, progress=False)
    study.optimize(lambda c: -c["x"], n_trials=2, executor="process", progress=False)
    values = [t.value for t in study.trials]
    assert all(v is not None and v >= 10 for v in values[:3]) and all(
        v is not None and v <= 0 for v in values[3:]
    )


def test_an_objective_that_cannot_travel_is_refused_with_advice() -> None:
    lock = threading.Lock()  # no pickler can send a lock

    def holds_a_lock(config):  # type: ignore[no-untyped-def]
        with lock:
            return config["x"]

    study = hpo.create_study(space=SPACE)
    with pytest.raises(TypeError, match=r"cannot be pickled, even by value.*executor='thread'"):
        study.optimize(holds_a_lock, n_trials=2, executor="process", progress=False)
    assert study.trials == []


def test_process_executor_reraises_uncaught_errors() -> None:
    study = hpo.create_study(raises_keyerror)
    with pytest.raises(KeyError, match="outside catch"):
        study.optimize(
            n_trials=4, executor="process", n_workers=1, catch=(ValueError,), progress=False
        )
    assert [t.state for t in study.trials] == [TrialState.FAILED]


INTERRUPTED_SCRIPT = textwrap.dedent(
    """
    import sys, time, hpo

    @hpo.objective(space={"x": hpo.Float(0, 1)})
    def slow(config):
        sys.stdout.write("started\\n")  # one write: threads must not interleave
        sys.stdout.flush()
        time.sleep(60)
        return config["x"]

    if __name__ == "__main__":
        study = hpo.create_study(slow, name="ctrl-c", storage=sys.argv[1])
        study.optimize(n_trials=10, executor=sys.argv[2], n_workers=int(sys.argv[3]),
                       progress=False)
    """
)


@pytest.mark.parametrize(("executor", "n_workers"), [("serial", 1), ("thread", 2), ("process", 2)])
def test_ctrl_c_marks_running_trials_failed(tmp_path: Path, executor: str, n_workers: int) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED_SCRIPT)
    url = f"sqlite:///{tmp_path / 'ctrl-c.db'}"
    proc = subprocess.Popen(
        [sys.executable, str(script), url, executor, str(n_workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = 0
    while seen < n_workers:
        line = proc.stdout.readline()
        assert line, "the script ended before its trials started"
        seen += line.count("started")
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    study = hpo.load_study("ctrl-c", url)
    trials = study.trials
    assert len(trials) == n_workers
    assert all(t.state is TrialState.FAILED for t in trials)
    assert all("interrupted" in (t.error or "") for t in trials)


def test_process_trial_durations_exclude_the_workers_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from _slow_start import STARTUP_S, quick

    monkeypatch.setenv("HPO_TEST_SLOW_START", "1")  # workers import the objective slowly
    study = hpo.create_study(quick, searcher="random", seed=0)
    study.optimize(n_trials=4, executor="process", n_workers=2, progress=False)
    durations = [t.duration for t in study.trials]
    assert all(d is not None and d < STARTUP_S / 2 for d in durations), durations
