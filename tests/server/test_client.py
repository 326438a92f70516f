"""``hpo.create_study(..., storage="http://...")`` against a server in this process: the
searcher stays in the server, every executor works unchanged, errors arrive as the
same exception types, checkpoints travel through the server, requests survive a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import hpo
from hpo.exceptions import TrialFinishedError
from hpo.remote import RemoteDriver
from hpo.storage.http import (
    AuthenticationError,
    HTTPArtifactStore,
    HTTPStorage,
    RemoteStorageError,
    ServerUnavailableError,
)
from hpo.trial import TrialState

from . import objectives
from .conftest import TOKEN, LiveServer


@pytest.mark.parametrize("executor", ["serial", "thread", "process"])
def test_optimize_over_http_with_every_executor(
    live_server: Callable[..., LiveServer], sqlite_url: str, executor: str
) -> None:
    server = live_server(sqlite_url)
    n_workers = 1 if executor == "serial" else 3
    study = hpo.create_study(
        objectives.quadratic, searcher="tpe", storage=server.url, name=f"q-{executor}", seed=0
    )
    assert isinstance(study.driver, RemoteDriver)
    study.optimize(n_trials=12, executor=executor, n_workers=n_workers, progress=False)
    trials = study.trials
    assert [t.number for t in trials] == list(range(12))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert study.best_value == min(t.value for t in trials if t.value is not None)
    # the server's driver holds the searcher and saved its state
    with hpo.storage.get_storage(sqlite_url) as direct:
        assert direct.get_study(f"q-{executor}").owner == "hpo-server"
    with pytest.raises(hpo.StudyOwnedError):  # and this process may not drive it itself
        hpo.load_study(f"q-{executor}", sqlite_url)
    driver = server.state.pool.driver(study.study_id)
    driver.sync()  # the searcher learns the last tell before the next ask
    assert driver.searcher.n_told == 12


def test_ask_tell_by_hand_define_by_run_and_errors(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(None)
    study = hpo.create_study(storage=server.url, name="dbr", searcher="random", seed=1)
    study.optimize(objectives.define_by_run, n_trials=10, progress=False)
    assert {"model"} <= set(study.space) and len(study.trials) == 10
    trial = study.ask()
    again = study.ask()
    assert again.number == trial.number + 1  # two asks by hand, two trials
    study.tell(trial, 1.0)
    with pytest.raises(TrialFinishedError):
        study.tell(trial, 2.0)
    with pytest.raises(hpo.DuplicateStudyError):
        hpo.create_study(storage=server.url, name="dbr")
    assert (
        hpo.create_study(
            storage=server.url, name="dbr", searcher="random", load_if_exists=True
        ).study_id
        == study.study_id
    )
    with pytest.raises(hpo.StudyNotFoundError):
        hpo.load_study("missing", server.url)
    grid = hpo.create_study(space={"a": hpo.Int(0, 1)}, searcher="grid", storage=server.url)
    grid.optimize(lambda c: c["a"], n_trials=5, progress=False)
    assert len(grid.trials) == 2  # exhausted: the typed answer stopped the run
    with pytest.raises(hpo.SearchSpaceExhausted):
        grid.ask()
    with pytest.raises(RemoteStorageError):
        study.storage.create_trial(study.study_id, params={})
    study.enqueue({"model": "ridge", "alpha": 0.5})
    queued = study.ask()
    assert queued.params == {"model": "ridge", "alpha": 0.5}


def test_multi_fidelity_reports_and_checkpoints_through_the_server(
    live_server: Callable[..., LiveServer], sqlite_url: str
) -> None:
    server = live_server(sqlite_url)
    study = hpo.create_study(
        objectives.curve,
        searcher="pbt",
        storage=server.url,
        searcher_kwargs={"population_size": 4, "interval": 3},
        seed=0,
    )
    study.optimize(n_trials=12, executor="process", n_workers=2, progress=False)
    trials = study.trials
    assert len(trials) == 12 and all(t.state.is_finished for t in trials)
    assert any(t.parent is not None for t in trials)  # PBT continued from checkpoints
    store = HTTPArtifactStore(server.url)
    assert store.exists(study.name, 0) and store.load(study.name, 0)["epoch"] >= 1
    # the server keeps them where its driver reads them
    assert server.state.pool.driver(study.study_id).load_checkpoint(0) is not None
    asha = hpo.create_study(
        objectives.curve, searcher="random", stopper="asha", storage=server.url, seed=1
    )
    asha.optimize(n_trials=9, n_workers=3, progress=False)
    assert any(t.state is TrialState.PRUNED for t in asha.trials)


def test_auth_over_the_client(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None, token=TOKEN)
    anonymous = HTTPStorage(server.url, token="", retry_timeout=0)
    assert anonymous.list_studies() == []  # reads are open
    with pytest.raises(AuthenticationError, match="token"):
        hpo.create_study(storage=anonymous, name="x")
    authed = HTTPStorage(server.url, token=TOKEN)
    study = hpo.create_study(objectives.quadratic, storage=authed, name="x")
    study.optimize(n_trials=3, progress=False)
    assert len(study.trials) == 3
    private = live_server(None, token=TOKEN, private=True)
    with pytest.raises(AuthenticationError):
        HTTPStorage(private.url, token="", retry_timeout=0).list_studies()
    assert HTTPStorage(private.url, token=TOKEN).list_studies() == []


def test_requests_survive_a_server_restart(
    live_server: Callable[..., LiveServer], sqlite_url: str
) -> None:
    server = live_server(sqlite_url)
    study = hpo.create_study(objectives.quadratic, storage=server.url, name="r", seed=0)
    study.optimize(n_trials=3, progress=False)
    server.stop()
    restarted = threading.Event()

    def restart() -> None:
        server.start()
        restarted.set()

    timer = threading.Timer(0.5, restart)
    timer.start()
    study.optimize(n_trials=3, progress=False)  # retried until the server is back
    # (the trials can finish before restart() returns from waiting for the start: join first)
    timer.join()
    assert restarted.is_set() and len(study.trials) == 6
    server.stop()
    with pytest.raises(ServerUnavailableError, match="did not answer"):
        HTTPStorage(server.url, retry_timeout=0.3).list_studies()


def test_compare_over_http(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(None)
    result = hpo.compare(
        "branin", ["random", "tpe"], seeds=2, n_trials=6, storage=server.url, name="cmp"
    )
    assert set(result.table()["searcher"]) == {"random", "tpe"}
    again = hpo.load_comparison("cmp", server.url)
    assert [m.study_name for m in again.record.members] == [
        m.study_name for m in result.record.members
    ]
