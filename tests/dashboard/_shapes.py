"""Studies of every shape the dashboard must show, in one SQLite database.

Small studies are run for real through ``hpo`` (random, TPE, an ASHA stopper, PBT, a
portfolio, failures, running trials, a comparison). The large ones (a 50,000-trial study,
a 10 searchers x 10 seeds comparison, 1,000 small studies) are written straight into the
tables in a few transactions: running a searcher 50,000 times would take minutes, and the
dashboard only reads what is stored.

``python -m tests.dashboard._shapes sqlite:///shapes.db`` builds the database by hand.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

import hpo
from hpo.storage._schema import comparison_studies, studies, trials
from hpo.storage.sql import SQLStorage
from hpo.trial import TrialState

BIG_TRIALS = 50_000
MANY_STUDIES = 1_000
BIG_SEARCHERS, BIG_SEEDS, BIG_BUDGET = 10, 10, 60

SPACE = {
    "x": hpo.Float(-5.0, 10.0),
    "lr": hpo.Float(1e-4, 1.0, log=True),
    "depth": hpo.Int(1, 8),
    "kernel": hpo.Categorical(["rbf", "linear", "poly"]),
}


def _loss(c: dict[str, Any]) -> float:
    bonus = {"rbf": 0.0, "linear": 0.6, "poly": 1.2}[c["kernel"]]
    return (
        (c["x"] - 2.0) ** 2 / 10 + abs(math.log10(c["lr"]) + 2) + 0.1 * abs(c["depth"] - 4) + bonus
    )


@dataclass
class Shapes:
    """Ids of the stored shapes, by name."""

    url: str
    studies: dict[str, int] = field(default_factory=dict)
    comparisons: dict[str, int] = field(default_factory=dict)


def build(url: str, *, big: bool = True) -> Shapes:
    """Every shape in the database at ``url`` (a fresh SQLite file)."""
    hpo.set_verbosity(40)  # failures are the point of one study: keep the log quiet
    shapes = Shapes(url)
    storage = SQLStorage(url)
    try:
        _small(storage, shapes)
        if big:
            shapes.studies["big"] = _big_study(storage, "big-50k", BIG_TRIALS)
            shapes.comparisons["big"] = _big_comparison(storage)
            _many_studies(storage, MANY_STUDIES)
    finally:
        storage.close()
    return shapes


def _small(storage: SQLStorage, shapes: Shapes) -> None:
    def add(name: str, study: hpo.Study) -> None:
        shapes.studies[name] = storage.get_study(study.name).study_id

    empty = hpo.create_study(space=SPACE, storage=storage, name="empty", searcher="random")
    add("empty", empty)

    finished = hpo.create_study(
        space=SPACE, storage=storage, name="finished", searcher="tpe", seed=1
    )
    finished.optimize(_loss, n_trials=40, progress=False)
    finished.set_user_attr("dataset", "synthetic")
    add("finished", finished)

    running = hpo.create_study(
        space=SPACE, storage=storage, name="running", searcher="random", seed=2
    )
    running.optimize(_loss, n_trials=12, progress=False)
    record = storage.get_study("running")
    rng = np.random.default_rng(0)
    for _ in range(3):  # trials in flight: a worker beats them
        config = record.space.sample(rng)
        storage.create_trial(record.study_id, params=config, heartbeat=True, worker_id="w-1")
    add("running", running)

    def flaky(c: dict[str, Any]) -> float:
        if c["kernel"] == "poly":
            raise RuntimeError(f"poly kernel diverged at depth {c['depth']}")
        return _loss(c)

    failures = hpo.create_study(
        space=SPACE, storage=storage, name="with-failures", searcher="random", seed=3
    )
    failures.optimize(flaky, n_trials=30, progress=False)
    add("failures", failures)

    @hpo.objective(space=SPACE, budget=hpo.Budget("epoch", 1, 9))
    def learner(config: dict[str, Any], trial: hpo.Trial) -> float:
        final = _loss(config)
        value = final + 3.0
        for epoch in range(1, int(trial.budget or 9) + 1):
            value = final + 3.0 / epoch
            trial.report(epoch, value)
            if trial.should_stop():
                break
        return value

    asha = hpo.create_study(
        learner, storage=storage, name="multi-fidelity", searcher="random", stopper="asha", seed=4
    )
    asha.optimize(n_trials=40, progress=False)
    add("multi_fidelity", asha)

    pbt = hpo.create_study(learner, storage=storage, name="pbt", searcher="pbt", seed=5)
    pbt.optimize(n_trials=32, progress=False)
    add("pbt", pbt)

    folio = hpo.create_study(
        space=SPACE, storage=storage, name="portfolio", searcher="portfolio", seed=6
    )
    folio.optimize(_loss, n_trials=36, progress=False)
    add("portfolio", folio)

    result = hpo.compare(
        "branin", ["random", "tpe"], seeds=3, n_trials=12, storage=storage, name="small-comparison"
    )
    shapes.comparisons["small"] = result.record.comparison_id


# --- bulk writes ----------------------------------------------------------------------------
def _trial_rows(
    study_id: int,
    n: int,
    rng: np.random.Generator,
    start: datetime,
    *,
    failed_every: int = 0,
    seq0: int = 0,
) -> list[dict[str, Any]]:
    xs = rng.uniform(-5, 10, n)
    lrs = 10 ** rng.uniform(-4, 0, n)
    depths = rng.integers(1, 9, n)
    kernels = rng.choice(["rbf", "linear", "poly"], n)
    rows = []
    for i in range(n):
        config = {
            "x": float(xs[i]),
            "lr": float(lrs[i]),
            "depth": int(depths[i]),
            "kernel": str(kernels[i]),
        }
        failed = failed_every and i % failed_every == failed_every - 1
        begin = start + timedelta(seconds=2 * i)
        rows.append(
            {
                "study_id": study_id,
                "number": i,
                "state": (TrialState.FAILED if failed else TrialState.COMPLETE).value,
                "params": config,
                "value": None if failed else _loss(config) + float(rng.normal(0, 0.05)),
                "metrics": {},
                "user_attrs": {},
                "datetime_start": begin,
                "datetime_complete": begin + timedelta(seconds=1.5),
                "error": "Traceback (most recent call last):\nValueError: bad batch"
                if failed
                else None,
                "budget": None,
                "parent": None,
                "searcher_time": 0.001,
                "heartbeat": None,
                "seq": seq0 + i + 1,
                "suggestion_id": None,
                "searcher_info": {},
                "worker_id": None,
            }
        )
    return rows


def _finish_bulk(conn: sa.Connection, study_id: int, n: int, last: datetime) -> None:
    conn.execute(
        sa.update(studies)
        .where(studies.c.id == study_id)
        .values(seq=n, n_trials=n, last_activity=last)
    )


def _big_study(storage: SQLStorage, name: str, n: int) -> int:
    record = storage.create_study(
        name, direction="minimize", space=hpo.Space(SPACE), searcher="random"
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = _trial_rows(record.study_id, n, np.random.default_rng(7), start, failed_every=50)
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(trials), rows)
        _finish_bulk(conn, record.study_id, n, rows[-1]["datetime_complete"])
    return record.study_id


def _big_comparison(storage: SQLStorage) -> int:
    labels = [f"searcher-{i}" for i in range(BIG_SEARCHERS)]
    seeds = list(range(BIG_SEEDS))
    spec = {
        "searchers": [{"label": lab, "searcher": "random", "kwargs": {}} for lab in labels],
        "seeds": seeds,
    }
    record = storage.create_comparison(
        "big-10x10",
        problem="branin",
        direction="minimize",
        n_trials=BIG_BUDGET,
        spec=spec,
        optimum=0.397887,
        reference=34.13,
    )
    rng = np.random.default_rng(11)
    start = datetime(2026, 2, 1, tzinfo=UTC)
    with storage.engine.begin() as conn:
        for i, lab in enumerate(labels):
            for seed in seeds:
                sid = conn.execute(
                    sa.insert(studies).values(
                        name=f"big-10x10/{lab}/seed-{seed}",
                        direction="minimize",
                        space=hpo.Space(SPACE).to_json(),
                        define_by_run=False,
                        searcher="random",
                        searcher_kwargs={},
                        searcher_state=None,
                        seed=seed,
                        metric=None,
                        user_attrs={},
                        created_at=start,
                        seq=0,
                        n_trials=0,
                        stopper_kwargs={},
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                rows = _trial_rows(sid, BIG_BUDGET, rng, start)
                for r in rows:  # searcher i is a little better than searcher i + 1
                    r["value"] = (
                        0.397887
                        + (30.0 + 3 * i) * float(rng.uniform(0.2, 1.0)) / (1 + r["number"]) ** 0.7
                    )
                conn.execute(sa.insert(trials), rows)
                _finish_bulk(conn, sid, BIG_BUDGET, rows[-1]["datetime_complete"])
                conn.execute(
                    sa.insert(comparison_studies).values(
                        comparison_id=record.comparison_id, study_id=sid, label=lab, seed=seed
                    )
                )
    return record.comparison_id


def _many_studies(storage: SQLStorage, n: int) -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    rng = np.random.default_rng(13)
    space = hpo.Space(SPACE).to_json()
    with storage.engine.begin() as conn:
        for i in range(n):
            sid = conn.execute(
                sa.insert(studies).values(
                    name=f"sweep-{i:04d}",
                    direction="minimize",
                    space=space,
                    define_by_run=False,
                    searcher=("random", "tpe", "gp")[i % 3],
                    searcher_kwargs={},
                    searcher_state=None,
                    seed=i,
                    metric=None,
                    user_attrs={},
                    created_at=start + timedelta(minutes=i),
                    seq=0,
                    n_trials=0,
                    stopper_kwargs={},
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            k = i % 4
            if k:
                rows = _trial_rows(sid, k, rng, start + timedelta(minutes=i))
                conn.execute(sa.insert(trials), rows)
                _finish_bulk(conn, sid, k, rows[-1]["datetime_complete"])


if __name__ == "__main__":
    built = build(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///shapes.db")
    print(built)
