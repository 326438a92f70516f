"""Engines and migrations for :class:`hpo.storage.sql.SQLStorage`.

* SQLite connections get WAL mode, ``synchronous=NORMAL``, a busy timeout and foreign keys;
  hpo issues ``BEGIN`` itself: ``BEGIN IMMEDIATE`` on engines made with
  ``execution_options(hpo_begin="IMMEDIATE")`` (writers), a deferred ``BEGIN`` otherwise.
  In-memory SQLite (``sqlite://``) shares one connection (:class:`~sqlalchemy.pool.StaticPool`).
* :func:`upgrade_to_head` brings a database to the newest Alembic revision, once, however
  many processes open it at the same moment, and refuses a database newer than this code.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from hpo.exceptions import HPOError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_S = 30.0
_MIGRATION_LOCK_KEY = 0x6870  # "hp": first half of the PostgreSQL advisory lock key
_migration_lock = threading.Lock()  # alembic's `context` proxy is process-global


class SchemaVersionError(HPOError, RuntimeError):
    """The database's schema is newer than this version of hpo (or is not hpo's)."""

    code = "schema_version"
    kind = "unavailable"


# --- engines -----------------------------------------------------------------------------
def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or "mode=memory" in database
    )


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # no implicit BEGIN from the driver: hpo issues it
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA foreign_keys = ON")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL unless it already is, retrying while another process
    holds the lock: SQLite answers a journal-mode change with "database is locked" at once,
    without waiting for the busy timeout (seen when processes open a new file together)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _on_sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("hpo_begin", "DEFERRED")
    conn.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]


def _resolve_url(url: str) -> URL:
    parsed = sa.engine.make_url(url)
    if parsed.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, engine_kwargs: Mapping[str, Any] | None = None) -> Engine:
    """A SQLAlchemy engine set up for hpo (``engine_kwargs`` override the defaults).

    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    """
    parsed = _resolve_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(
            f"SQL storage supports SQLite and PostgreSQL, got a {backend} URL "
            f"({parsed.render_as_string(hide_password=True)}); use sqlite:///file.db or "
            "postgresql+psycopg://user@host/db"
        )
    kwargs = dict(engine_kwargs or {})
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)  # survive server restarts and idle timeouts
        return sa.create_engine(parsed, **kwargs)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    connect_args.update(kwargs.pop("connect_args", {}))
    if is_memory_sqlite(parsed):
        kwargs.setdefault("poolclass", StaticPool)
    # every transaction ends in an explicit COMMIT or ROLLBACK: no reset needed on check-in
    kwargs.setdefault("pool_reset_on_return", None)
    engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


# --- migrations --------------------------------------------------------------------------
def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for hpo's migrations, without an ini file.

    >>> from alembic import command
    >>> command.history(alembic_config())                          # doctest: +SKIP
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this version of hpo knows."""
    head = _scripts().get_current_head()
    assert head is not None, f"no migrations found in {MIGRATIONS_DIR}"
    return head


def current_revision(conn: Connection) -> str | None:
    """The database's schema revision (``None`` for an empty database)."""
    return MigrationContext.configure(conn).get_current_revision()


def _is_known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:
        return False


def _lock_schema(conn: Connection) -> None:
    """Serialize migrations of this schema across processes: a PostgreSQL advisory lock
    held until commit (SQLite writers already hold the database's write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
            {"key": _MIGRATION_LOCK_KEY},
        )


def upgrade_to_head(reader: Engine, writer: Engine, where: str) -> None:
    """Bring the database to :func:`head_revision` unless it is there already.

    ``writer`` must start transactions that hold the write lock (SQLite) so that exactly
    one process migrates; the others wait, then find the database at head."""
    head = head_revision()
    with reader.connect() as conn:
        if current_revision(conn) == head:
            return
    with _migration_lock, writer.begin() as conn:
        _lock_schema(conn)
        current = current_revision(conn)
        if current == head:
            return
        if current is not None and not _is_known(current):
            raise SchemaVersionError(
                f"the database at {where} has schema revision {current!r}, which this version "
                f"of hpo does not know (its newest is {head!r}): it was written by a newer hpo "
                "or is not an hpo database; upgrade hpo (pip install -U hpo), or point "
                "`storage` at another database"
            )
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
