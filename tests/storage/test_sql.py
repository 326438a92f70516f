"""SQL-specific behaviour: migrations, durability, SQLite settings, several processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import hpo
from hpo.storage import get_storage
from hpo.storage._engine import current_revision, head_revision
from hpo.storage._schema import metadata
from hpo.storage.sql import SchemaVersionError, SQLStorage
from hpo.trial import TrialState

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
        assert current_revision(conn) == head_revision() == "0002"
        inspector = sa.inspect(conn)
        assert set(inspector.get_table_names()) >= TABLES
        trial_columns = {c["name"] for c in inspector.get_columns("trials")}
        assert {"budget", "parent", "searcher_time", "heartbeat", "seq"} <= trial_columns
        indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("trials")}
        assert indexes["ix_trials_study_seq"] == ["study_id", "seq"]


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
        assert current_revision(conn) == "0002"
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
