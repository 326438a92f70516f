"""A trial whose process died is failed by the next process that asks; a live one is not.

No test here waits on the wall clock: the asking driver's clock is injected (an hour
later, or just past a live trial's last beat), and beats are awaited as events."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import hpo
from hpo.driver import Clock, LocalDriver
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
        study = hpo.create_study(hangs, name="crashy", storage=sys.argv[1])
        study.optimize(n_trials=3, progress=False)
    """
)


@hpo.objective(space=SPACE)
def quick(config):  # type: ignore[no-untyped-def]
    return config["x"]


def _study_with_clock(
    name: str, storage: hpo.storage.Storage | str, clock: Clock, **kwargs: float
) -> hpo.Study:
    """A study of ``quick`` whose driver reads the time from ``clock``."""
    store = hpo.storage.get_storage(storage)
    driver = LocalDriver(store, store.get_study(name), clock=clock, **kwargs)
    return hpo.Study(store, driver.record, quick, driver=driver)


def test_trial_of_a_killed_process_is_failed_by_the_next_asker(tmp_path: Path) -> None:
    script = tmp_path / "hangs.py"
    script.write_text(HANGING_SCRIPT)
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    proc = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(timeout=30)
    now = hpo.load_study("crashy", url, quick)
    now.optimize(n_trials=1, progress=False)  # within the grace period: left alone
    assert [t.state for t in now.trials] == [TrialState.RUNNING, TrialState.COMPLETE]
    an_hour_later = datetime.now(UTC) + timedelta(hours=1)
    study = _study_with_clock("crashy", url, lambda: an_hour_later)
    study.optimize(n_trials=1, progress=False)
    trials = study.trials
    assert [t.state for t in trials] == [
        TrialState.FAILED,
        TrialState.COMPLETE,
        TrialState.COMPLETE,
    ]
    assert "presumed dead" in (trials[0].error or "")


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds (a generous limit only against hangs)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_live_trial_keeps_beating_and_is_never_failed(tmp_path: Path, backend: str) -> None:
    storage: hpo.storage.Storage | str
    if backend == "memory":
        storage = hpo.storage.InMemoryStorage()
    else:
        storage = f"sqlite:///{tmp_path / 'live.db'}"
    release = threading.Event()

    @hpo.objective(space=SPACE)
    def slow(config):  # type: ignore[no-untyped-def]
        assert release.wait(60)
        return config["x"]

    runner = hpo.create_study(
        slow, name="live", storage=storage, heartbeat_interval=0.02, grace_period=30
    )
    thread = threading.Thread(target=runner.optimize, kwargs={"n_trials": 1, "progress": False})
    thread.start()
    store = runner.storage
    beats: list[datetime] = []

    def beat_seen() -> bool:
        trials = store.get_trials(runner.study_id).trials
        beat = trials[0].heartbeat if trials else None
        if beat is not None and (not beats or beat > beats[-1]):
            beats.append(beat)
        return len(beats) >= 3

    _wait_for(beat_seen, "three heartbeats of the running trial")
    # a trial started and never beaten since: its process died right after starting it
    dead = LocalDriver(store, store.get_study("live")).start_trial(heartbeat=True).number
    _wait_for(lambda: beat_seen() and beats[-1] > _beat_of(store, runner.study_id, dead),
              "a heartbeat after the dead trial started")  # fmt: skip
    # the other worker's clock puts the cut-off at the live trial's last beat seen: the
    # live trial beat at or after it, the dead one strictly before
    cutoff_clock = beats[-1] + timedelta(seconds=30)
    other = _study_with_clock(
        "live", store, lambda: cutoff_clock, heartbeat_interval=0.02, grace_period=30
    )
    trial = other.ask()  # asking checks for stale trials
    other.tell(trial, trial.params["x"])
    assert other.trials[dead].state is TrialState.FAILED
    assert other.trials[0].state is TrialState.RUNNING
    release.set()
    thread.join(timeout=60)
    first = other.trials[0]
    assert first.state is TrialState.COMPLETE, first.error
    assert first.heartbeat is not None and first.heartbeat > first.datetime_start  # type: ignore[operator]


def _beat_of(store: hpo.storage.Storage, study_id: int, number: int) -> datetime:
    beat = store.get_trial(study_id, number).heartbeat
    assert beat is not None
    return beat


def test_trials_driven_by_hand_are_never_judged_stale() -> None:
    study = hpo.create_study(space=SPACE, name="by-hand")
    manual = study.ask()
    a_day_later = datetime.now(UTC) + timedelta(days=1)
    later = _study_with_clock("by-hand", study.storage, lambda: a_day_later)
    later.tell(later.ask(), 0.5)  # this ask checks for stale trials
    assert study.trials[0].state is TrialState.RUNNING
    study.tell(manual, 0.1)
    assert study.best_value == 0.1


def test_heartbeat_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="heartbeat_interval must be > 0"):
        hpo.create_study(space=SPACE, heartbeat_interval=0)
    with pytest.raises(ValueError, match="must exceed heartbeat_interval"):
        hpo.create_study(space=SPACE, heartbeat_interval=1.0, grace_period=0.5)
