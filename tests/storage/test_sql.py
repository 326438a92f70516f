"""SQL-specific behaviour: migrations, durability, SQLite settings, several processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import hpo
from hpo.budget import Budget
from hpo.space import Float, Space
from hpo.storage import StudySummary, get_storage
from hpo.storage._engine import current_revision, head_revision, make_engine
from hpo.storage._schema import metadata
from hpo.storage.sql import SchemaVersionError, SQLStorage
from hpo.trial import FrozenTrial, TrialState

from . import _workers

SPAWN = mp.get_context("spawn")
TABLES = {
    "studies",
    "trials",
    "trial_intermediate_values",
    "counters",
    "comparisons",
    "comparison_studies",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """A fresh SQLite file or PostgreSQL schema."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


def _fill(storage: SQLStorage, name: str = "s", n: int = 3) -> int:
    record = storage.create_study(name, direction="minimize", space=None, searcher="random")
    for i in range(n):
        storage.create_trial(record.study_id, params={"i": i})
        storage.report(record.study_id, i, 0, float(i))
        storage.finish_trial(record.study_id, i, TrialState.COMPLETE, value=float(i))
    return record.study_id


def _run(target: Callable[..., None], *args_per_process: tuple[object, ...]) -> None:
    """Run ``target(*args)`` in one spawned process per argument tuple; all must succeed."""
    procs = [SPAWN.Process(target=target, args=args) for args in args_per_process]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0] * len(procs)


# --- migrations ------------------------------------------------------------------------------
def test_fresh_database_is_migrated_to_head(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:
        assert current_revision(conn) == head_revision() == "0005"
        inspector = sa.inspect(conn)
        assert set(inspector.get_table_names()) >= TABLES
        trial_columns = {c["name"] for c in inspector.get_columns("trials")}
        assert {"budget", "parent", "searcher_time", "heartbeat", "seq"} <= trial_columns
        assert {"suggestion_id", "searcher_info", "worker_id"} <= trial_columns
        study_columns = {c["name"] for c in inspector.get_columns("studies")}
        assert {"budget", "stopper", "stopper_kwargs", "owner", "last_activity"} <= study_columns
        assert "searcher_state_version" in study_columns
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("trials")}
        assert indexes["ix_trials_study_seq"] == ["study_id", "seq"]
        assert indexes["ix_trials_study_state"] == ["study_id", "state", "number"]
        assert indexes["ix_trials_study_best"] == ["study_id", "state", "value", "number"]
        assert indexes["ix_trials_study_worker"] == ["study_id", "worker_id"]


