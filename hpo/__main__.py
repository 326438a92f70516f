"""``python -m hpo``: the same as the ``hpo`` command (see :mod:`hpo.cli`)."""

from __future__ import annotations

from hpo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
