"""``python -m hpo.cli``: the same as the ``hpo`` command."""

from __future__ import annotations

from hpo.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
