"""Trials as pandas tables (pandas is imported only when a table is asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpo.trial import FrozenTrial

if TYPE_CHECKING:
    import pandas as pd


def trial_row(t: FrozenTrial) -> dict[str, Any]:
    """One flat row: fixed columns, then ``params_*``, ``metrics_*``, ``user_attrs_*`` and
    ``intermediate_values_<step>``."""
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
    row.update(
        {
            f"intermediate_values_{s}": t.intermediate_values[s]
            for s in sorted(t.intermediate_values)
        }
    )
    return row


def trials_dataframe(trials: Sequence[FrozenTrial]) -> pd.DataFrame:
    """One row per trial (:func:`trial_row`), the ``intermediate_values_<step>`` columns
    last in step order. A column of integers with missing cells (an inactive parameter, a
    trial without a parent) is pandas' nullable ``Int64``, so it stays integer (also in
    CSV) instead of becoming float."""
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
    steps = sorted(
        (c for c in frame.columns if c.startswith("intermediate_values_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )
    frame = frame[[c for c in frame.columns if c not in steps] + steps]
    for column in frame.columns:  # ints with gaps (inactive parameters) stay ints
        raw = [row.get(column) for row in rows]
        cells = [v for v in raw if v is not None]
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in cells)
        if cells and ints and len(cells) < len(raw):
            frame[column] = pd.array(raw, dtype="Int64")
    return frame
