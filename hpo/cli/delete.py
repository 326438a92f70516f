"""``hpo delete``: remove a stored study and its trials (``hpo.delete_study`` from the
shell)::

    hpo delete my-study --storage sqlite:///hpo.db          # asks for confirmation
    hpo delete my-study --yes                                # no question asked

On a terminal it asks before deleting, unless ``--yes``; without a terminal (scripts,
pipes) ``--yes`` is required, so that nothing is deleted by accident. A study that is not
stored is a usage error listing the ones that are (exit code 2), and a SQLite file that
does not exist is not created. Checkpoints in an artifact directory are left alone.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hpo.cli._common import (
    EXIT_OK,
    UsageError,
    err,
    find_study,
    open_existing_storage,
    plural,
    storage_url,
)


def add_parser(sub: Any) -> None:
    """Register ``hpo delete`` on the subcommand parsers."""
    parser = sub.add_parser(
        "delete",
        help="delete a stored study and its trials",
        description="Delete the study NAME and all its trials from the storage (it also "
        "leaves the comparisons it belonged to). Asks for confirmation on a terminal "
        "unless --yes; without a terminal, --yes is required.",
        epilog="example: hpo delete svm --storage sqlite:///hpo.db --yes",
    )
    parser.add_argument("study", metavar="NAME", help="the study's name")
    parser.add_argument("--yes", "-y", action="store_true", help="delete without asking")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="storage URL (default: $HPO_STORAGE, else sqlite:///hpo.db)",
    )
    parser.set_defaults(handler=cmd_delete)


def cmd_delete(args: argparse.Namespace) -> int:
    """``hpo delete``: confirm, delete, and say what was deleted."""
    url = storage_url(args.storage)
    storage = open_existing_storage(url)
    try:
        record = find_study(storage, args.study, url)
        assert storage is not None
        n = storage.count_trials(record.study_id)
        what = f"study {record.name!r} ({plural(n, 'trial')}) from {url}"
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError(f"refusing to delete {what} without --yes (no terminal to ask)")
            answer = input(f"Delete {what}? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                err("Nothing deleted.")
                return EXIT_OK
        storage.delete_study(record.name)
    finally:
        if storage is not None:
            storage.close()
    print(f"Deleted {what}.")
    return EXIT_OK
