"""The read-only subcommands: ``hpo studies`` (one table row per stored study),
``hpo show`` (a study's definition, counts by state, best trial and latest trials) and
``hpo export`` (a study's trials as CSV or JSON). They never write to the storage and
never create a SQLite file that does not exist; a study name that is not stored is a
usage error listing the ones that are."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.cli._common import (
    EXIT_OK,
    STATES,
    UsageError,
    count_states,
    err,
    error_line,
    find_study,
    format_counts,
    format_params,
    json_default,
    open_existing_storage,
    plural,
    storage_url,
)
from hpo.trial import best_trial

if TYPE_CHECKING:
    from hpo.storage import StudyRecord, StudySummary
    from hpo.trial import FrozenTrial


def read_study(storage_arg: str | None, name: str) -> tuple[StudyRecord, list[FrozenTrial]]:
    """The stored study ``name`` and its trials, read from ``--storage`` (or the default),
    or a :class:`UsageError` when there is no such study."""
    url = storage_url(storage_arg)
    storage = open_existing_storage(url)
    try:
        record = find_study(storage, name, url)
        assert storage is not None
        return record, storage.get_trials(record.study_id).trials
    finally:
        if storage is not None:
            storage.close()


# --- hpo studies -----------------------------------------------------------------------
def cmd_studies(args: argparse.Namespace) -> int:
    """``hpo studies``: one row per study with its trials by state and best value."""
    url = storage_url(args.storage)
    storage = open_existing_storage(url)
    rows: list[list[Any]] = []
    if storage is not None:
        try:
            rows = [_study_row(s) for s in storage.study_summaries()]
        finally:
            storage.close()
    if not rows:
        print(f"No studies in {url}.")
        return EXIT_OK
    headers = ["NAME", "DIRECTION", "SEARCHER", "TRIALS", *STATES, "BEST", "CREATED"]
    print(format_table(headers, rows))
    return EXIT_OK


def _study_row(summary: StudySummary) -> list[Any]:
    """One row of ``hpo studies``, from the storage's summary (no trial is read)."""
    return [
        summary.name,
        summary.direction,
        summary.searcher,
        summary.n_trials,
        *(summary.counts.get(s, 0) for s in STATES),
        summary.best_value,
        summary.created_at,
    ]


# --- hpo show --------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace) -> int:
    """``hpo show``: a study's definition, counts by state, best trial and last trials."""
    record, trials = read_study(args.storage, args.study)
    print(describe_study(record, trials, args.last))
    return EXIT_OK


def describe_study(record: StudyRecord, trials: Sequence[FrozenTrial], last: int) -> str:
    """The text ``hpo show`` prints."""
    kwargs = json.dumps(record.searcher_kwargs, sort_keys=True) if record.searcher_kwargs else ""
    lines = [
        f"Study {record.name!r}",
        f"  direction:  {record.direction}",
        f"  searcher:   {record.searcher} {kwargs}".rstrip(),
        f"  seed:       {_cell(record.seed)}",
        f"  metric:     {_cell(record.metric)}",
        f"  created:    {_cell(record.created_at)}",
        "Space (define-by-run; the parameters seen so far):" if record.define_by_run else "Space:",
    ]
    lines += [f"  {name}: {param!r}" for name, param in record.space.items()] or ["  (empty)"]
    lines.append(f"Trials: {len(trials)} ({format_counts(count_states(trials))})")
    best = best_trial(trials, record.direction)
    if best is None:
        lines.append("Best trial: none complete yet")
    else:
        lines.append(
            f"Best trial: {best.number}, value {best.value:.6g}, "
            f"configuration {format_params(best.params)}"
        )
    if trials:
        shown = trials[-last:]
        lines.append(f"Last {plural(len(shown), 'trial')}:")
        table = format_table(
            ["NUMBER", "STATE", "VALUE", "DURATION", "PARAMS", "ERROR"],
            [_trial_row(t) for t in shown],
        )
        lines += [f"  {line}" for line in table.splitlines()]
    return "\n".join(lines)


def _trial_row(t: FrozenTrial) -> list[Any]:
    error = error_line(t.error) if t.error else ""
    if len(error) > 60:
        error = error[:57] + "..."
    return [t.number, t.state.value, t.value, t.duration, format_params(t.params), error]


# --- tables ----------------------------------------------------------------------------
def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with columns aligned (numbers right, text left; headers left)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    lines = [_join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += [
        _join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        )
        for row in cells
    ]
    return "\n".join(lines)


def _join(padded: Iterable[str]) -> str:
    return "  ".join(padded).rstrip()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        local = value.astimezone() if value.tzinfo is not None else value
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


# --- hpo export ------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    """``hpo export``: the study's trials as CSV or JSON, to stdout or ``--output``."""
    record, trials = read_study(args.storage, args.study)
    text = export_csv(trials) if args.format == "csv" else export_json(record, trials)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output!r}: {exc.strerror or exc}") from None
    err(f"Wrote {len(trials)} trials of {record.name!r} to {args.output}")
    return EXIT_OK


def export_csv(trials: Sequence[FrozenTrial]) -> str:
    """One flat row per trial (the columns of :meth:`Study.trials_dataframe`)."""
    from hpo.tables import trials_dataframe

    return str(trials_dataframe(list(trials)).to_csv(index=False))


def export_json(record: StudyRecord, trials: Sequence[FrozenTrial]) -> str:
    """``{"study": {...definition...}, "trials": [...full records...]}`` as indented JSON."""
    study = {
        "name": record.name,
        "direction": record.direction,
        "searcher": record.searcher,
        "searcher_kwargs": record.searcher_kwargs,
        "seed": record.seed,
        "metric": record.metric,
        "define_by_run": record.define_by_run,
        "space": record.space.to_json(),
        "created_at": record.created_at,
        "user_attrs": record.user_attrs,
    }
    payload = {"study": study, "trials": [trial_record(t) for t in trials]}
    return json.dumps(payload, indent=2, default=json_default) + "\n"


def trial_record(t: FrozenTrial) -> dict[str, Any]:
    """Everything stored about a trial, JSON-ready (datetimes are ISO 8601 strings)."""
    return {
        "number": t.number,
        "state": t.state.value,
        "value": t.value,
        "params": t.params,
        "metrics": t.metrics,
        "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
        "user_attrs": t.user_attrs,
        "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
        "duration": t.duration,
        "budget": t.budget,
        "parent": t.parent,
        "searcher_time": t.searcher_time,
        "error": t.error,
    }
