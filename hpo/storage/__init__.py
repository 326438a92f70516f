"""Storage backends: in memory, SQL (SQLite, PostgreSQL) and, later, HTTP.

>>> storage = get_storage(None)              # in memory
>>> storage = get_storage("sqlite:///hpo.db")  # doctest: +SKIP
"""

from __future__ import annotations

from hpo.storage.base import (
    ComparisonMember,
    ComparisonRecord,
    Storage,
    StudyRecord,
    StudySummary,
    TrialBatch,
)
from hpo.storage.memory import InMemoryStorage

__all__ = [
    "ComparisonMember",
    "ComparisonRecord",
    "InMemoryStorage",
    "Storage",
    "StudyRecord",
    "StudySummary",
    "TrialBatch",
    "get_storage",
]


def get_storage(storage: Storage | str | None) -> Storage:
    """A storage from an instance, a URL, or ``None`` (a new in-memory storage).

    URLs: ``sqlite:///path.db``, ``postgresql+psycopg://user@host/db`` (any SQLAlchemy
    URL), and ``http(s)://host:port`` for an hpo server.
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if not isinstance(storage, str) or not storage.strip():
        raise ValueError(
            f"`storage` must be None, a Storage or a URL string such as 'sqlite:///hpo.db', "
            f"got {storage!r}"
        )
    url = storage.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        try:
            from hpo.storage.http import HTTPStorage
        except ImportError as exc:  # pragma: no cover - arrives with the server issue
            raise ValueError(
                f"HTTP storage ({url}) needs the hpo server client, not available in this "
                "version; use a SQL URL"
            ) from exc
        return HTTPStorage(url)
    if "://" not in url:
        if url.lower() in ("memory", ":memory:", "inmemory", "in-memory", "none"):
            raise ValueError(
                f"`storage` {url!r} is not a URL: pass storage=None to keep the study in this "
                "process's memory, or a URL such as 'sqlite:///hpo.db' to store it"
            )
        raise ValueError(
            f"`storage` {url!r} is not a URL; use e.g. 'sqlite:///{url}' for a SQLite file"
        )
    from hpo.storage.sql import SQLStorage

    return SQLStorage(url)
