"""Migration 0005 (dashboard controls): a populated 0004 database upgrades, keeps every
row, gains ``studies.stopped_at`` and ``study_notes``, and downgrades back unchanged."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hpo.storage._engine import current_revision, head_revision
from hpo.storage.sql import SQLStorage
from hpo.trial import TrialState

from .test_sql import _columns, _dump, _migrate, _tables


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


def test_a_populated_0004_database_upgrades_to_0005_and_back(sql_url: str) -> None:
    _migrate(sql_url, "0004")
    from hpo.storage._engine import make_engine

    engine = make_engine(sql_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into studies (name, direction, space, define_by_run, searcher, "
                "searcher_kwargs, user_attrs, created_at, seq, n_trials, stopper_kwargs, "
                "searcher_state_version) values ('s', 'minimize', '{\"params\": []}', false, "
                "'random', '{}', '{}', '2026-01-01 00:00:00', 1, 1, '{}', 0)"
            )
        )
        study_id = conn.execute(sa.text("select id from studies where name = 's'")).scalar()
        conn.execute(
            sa.text(
                "insert into trials (study_id, number, state, params, value, metrics, "
                "user_attrs, seq, searcher_info) values (:s, 0, 'COMPLETE', '{\"x\": 1}', 0.5, "
                "'{}', '{}', 1, '{}')"
            ),
            {"s": study_id},
        )
    engine.dispose()
    at_0004 = _dump(sql_url)

    storage = SQLStorage(sql_url)  # upgrades
    with storage, storage.engine.connect() as conn:
        assert current_revision(conn) == head_revision() == "0005"
        record = storage.get_study("s")
        assert record.stopped_at is None and not storage.is_study_stopped(record.study_id)
        assert storage.get_study_note(record.study_id).version == 0
        assert storage.get_trial(record.study_id, 0).state is TrialState.COMPLETE
    at_0005 = _dump(sql_url)
    for table, rows in at_0004.items():  # every old column of every row is unchanged
        assert [{k: v for k, v in r.items() if k in rows[0]} for r in at_0005[table]] == rows
    assert [r["stopped_at"] for r in at_0005["studies"]] == [None]
    assert at_0005["study_notes"] == []

    with SQLStorage(sql_url) as used:  # in use: a stop and a note, then down again
        study_id = used.get_study("s").study_id
        used.set_study_stopped(study_id, True)
        used.set_study_note(study_id, "# kept?")
    _migrate(sql_url, "0004", down=True)
    assert "study_notes" not in _tables(sql_url)
    assert "stopped_at" not in _columns(sql_url, "studies")
    assert _dump(sql_url) == at_0004

    with SQLStorage(sql_url) as again:  # and forward again
        record = again.get_study("s")
        assert record.stopped_at is None
        assert again.set_study_note(record.study_id, "again", expected_version=0).version == 1
        again.delete_study("s")  # the note goes with the study
        assert _dump(sql_url)["study_notes"] == []
