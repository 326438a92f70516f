"""What the ``hpo`` subcommands share: the exit codes and storage defaults, the
:class:`UsageError` that every bad argument becomes, opening the storage a URL names
(read-only commands never create a SQLite file), finding a stored study by name with a
hint when it is missing, and the small text helpers (plurals, counts by state, error
lines, JSON of parameters) that keep the commands' output consistent."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpo.storage import Storage, StudyRecord
    from hpo.trial import FrozenTrial

DEFAULT_STORAGE = "sqlite:///hpo.db"
STORAGE_ENV = "HPO_STORAGE"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away
STATES = ("COMPLETE", "PRUNED", "FAILED", "RUNNING", "WAITING")


class UsageError(Exception):
    """A bad argument: reported as one line on stderr with exit code 2."""

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


# --- storage and studies ---------------------------------------------------------------
def storage_url(given: str | None) -> str:
    """``--storage``, else ``$HPO_STORAGE``, else :data:`DEFAULT_STORAGE`."""
    return given or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///`` URL (``None`` for other URLs and in-memory)."""
    if not url.lower().startswith("sqlite"):
        return None
    try:
        from sqlalchemy.engine import make_url

        database = make_url(url).database
    except Exception:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def open_storage(url: str) -> Storage:
    """The storage at ``url``, or a :class:`UsageError` saying why the URL is invalid."""
    from hpo.exceptions import HPOError
    from hpo.storage import get_storage

    _check_sqlite_directory(url)
    try:
        return get_storage(url)
    except HPOError as exc:  # a valid URL the storage cannot serve: say why, with the path
        raise UsageError(f"cannot open storage {url!r}: {first_line(exc)}") from None
    except Exception as exc:
        raise UsageError(f"invalid storage URL {url!r}: {first_line(exc)}") from None


def open_existing_storage(url: str) -> Storage | None:
    """Like :func:`open_storage`, but ``None`` for a SQLite file that does not exist (so
    read-only commands never create one)."""
    _check_sqlite_directory(url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None
    return open_storage(url)


def _check_sqlite_directory(url: str) -> None:
    path = sqlite_file(url)
    if path is not None and not path.parent.is_dir():
        raise UsageError(
            f"invalid storage URL {url!r}: directory {str(path.parent)!r} does not exist"
        )


def find_study(storage: Storage | None, name: str, url: str) -> StudyRecord:
    """The stored study ``name``, or a :class:`UsageError` listing the existing ones."""
    from hpo.exceptions import StudyNotFoundError

    if storage is not None:
        try:
            return storage.get_study(name)
        except StudyNotFoundError:
            pass
    names = [r.name for r in storage.list_studies()] if storage is not None else []
    if not names:
        raise UsageError(f"no study named {name!r}: {url} has no studies")
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"no study named {name!r} in {url}.{hint} Existing studies: {', '.join(names)}"
    )


# --- text ------------------------------------------------------------------------------
def quiet_stdout() -> None:
    """Point stdout at ``/dev/null`` after the reader closed the pipe, so that flushing it
    at exit raises no second ``BrokenPipeError`` (what the Python docs recommend)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass


def err(message: str) -> None:
    """Print a status or error line on stderr."""
    print(message, file=sys.stderr)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def error_line(error: str) -> str:
    """The last line of a stored traceback: the exception and its message."""
    return error.strip().splitlines()[-1]


def plural(n: int, noun: str) -> str:
    """``"1 trial"``, ``"3 trials"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def count_states(trials: Iterable[FrozenTrial]) -> Counter[str]:
    """How many of ``trials`` are in each state, by state name."""
    return Counter(t.state.value for t in trials)


def format_counts(counts: Counter[str]) -> str:
    """``"8 COMPLETE, 2 FAILED"`` in :data:`STATES` order, or ``"none finished"``."""
    parts = [f"{counts[s]} {s}" for s in STATES if counts[s]]
    return ", ".join(parts) or "none finished"


def format_params(params: dict[str, Any]) -> str:
    """A trial's configuration as one line of JSON."""
    return json.dumps(params, default=json_default)


def json_default(value: Any) -> Any:
    """``json.dumps``'s fallback for what trials hold: datetimes as ISO 8601, numpy
    scalars as numbers, anything else as its ``str``."""
    if isinstance(value, datetime):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(value)


# --- argparse types ------------------------------------------------------------------
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value