def test_migrations_create_exactly_the_schema_the_code_uses(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_version_table_lives_in_the_search_path_schema(postgres_url: str) -> None:
    with SQLStorage(postgres_url) as storage, storage.engine.connect() as conn:
        schema = conn.execute(sa.text("select current_schema()")).scalar_one()
        rows = conn.execute(
            sa.text(
                "select table_schema from information_schema.tables "
                "where table_name = 'alembic_version'"
            )
        ).all()
    assert schema.startswith("hpo_test_")
    assert schema in [r[0] for r in rows] and "public" not in [r[0] for r in rows]


def test_reopening_is_idempotent_and_keeps_the_data(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage:
        study_id = _fill(storage)
        before = storage.get_trials(study_id)
    for _ in range(2):
        with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:
            assert storage.get_trials(study_id) == before
            assert storage.get_study("s").study_id == study_id
            versions = conn.execute(sa.text("select version_num from alembic_version")).all()
            assert [v[0] for v in versions] == [head_revision()]


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Run hpo's migrations on ``url`` up (or down) to ``revision``."""
    from alembic import command

    from hpo.storage._engine import make_engine
    from hpo.storage.sql import alembic_config

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_0001_database_upgrades_to_0002_with_its_data(sql_url: str) -> None:
    _migrate(sql_url, "0001")
    assert "comparisons" not in _tables(sql_url)
    engine = sa.create_engine(sql_url)
    with engine.begin() as conn:  # a study written by the 0001 schema
        conn.execute(
            sa.text(
                "insert into studies (name, direction, space, define_by_run, searcher, "
                "searcher_kwargs, user_attrs, created_at, seq, n_trials) values "
                "('old', 'minimize', '{\"params\": []}', false, 'random', '{}', '{}', "
                "'2026-01-01 00:00:00', 0, 0)"
            )
        )
    engine.dispose()
    with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:  # upgrades
        assert current_revision(conn) == head_revision()
        study_id = storage.get_study("old").study_id
        _fill(storage, "new")
        storage.create_trial(study_id, params={"x": 1})
        cmp = storage.create_comparison("c", problem="p", direction="minimize", n_trials=1, spec={})
        storage.add_comparison_study(cmp.comparison_id, study_id, label="random", seed=0)
        before = {
            name: storage.get_trials(storage.get_study(name).study_id) for name in ("old", "new")
        }
    _migrate(sql_url, "0001", down=True)
    assert {"comparisons", "comparison_studies"}.isdisjoint(_tables(sql_url))
    with SQLStorage(sql_url) as storage:  # upgrades again: studies and trials intact
        for name, batch in before.items():
            assert storage.get_trials(storage.get_study(name).study_id) == batch
        assert storage.list_comparisons() == []


# --- 0002 -> 0003: multi-fidelity settings move from user_attrs to study columns -----------
T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
FIDELITY_ASHA = {
    "budget": {"name": "epoch", "min": 1, "max": 27},
    "stopper": "asha",
    "stopper_kwargs": {"eta": 3, "grace": {"min": 2}},
}
FIDELITY_BUDGET = {"budget": {"name": "fraction", "min": 0.125, "max": 1.0}}
#: the studies of the populated 0002 database (its columns as of 0002)
V2_STUDIES: list[dict[str, Any]] = [
    {
        "name": "mf-asha",
        "direction": "minimize",
        "space": Space({"x": Float(0.0, 1.0)}).to_json(),
        "define_by_run": False,
        "searcher": "random",
        "searcher_kwargs": {},
        "searcher_state": None,
        "seed": None,
        "metric": None,
        "user_attrs": {"team": "ml", "hpo:fidelity": FIDELITY_ASHA},
        "created_at": T0,
    },
    {
        "name": "mf-budget",
        "direction": "maximize",
        "space": {"params": []},
        "define_by_run": True,
        "searcher": "bohb",
        "searcher_kwargs": {"eta": 3},
        "searcher_state": {"brackets": [1, 2]},
        "seed": 11,
        "metric": None,
        "user_attrs": {"hpo:fidelity": FIDELITY_BUDGET},
        "created_at": T0 + timedelta(seconds=1),
    },
    {
        "name": "plain",
        "direction": "minimize",
        "space": Space({"x": Float(0.0, 1.0)}).to_json(),
        "define_by_run": False,
        "searcher": "tpe",
        "searcher_kwargs": {"n_startup": 5},
        "searcher_state": {"draws": 4},
        "seed": 7,
        "metric": "loss",
        "user_attrs": {"owner": "ana", "budget": "not a setting"},
        "created_at": T0 + timedelta(seconds=2),
    },
]


def _t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


#: study name -> its trials, in number order
V2_TRIALS: dict[str, list[FrozenTrial]] = {
    "mf-asha": [
        FrozenTrial(
            number=0,
            state=TrialState.COMPLETE,
            params={"x": 0.5},
            value=0.25,
            metrics={"acc": 0.9, "nan": None},
            intermediate_values={1: 0.9, 3: 0.25},
            user_attrs={"k": ["v", 1]},
            datetime_start=_t(10),
            datetime_complete=_t(20),
            budget=27.0,
            searcher_time=0.5,
            heartbeat=_t(15),
        ),
        FrozenTrial(
            number=1,
            state=TrialState.PRUNED,
            params={"x": 0.75},
            value=0.8,
            intermediate_values={1: 0.8},
            datetime_start=_t(11),
            datetime_complete=_t(12),
            budget=3.0,
            parent=0,
        ),
        FrozenTrial(
            number=2,
            state=TrialState.FAILED,
            params={"x": 0.1},
            datetime_start=_t(13),
            datetime_complete=_t(14),
            error="Traceback: boom",
        ),
        FrozenTrial(
            number=3,
            state=TrialState.RUNNING,
            params={"x": 0.2},
            intermediate_values={1: 0.7},
            datetime_start=_t(30),
            heartbeat=_t(60),  # the latest activity of the study
        ),
        FrozenTrial(number=4, state=TrialState.WAITING, params={"x": 0.3}),
    ],
    "mf-budget": [
        FrozenTrial(
            number=n,
            state=TrialState.COMPLETE,
            params={"y": n},
            value=v,
            datetime_start=_t(100 + n),
            datetime_complete=_t(110 + n),
        )
        for n, v in enumerate([2.0, 3.0, 3.0, 1.0])
    ],
    "plain": [],
}


def _populate_0002(url: str) -> None:
    """Write :data:`V2_STUDIES` and :data:`V2_TRIALS` with intermediate values, a counter
    and a comparison, through the 0002 tables as the database has them."""
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"

    def stamp(value: datetime | None) -> datetime | None:  # SQLite keeps naive UTC
        return value.replace(tzinfo=None) if sqlite and value is not None else value

    try:
        with engine.begin() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            studies, trials = tables.tables["studies"], tables.tables["trials"]
            ivalues = tables.tables["trial_intermediate_values"]
            ids: dict[str, int] = {}
            seq = 0
            for study in V2_STUDIES:
                row = {**study, "created_at": stamp(study["created_at"]), "seq": 0, "n_trials": 0}
                ids[study["name"]] = conn.execute(
                    sa.insert(studies).values(**row).returning(studies.c.id)
                ).scalar_one()
                for t in V2_TRIALS[study["name"]]:
                    seq += 1
                    trial_id = conn.execute(
                        sa.insert(trials)
                        .values(
                            study_id=ids[study["name"]],
                            number=t.number,
                            state=t.state.value,
                            params=t.params,
                            value=t.value,
                            metrics=t.metrics,
                            user_attrs=t.user_attrs,
                            datetime_start=stamp(t.datetime_start),
                            datetime_complete=stamp(t.datetime_complete),
                            error=t.error,
                            budget=t.budget,
                            parent=t.parent,
                            searcher_time=t.searcher_time,
                            heartbeat=stamp(t.heartbeat),
                            seq=seq,
                        )
                        .returning(trials.c.id)
                    ).scalar_one()
                    for step, value in t.intermediate_values.items():
                        conn.execute(
                            sa.insert(ivalues).values(trial_id=trial_id, step=step, value=value)
                        )
                conn.execute(
                    sa.update(studies)
                    .where(studies.c.id == ids[study["name"]])
                    .values(seq=seq, n_trials=len(V2_TRIALS[study["name"]]))
                )
            conn.execute(
                sa.insert(tables.tables["counters"]).values(
                    study_id=ids["mf-asha"], key="grid:point", value=5
                )
            )
            comparison_id = conn.execute(
                sa.insert(tables.tables["comparisons"])
                .values(
                    name="cmp",
                    problem="branin",
                    direction="minimize",
                    n_trials=5,
                    spec={"seeds": [0, 1]},
                    optimum=0.397887,
                    reference=None,
                    created_at=stamp(T0),
                )
                .returning(tables.tables["comparisons"].c.id)
            ).scalar_one()
            links = tables.tables["comparison_studies"]
            for name, label, seed in (("mf-asha", "asha", 0), ("plain", "tpe", 1)):
                conn.execute(
                    sa.insert(links).values(
                        comparison_id=comparison_id, study_id=ids[name], label=label, seed=seed
                    )
                )
    finally:
        engine.dispose()


def _dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every hpo table, by primary key."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            return {
                name: [
                    r._asdict()
                    for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                for name, table in tables.tables.items()
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _check_upgraded(storage: SQLStorage) -> None:
    """The populated 0002 database, read at 0003."""
    asha, budget, plain = (storage.get_study(s["name"]) for s in V2_STUDIES)
    assert (asha.budget, asha.stopper, asha.stopper_kwargs) == (
        Budget("epoch", 1, 27),
        "asha",
        {"eta": 3, "grace": {"min": 2}},
    )
    assert asha.budget is not None and asha.budget.integral
    assert asha.user_attrs == {"team": "ml"}  # the setting left the user attributes
    assert (budget.budget, budget.stopper, budget.stopper_kwargs) == (
        Budget("fraction", 0.125, 1.0),
        None,
        {},
    )
    assert budget.user_attrs == {}
    assert (plain.budget, plain.stopper, plain.stopper_kwargs) == (None, None, {})
    assert plain.user_attrs == {"owner": "ana", "budget": "not a setting"}
    for record, spec in zip((asha, budget, plain), V2_STUDIES, strict=True):
        assert record.owner is None
        assert (record.direction, record.searcher, record.searcher_kwargs) == (
            spec["direction"],
            spec["searcher"],
            spec["searcher_kwargs"],
        )
        assert (record.searcher_state, record.seed, record.metric) == (
            spec["searcher_state"],
            spec["seed"],
            spec["metric"],
        )
        assert record.space.to_json() == spec["space"]
        assert (record.define_by_run, record.created_at) == (
            spec["define_by_run"],
            spec["created_at"],
        )
        assert storage.get_trials(record.study_id).trials == V2_TRIALS[record.name]
    assert storage.study_summaries() == [
        StudySummary(
            study_id=asha.study_id,
            name="mf-asha",
            direction="minimize",
            searcher="random",
            counts={"WAITING": 1, "RUNNING": 1, "COMPLETE": 1, "PRUNED": 1, "FAILED": 1},
            best_value=0.25,
            best_number=0,
            last_activity=_t(60),
            created_at=T0,
        ),
        StudySummary(
            study_id=budget.study_id,
            name="mf-budget",
            direction="maximize",
            searcher="bohb",
            counts={"WAITING": 0, "RUNNING": 0, "COMPLETE": 4, "PRUNED": 0, "FAILED": 0},
            best_value=3.0,
            best_number=1,
            last_activity=_t(113),
            created_at=_t(1),
        ),
        StudySummary(
            study_id=plain.study_id,
            name="plain",
            direction="minimize",
            searcher="tpe",
            counts={"WAITING": 0, "RUNNING": 0, "COMPLETE": 0, "PRUNED": 0, "FAILED": 0},
            created_at=_t(2),
        ),
    ]
    cmp = storage.get_comparison("cmp")
    assert (cmp.problem, cmp.n_trials, cmp.spec, cmp.optimum, cmp.reference) == (
        "branin",
        5,
        {"seeds": [0, 1]},
        0.397887,
        None,
    )
    assert [(m.study_name, m.label, m.seed) for m in cmp.members] == [
        ("mf-asha", "asha", 0),
        ("plain", "tpe", 1),
    ]


def _without_fidelity(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k != "hpo:fidelity"}


def test_a_populated_0002_database_upgrades_to_0003_and_back(sql_url: str) -> None:
    _migrate(sql_url, "0002")
    _populate_0002(sql_url)
    at_0002 = _dump(sql_url)
    assert len(at_0002["trials"]) == 9 and len(at_0002["trial_intermediate_values"]) == 4

    _migrate(sql_url, "0003")
    with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:  # upgrades
        assert current_revision(conn) == head_revision()
        _check_upgraded(storage)
    at_0003 = _dump(sql_url)
    for table, rows in at_0002.items():  # every old column of every row is unchanged...
        kept = [{k: v for k, v in row.items() if k in rows[0]} for row in at_0003[table]]
        if table == "studies":  # ...but the moved setting
            rows = [{**r, "user_attrs": _without_fidelity(r["user_attrs"])} for r in rows]
        assert kept == rows, table

    _migrate(sql_url, "0002", down=True)
    assert _dump(sql_url) == at_0002  # the settings are back in user_attrs; nothing else moved
    assert {"budget", "stopper", "stopper_kwargs", "owner", "last_activity"}.isdisjoint(
        _columns(sql_url, "studies")
    )
    assert {"suggestion_id", "searcher_info"}.isdisjoint(_columns(sql_url, "trials"))

    with SQLStorage(sql_url) as storage:  # and forward again, then in use
        _check_upgraded(storage)
        asha = storage.get_study("mf-asha").study_id
        assert storage.next_counter(asha, "grid:point") == 5
        assert storage.create_trial(asha, params={}).number == 5
        storage.heartbeat_trials(asha, [3])
        storage.finish_trial(asha, 3, TrialState.COMPLETE, value=0.125)
        (summary,) = storage.study_summaries([asha])
        assert (summary.best_value, summary.best_number) == (0.125, 3)
        assert summary.last_activity == storage.get_trial(asha, 3).datetime_complete


# --- 0003 -> 0004: searcher state versions and worker ids (server replicas) ----------------
def test_a_populated_0003_database_upgrades_to_0004_and_back(sql_url: str) -> None:
    _migrate(sql_url, "0002")
    _populate_0002(sql_url)
    _migrate(sql_url, "0003")
    engine = make_engine(sql_url)
    with engine.begin() as conn:  # what 0003 adds: an owner and a suggestion on a trial
        conn.execute(sa.text("update studies set owner = 'srv' where name = 'plain'"))
        conn.execute(
            sa.text(
                "update trials set suggestion_id = 'ab12', searcher_info = '{\"a\": 1}' "
                "where number = 0"
            )
        )
    engine.dispose()
    at_0003 = _dump(sql_url)
    assert "searcher_state_version" not in at_0003["studies"][0]
    assert "worker_id" not in at_0003["trials"][0]

    with SQLStorage(sql_url) as storage, storage.engine.connect() as conn:  # upgrades
        assert current_revision(conn) == head_revision()
        _check_upgraded_fields(storage)
    at_0004 = _dump(sql_url)
    for table, rows in at_0003.items():  # every old column of every row is unchanged
        kept = [{k: v for k, v in row.items() if k in rows[0]} for row in at_0004[table]]
        assert kept == rows, table
    versions = {r["name"]: r["searcher_state_version"] for r in at_0004["studies"]}
    assert versions == {"mf-asha": 0, "mf-budget": 1, "plain": 1}  # saved states are v1
    assert {r["worker_id"] for r in at_0004["trials"]} == {None}

    with SQLStorage(sql_url) as storage:  # the newest code reads it
        _check_upgraded_fields(storage)
    _migrate(sql_url, "0003", down=True)
    assert _dump(sql_url) == at_0003
    assert "searcher_state_version" not in _columns(sql_url, "studies")
    assert "worker_id" not in _columns(sql_url, "trials")

    with SQLStorage(sql_url) as storage:  # and forward again, then in use
        _check_upgraded_0004(storage)


def _check_upgraded_0004(storage: SQLStorage) -> None:
    """The populated 0003 database, read and written at 0004."""
    _check_upgraded_fields(storage)
    plain = storage.get_study("plain")
    assert plain.owner == "srv"
    state = storage.load_searcher_state(plain.study_id)
    assert (state.state, state.version) == ({"draws": 4}, 1)
    assert storage.save_searcher_state(plain.study_id, {"draws": 5}, expected_version=1) == 2
    asha = storage.get_study("mf-asha").study_id
    assert storage.load_searcher_state(asha).version == 0
    assert storage.worker_trials(asha, "w") == []
    trial = storage.create_trial(asha, params={"x": 0.9}, worker_id="w")
    assert [t.number for t in storage.worker_trials(asha, "w")] == [trial.number] == [5]
    first = storage.get_trial(asha, 0)
    assert (first.suggestion_id, first.searcher_info) == ("ab12", {"a": 1})


def _check_upgraded_fields(storage: SQLStorage) -> None:
    """The 0002 data as any later revision reads it (studies, trials, comparison)."""
    for spec in V2_STUDIES:
        record = storage.get_study(spec["name"])
        trials = storage.get_trials(record.study_id).trials
        expected = V2_TRIALS[record.name]
        assert [t.evolve(suggestion_id=None, searcher_info={}) for t in trials] == expected
    assert [m.study_name for m in storage.get_comparison("cmp").members] == ["mf-asha", "plain"]


def test_a_newer_schema_is_refused(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage, storage.engine.begin() as conn:
        conn.execute(sa.text("update alembic_version set version_num = '9999_future'"))
    with pytest.raises(SchemaVersionError, match=r"9999_future.*newer hpo.*upgrade hpo"):
        SQLStorage(sql_url)


# --- SQLite ----------------------------------------------------------------------------------
def test_sqlite_connection_settings(sqlite_url: str) -> None:
    with SQLStorage(sqlite_url) as storage, storage.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "busy_timeout": 30000,
        "foreign_keys": 1,
    }


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite(url: str) -> None:
    with SQLStorage(url) as storage, SQLStorage(url) as other:
        study_id = _fill(storage, n=2)
        assert other.list_studies() == []  # each in-memory storage is its own database
        numbers: list[int] = []

        def create() -> None:
            for _ in range(10):
                numbers.append(storage.create_trial(study_id, params={}).number)

        threads = [threading.Thread(target=create) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(numbers) == list(range(2, 32))
        assert storage.get_trial(study_id, 1).value == 1.0


def test_get_storage_opens_sql_urls(sqlite_url: str, postgres_url: str) -> None:
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://")  # no driver named
    for url in (sqlite_url, bare):
        storage = get_storage(url)
        assert isinstance(storage, SQLStorage)
        storage.close()
    with pytest.raises(ValueError, match="SQLite and PostgreSQL"):
        SQLStorage("mysql://user@localhost/db")


def test_intermediate_values_are_read_in_one_query(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage:
        study_id = _fill(storage, n=30)
        statements: list[str] = []
        sa.event.listen(
            storage.engine,
            "before_cursor_execute",
            lambda conn, cursor, sql, *args: statements.append(sql),
        )
        trials = storage.get_trials(study_id).trials
        assert len(statements) == 2  # the trials, then every intermediate value at once
        assert [t.intermediate_values for t in trials] == [{0: float(i)} for i in range(30)]


def _count_statements(storage: SQLStorage) -> list[str]:
    """The SQL statements ``storage`` runs from now on (BEGIN and COMMIT excluded)."""
    statements: list[str] = []
    sa.event.listen(
        storage.engine,
        "before_cursor_execute",
        lambda conn, cursor, sql, *args: statements.append(sql),
    )
    return statements


def test_study_summaries_are_one_statement_however_many_studies_and_trials(
    sql_url: str,
) -> None:
    with SQLStorage(sql_url) as storage:
        big = _fill(storage, "big", n=40)  # COMPLETE, values 0..39: best 0.0 at 0
        storage.enqueue_trial(big, {})
        statements = _count_statements(storage)
        first = storage.study_summaries()
        assert len(statements) == 1
        assert [(s.name, s.n_trials, s.best_value, s.best_number) for s in first] == [
            ("big", 41, 0.0, 0)
        ]
        ids = [big]
        for i in range(25):  # many more studies and trials: still one statement
            sid = storage.create_study(
                f"s{i}", direction="maximize", space=None, searcher="random"
            ).study_id
            for n in range(i % 4):
                storage.create_trial(sid, params={})
                storage.finish_trial(sid, n, TrialState.COMPLETE, value=float(n))
            ids.append(sid)
        for wanted in (None, ids, ids[:3], [ids[-1], 987_654]):
            statements.clear()
            summaries = storage.study_summaries(wanted)
            assert len(statements) == 1
            expected = ids if wanted is None else sorted(set(wanted) & set(ids))
            assert [s.study_id for s in summaries] == expected
        statements.clear()
        assert storage.study_summaries([]) == [] and statements == []
        by_name = {s.name: s for s in storage.study_summaries()}
        assert [(by_name[f"s{i}"].best_value, by_name[f"s{i}"].best_number) for i in range(4)] == [
            (None, None),
            (0.0, 0),
            (1.0, 1),
            (2.0, 2),
        ]
        assert by_name["big"].counts == {
            "WAITING": 1,
            "RUNNING": 0,
            "COMPLETE": 40,
            "PRUNED": 0,
            "FAILED": 0,
        }


def test_heartbeat_trials_is_one_update_for_the_batch(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage:
        sid = _fill(storage, n=2)  # 0 and 1 finished
        for _ in range(30):
            storage.create_trial(sid, params={})
        statements = _count_statements(storage)
        beaten = storage.heartbeat_trials(sid, range(40))
        assert beaten == list(range(2, 32))
        # the study row (lock, change sequence, last activity), then every trial at once
        assert len(statements) == 2
        assert statements[1].lstrip().upper().startswith("UPDATE TRIALS")


def test_integral_values_come_back_as_floats(sql_url: str) -> None:
    with SQLStorage(sql_url) as storage:
        study_id = _fill(storage, n=1)
        storage.create_trial(study_id, params={}, budget=3, searcher_time=0)
        done = storage.finish_trial(study_id, 1, TrialState.COMPLETE, value=2)
        for t in (done, storage.get_trial(study_id, 1)):
            assert [type(v) for v in (t.value, t.budget, t.searcher_time)] == [float] * 3


# --- durability --------------------------------------------------------------------------------
def test_data_survives_a_killed_process(sqlite_url: str) -> None:
    proc = SPAWN.Process(target=_workers.optimize_forever, args=(sqlite_url, "crash"))
    proc.start()
    try:
        with SQLStorage(sqlite_url) as watcher:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    study_id = watcher.get_study("crash").study_id
                    if watcher.count_trials(study_id, [TrialState.COMPLETE]) >= 10:
                        break
                except hpo.StudyNotFoundError:
                    pass
                time.sleep(0.05)
            proc.kill()  # SIGKILL, in the middle of the optimization
            proc.join(timeout=30)
            before = watcher.get_trials(study_id, states=[TrialState.COMPLETE]).trials
    finally:
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == -9 and len(before) >= 10

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with SQLStorage(sqlite_url) as storage:
        after = storage.get_trials(study_id).trials
        assert [t.number for t in after] == list(range(len(after)))
        complete = [t for t in after if t.state is TrialState.COMPLETE]
        assert complete[: len(before)] == before  # every stored trial intact
        assert sum(t.state is TrialState.RUNNING for t in after) <= 1  # the one cut short
    study = hpo.create_study(
        _workers.quadratic, storage=sqlite_url, name="crash", load_if_exists=True
    )
    study.optimize(n_trials=3, progress=False)
    assert len(study.get_trials([TrialState.COMPLETE])) == len(complete) + 3


def test_reloaded_study_continues(sqlite_url: str) -> None:
    first = hpo.create_study(_workers.quadratic, storage=sqlite_url, name="again", seed=7)
    first.optimize(n_trials=5, progress=False)
    seen = [t.params for t in first.trials]
    study = hpo.load_study("again", storage=sqlite_url, objective=_workers.quadratic)
    study.optimize(n_trials=5, progress=False)
    trials = study.trials
    assert [t.number for t in trials] == list(range(10))
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.params for t in trials[:5]] == seen
    assert not any(t.params in seen for t in trials[5:])  # the searcher did not start over


# --- several processes -----------------------------------------------------------------------
def test_processes_share_one_study(sql_url: str) -> None:
    n_procs, n_random = 3, 8
    barrier = SPAWN.Barrier(n_procs)
    _run(_workers.share_studies, *[(sql_url, barrier, n_random)] * n_procs)

    with SQLStorage(sql_url) as storage:
        random = storage.get_study(_workers.RANDOM_STUDY)
        trials = storage.get_trials(random.study_id).trials
        assert [t.number for t in trials] == list(range(n_procs * n_random))
        assert all(t.state is TrialState.COMPLETE for t in trials)
        points = [tuple(sorted(t.params.items())) for t in trials]
        assert len(set(points)) == len(points)

        grid = storage.get_study(_workers.GRID_STUDY)
        trials = storage.get_trials(grid.study_id).trials
        assert [t.number for t in trials] == list(range(24))
        assert all(t.state is TrialState.COMPLETE for t in trials)
        points = {(t.params["a"], t.params["b"]) for t in trials}
        assert points == {(a, b) for a in range(4) for b in range(6)}  # each point once
        assert len({t.user_attrs["pid"] for t in trials}) > 1  # the work was shared


def test_processes_opening_a_new_sqlite_file_together(tmp_path: Path) -> None:
    # regression: switching a new file to WAL raced and failed with "database is locked"
    n_procs = 4
    for round_ in range(8):
        url = f"sqlite:///{tmp_path / f'fresh{round_}.db'}"
        barrier = SPAWN.Barrier(n_procs)
        _run(_workers.open_fresh, *[(url, barrier, f"s{i}") for i in range(n_procs)])
        with SQLStorage(url) as storage:
            assert sorted(r.name for r in storage.list_studies()) == [
                f"s{i}" for i in range(n_procs)
            ]


# --- study locks across processes (server replicas) --------------------------------------------
def test_postgres_study_lock_excludes_other_processes(postgres_url: str) -> None:
    with SQLStorage(postgres_url) as storage:
        assert storage.study_lock_is_shared
        study_id = storage.create_study(
            "locked", direction="minimize", space=None, searcher="random"
        ).study_id
        barrier = SPAWN.Barrier(3)
        _run(_workers.locked_increments, *[(postgres_url, "locked", barrier, 10)] * 3)
        final = storage.load_searcher_state(study_id)
        assert (final.state, final.version) == ({"n": 30}, 30)


def test_sqlite_study_lock_is_this_process_only(sqlite_url: str) -> None:
    with SQLStorage(sqlite_url) as storage:
        assert not storage.study_lock_is_shared
