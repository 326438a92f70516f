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
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


class StorageAccessError(HPOError):
    """The storage cannot be opened or written as asked (a missing or read-only directory,
    a read-only file); the message names the path and what to do."""

    code = "storage_access"
    kind = "unavailable"


# --- engines -----------------------------------------------------------------------------
def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL (``None`` in memory and for ``file:`` URIs)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url) or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_access(url: URL) -> tuple[URL, bool]:
    """``url`` as it can be opened, and whether read-only: a file that exists but cannot
    be written (nor its directory, where SQLite keeps its journal) is opened for reading;
    a file that cannot be created is refused naming the directory and what to do."""
    path = sqlite_path(url)
    if path is None or url.query.get("mode") or url.query.get("immutable"):
        return url, False
    resolved = path.expanduser().absolute()
    if resolved.exists():
        if not os.access(resolved, os.R_OK):
            raise StorageAccessError(
                f"cannot read the SQLite database {resolved}: permission denied; fix its "
                "permissions or point `storage` at another file"
            )
        if os.access(resolved, os.W_OK) and os.access(resolved.parent, os.W_OK):
            return url, False
        # read-only: "mode=ro" when SQLite can keep its shared-memory file next to it or a
        # write-ahead log holds data; else "immutable" (a read-only disk, nobody writing)
        wal = resolved.with_name(resolved.name + "-wal")
        pending = wal.exists() and wal.stat().st_size > 0
        flag = "mode=ro" if pending or os.access(resolved.parent, os.W_OK) else "immutable=1"
        uri = f"file:{quote(str(resolved))}?{flag}"
        return url.set(database=uri, query={**url.query, "uri": "true"}), True
    parent = resolved.parent
    if not parent.is_dir():
        raise StorageAccessError(
            f"cannot create the SQLite database {resolved}: directory {parent} does not "
            f"exist; create it (mkdir -p {parent}) or point `storage` elsewhere"
        )
    if not os.access(parent, os.W_OK):
        raise StorageAccessError(
            f"cannot create the SQLite database {resolved}: directory {parent} is not "
            "writable; choose a writable directory for `storage`"
        )
    return url, False


def _on_sqlite_connect_readonly(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def _readonly_errors(path: Path) -> Any:
    """An engine ``handle_error`` hook: a write to a database opened read-only raises a
    :class:`StorageAccessError` naming the file, not SQLite's bare message."""

    def handle(context: Any) -> None:
        text = str(context.original_exception)
        if "readonly" in text or "read-only" in text:
            raise StorageAccessError(
                f"the SQLite database {path} is read-only (opened for reading only): it "
                "cannot store anything; copy it somewhere writable to add trials"
            ) from context.original_exception

    return handle


def is_readonly(engine: Engine) -> bool:
    """Whether ``engine`` opened its SQLite file read-only (see :func:`make_engine`)."""
    database = engine.url.database or ""
    return bool(
        engine.dialect.name == "sqlite"
        and engine.url.query.get("uri") == "true"
        and ("mode=ro" in database or "immutable=1" in database)
    )


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
    path = sqlite_path(parsed)
    parsed, readonly = _sqlite_access(parsed)
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    connect_args.update(kwargs.pop("connect_args", {}))
    if is_memory_sqlite(parsed):
        kwargs.setdefault("poolclass", StaticPool)
    # every transaction ends in an explicit COMMIT or ROLLBACK: no reset needed on check-in
    kwargs.setdefault("pool_reset_on_return", None)
    engine = sa.create_engine(parsed, connect_args=connect_args, **kwargs)
    hook = _on_sqlite_connect_readonly if readonly else _on_sqlite_connect
    event.listen(engine, "connect", hook)
    event.listen(engine, "begin", _on_sqlite_begin)
    if readonly and path is not None:
        event.listen(engine, "handle_error", _readonly_errors(path.expanduser().absolute()))
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
        current = current_revision(conn)
        if current == head:
            return
    if is_readonly(reader):
        raise StorageAccessError(
            f"the SQLite database at {where} is read-only and its schema ({current!r}) is not "
            f"this version's ({head!r}): open it once where it is writable to upgrade it"
        )
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
