"""Code that test_sql.py runs in child processes (importable by name under ``spawn``)."""

from __future__ import annotations

import os
import time
from typing import Any

import hpo
from hpo.storage.sql import SQLStorage

SPACE = {"x": hpo.Float(-5.0, 5.0), "n": hpo.Int(1, 10), "kind": hpo.Categorical(["a", "b"])}
#: 4 x 6 = 24 points
GRID_SPACE = {"a": hpo.Categorical([0, 1, 2, 3]), "b": hpo.Int(0, 5)}
RANDOM_STUDY = "shared-random"
GRID_STUDY = "shared-grid"


@hpo.objective(space=SPACE)
def quadratic(config: dict[str, Any]) -> float:
    return float(config["x"] ** 2 + config["n"])


@hpo.objective(space=GRID_SPACE)
def grid_point(config: dict[str, Any], trial: hpo.Trial) -> float:
    trial.set_user_attr("pid", os.getpid())
    time.sleep(0.01)  # let the processes interleave
    return float(config["a"] * 10 + config["b"])


@hpo.objective(space=SPACE)
def slow_quadratic(config: dict[str, Any]) -> float:
    time.sleep(0.02)
    return float(config["x"] ** 2 + config["n"])


def share_studies(url: str, barrier: Any, n_random: int) -> None:
    """Open the database with the others at once, then run ``n_random`` random trials
    and as many grid trials as are left, all in studies every process shares."""
    barrier.wait(timeout=60)
    study = hpo.create_study(quadratic, storage=url, name=RANDOM_STUDY, load_if_exists=True)
    study.optimize(n_trials=n_random, progress=False)
    barrier.wait(timeout=60)  # start the grid together, so that every process claims points
    grid = hpo.create_study(
        grid_point, storage=url, name=GRID_STUDY, searcher="grid", load_if_exists=True
    )
    grid.optimize(progress=False)  # until every grid point has been claimed


def optimize_forever(url: str, name: str) -> None:
    """Optimize until killed."""
    study = hpo.create_study(slow_quadratic, storage=url, name=name, load_if_exists=True)
    study.optimize(n_trials=None, progress=False)


def open_fresh(url: str, barrier: Any, name: str) -> None:
    """Open a database that may not exist yet, together with other processes, and write."""
    barrier.wait(timeout=60)
    with SQLStorage(url) as storage:
        storage.create_study(name, direction="minimize", space=None, searcher="random")


def locked_increments(url: str, study: str, barrier: Any, n: int) -> None:
    """``n`` read-modify-write increments of the study's searcher state, each under the
    study lock and without compare-and-set: only the lock keeps updates from being lost."""
    with SQLStorage(url) as storage:
        study_id = storage.get_study(study).study_id
        barrier.wait(timeout=60)
        for _ in range(n):
            with storage.study_lock(study_id):
                state = storage.load_searcher_state(study_id).state or {}
                time.sleep(0.002)  # widen the window a lost update would need
                storage.save_searcher_state(study_id, {"n": state.get("n", 0) + 1})
