"""Trials as pandas tables (pandas is imported only when a table is asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpo.trial import FrozenTrial

if TYPE_CHECKING:
    import pandas as pd


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    """One flat row: fixed columns, then ``params_*``, ``metrics_*`` and ``user_attrs_*``."""
    row: dict[str, Any] = {
        "number": t.number,
        "state": t.state.value,
        "value": t.value,
        "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
        "duration": t.duration,
        "budget": t.budget,
        "parent": t.parent,
        "searcher_time": t.searcher_time,
        "error": t.error.splitlines()[-1] if t.error else None,
    }
    row.update({f"params_{k}": v for k, v in t.params.items()})
    row.update({f"metrics_{k}": v for k, v in t.metrics.items()})
    row.update({f"user_attrs_{k}": v for k, v in t.user_attrs.items()})
    return row


def trials_dataframe(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    import pandas as pd

    fixed = [
        "number",
        "state",
        "value",
        "datetime_start",
        "datetime_complete",
        "duration",
        "budget",
        "parent",
        "searcher_time",
        "error",
    ]
    rows = [trial_row(t) for t in trials]
    frame = pd.DataFrame(rows, columns=None if rows else fixed)
    return frame
