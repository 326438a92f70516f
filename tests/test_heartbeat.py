"""A trial whose process died is failed by the next process that asks; a live one is not."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import hpo
from hpo.trial import TrialState

SPACE = {"x": hpo.Float(0.0, 1.0)}

HANGING_SCRIPT = textwrap.dedent(
    """
    import sys, time, hpo

    @hpo.objective(space={"x": hpo.Float(0, 1)})
    def hangs(config):
        print("started", flush=True)
        time.sleep(600)

    if __name__ == "__main__":
        study = hpo.create_study(hangs, name="crashy", storage=sys.argv[1],
                                 heartbeat_interval=0.1, grace_period=0.5)
        study.optimize(n_trials=3, progress=False)
    """
)


@hpo.objective(space=SPACE)
def quick(config):  # type: ignore[no-untyped-def]
    return config["x"]


def test_trial_of_a_killed_process_is_failed_by_the_next_asker(tmp_path: Path) -> None:
    script = tmp_path / "hangs.py"
    script.write_text(HANGING_SCRIPT)
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(timeout=30)
    study = hpo.load_study("crashy", url, quick, heartbeat_interval=0.1, grace_period=0.5)
    assert [t.state for t in study.trials] == [TrialState.RUNNING]
    time.sleep(0.6)
    study.optimize(n_trials=2, progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [
        TrialState.FAILED,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
    ]
    assert "presumed dead" in (trials[0].error or "")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_live_trial_keeps_beating_and_is_never_failed(tmp_path: Path, backend: str) -> None:
    storage: hpo.storage.Storage | str
    if backend == "memory":
        storage = hpo.storage.InMemoryStorage()
    else:
        storage = f"sqlite:///{tmp_path / 'live.db'}"
    started = threading.Event()

    @hpo.objective(space=SPACE)
    def slow(config):  # type: ignore[no-untyped-def]
        started.set()
        time.sleep(1.2)
        return config["x"]

    runner = hpo.create_study(
        slow, name="live", storage=storage, heartbeat_interval=0.1, grace_period=0.3
    )
    thread = threading.Thread(target=runner.optimize, kwargs={"n_trials": 1, "progress": False})
    thread.start()
    assert started.wait(10)
    other = hpo.load_study(
        "live",
        storage,
        quick,
        heartbeat_interval=0.1,
        grace_period=0.3,
    )
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # another worker keeps asking (and checking staleness)
        trial = other.ask()
        other.tell(trial, trial.params["x"])
        time.sleep(0.05)
    thread.join(timeout=10)
    first = other.trials[0]
    assert first.state is TrialState.COMPLETE, first.error
    assert first.heartbeat is not None and first.heartbeat > first.datetime_start  # type: ignore[operator]


def test_trials_driven_by_hand_are_never_judged_stale() -> None:
    study = hpo.create_study(space=SPACE, heartbeat_interval=0.05, grace_period=0.1)
    manual = study.ask()
    time.sleep(0.2)
    study.tell(study.ask(), 0.5)  # this ask checks for stale trials
    assert study.trials[0].state is TrialState.RUNNING
    study.tell(manual, 0.1)
    assert study.best_value == 0.1


def test_heartbeat_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="heartbeat_interval must be > 0"):
        hpo.create_study(space=SPACE, heartbeat_interval=0)
    with pytest.raises(ValueError, match="must exceed heartbeat_interval"):
        hpo.create_study(space=SPACE, heartbeat_interval=1.0, grace_period=0.5)
