"""The dashboard's comparison page data: :class:`hpo.comparison_result.ComparisonResult`
computed on the server, sent as :func:`hpo.codecs.comparison_summary_to_json`, plus what
the page draws that the summary leaves to the reader:

* normalized regret by trial (median and interquartile band over seeds), where the
  problem's optimum and reference are known (``regret_basis == "optimum"``);
* the average rank by trial (over the common seeds: 1 = best), whose mean over the budget
  is the table's ``average_rank``;
* each searcher's final best value per seed (the box plots), with the member study;
* the verdict in words: the winner, the searchers tied with it (same median), and those
  the Wilcoxon test cannot tell from it (p >= 0.05), saying when too few seeds make a
  significant difference impossible;
* the member studies as a searcher x seed grid (progress and best value) for drill-down.

Member trials come from the dashboard's :class:`~server.trial_cache.TrialCache`, so a
live comparison is re-read incrementally; long budgets are thinned to ``max_points``
trial positions (curves stay exact at the positions shown), and the per-seed curves
(``runs_*``) are left out: the page links to each seed's study instead.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any, cast

import numpy as np

from hpo import _stats
from hpo.codecs import comparison_record_to_json, comparison_summary_to_json, datetime_to_json
from hpo.comparison_result import FINISHED, ComparisonResult
from hpo.server.trial_cache import TrialCache
from hpo.storage import ComparisonRecord, Storage, StudySummary, TrialBatch
from hpo.trial import TrialState

JSON = dict[str, Any]
#: the significance level the verdict uses
ALPHA = 0.05
#: the fewest seeds with which the paired Wilcoxon test can reach p < ALPHA (two-sided,
#: exact: 6 pairs give p = 0.03125 at best)
MIN_SEEDS_FOR_SIGNIFICANCE = 6
#: regrets below this are drawn at it on the log axis (0 means "found the optimum")
REGRET_FLOOR = 1e-6


class _CachedTrials:
    """What :class:`ComparisonResult` reads (``get_trials``), from the trial cache."""

    def __init__(self, cache: TrialCache) -> None:
        self.cache = cache

    def get_trials(self, study_id: int, **_: Any) -> TrialBatch:
        view = self.cache.get(study_id)
        return TrialBatch(trials=view.trials, cursor=view.cursor)


def version(record: ComparisonRecord, summaries: list[StudySummary], job: Any) -> str:
    """A fingerprint of everything the page shows: changes when a member trial finishes,
    starts or improves, or the job's state changes (from aggregates: no trial is read)."""
    parts = [repr((record.comparison_id, len(record.members), job))]
    for s in sorted(summaries, key=lambda s: s.study_id):
        parts.append(repr((s.study_id, sorted(s.counts.items()), s.best_value, s.stopped_at)))
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def progress(record: ComparisonRecord, summaries: list[StudySummary]) -> JSON:
    """Finished trials against the planned budget, and trials running now."""
    by_id = {s.study_id: s for s in summaries}
    expected = len(record.spec.get("searchers", [])) * len(record.spec.get("seeds", []))
    expected = max(expected, len(record.members)) * record.n_trials
    finished = running = 0
    for m in record.members:
        s = by_id.get(m.study_id)
        if s is not None:
            finished += min(sum(s.counts.get(st.value, 0) for st in FINISHED), record.n_trials)
            running += s.counts.get(TrialState.RUNNING.value, 0)
    return {"finished": finished, "expected": expected, "running": running}


def members_grid(record: ComparisonRecord, summaries: list[StudySummary]) -> list[JSON]:
    """One cell per member study (label, seed): its progress and best value."""
    by_id = {s.study_id: s for s in summaries}
    cells = []
    for m in record.members:
        s = by_id.get(m.study_id)
        counts = s.counts if s is not None else {}
        cells.append(
            {
                "label": m.label,
                "seed": m.seed,
                "study_id": m.study_id,
                "study_name": m.study_name,
                "finished": sum(counts.get(st.value, 0) for st in FINISHED),
                "running": counts.get(TrialState.RUNNING.value, 0),
                "failed": counts.get(TrialState.FAILED.value, 0),
                "best_value": None if s is None else s.best_value,
                "last_activity": None if s is None else datetime_to_json(s.last_activity),
            }
        )
    return cells


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` positions of ``n``, the first and last included."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def _list(a: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, dtype=float)]


def summary(
    storage: Storage,
    cache: TrialCache,
    record: ComparisonRecord,
    max_points: int = 400,
) -> JSON:
    """The comparison page's numbers (see the module docstring)."""
    with warnings.catch_warnings():  # a comparison just started has all-NaN columns
        warnings.simplefilter("ignore", RuntimeWarning)
        return _summary(storage, cache, record, max_points)


def empty_summary(record: ComparisonRecord) -> JSON:
    """What :func:`summary` answers before any member trial finished (the statistics
    need at least one finished trial)."""
    labels = [str(s["label"]) for s in record.spec.get("searchers", [])]
    basis = "optimum" if record.optimum is not None and record.reference is not None else "observed"
    return {
        "record": comparison_record_to_json(record),
        "labels": labels,
        "seeds": [],
        "best_searcher": None,
        "regret_basis": basis,
        "table": [],
        "curves": {"direction": record.direction, "trials": [], "time_grid": [], "searchers": []},
        "average_ranks": {},
        "normalized_regrets": {},
        "extras": {
            "regret_by_trial": {},
            "regret_floor": REGRET_FLOOR,
            "rank_by_trial": {},
            "finals": {},
            "verdict": {
                "best": None,
                "tied": [],
                "indistinguishable": [],
                "n_seeds": 0,
                "alpha": ALPHA,
                "min_seeds": MIN_SEEDS_FOR_SIGNIFICANCE,
                "text": "No trial has finished yet: the statistics appear with the first results.",
            },
        },
    }


def _summary(
    storage: Storage, cache: TrialCache, record: ComparisonRecord, max_points: int
) -> JSON:
    result = ComparisonResult(cast(Storage, _CachedTrials(cache)), record)
    data = comparison_summary_to_json(result)
    curves = result.curves()
    idx = _thin(len(curves.trials), max_points)
    trial_keys = ("median_by_trial", "q25_by_trial", "q75_by_trial")
    data["curves"]["trials"] = _list(curves.trials[idx])
    for item in data["curves"]["searchers"]:
        c = curves.searchers[item["label"]]
        for key in trial_keys:
            item[key] = _list(getattr(c, key)[idx])
        # the page draws medians and bands; single seeds are in the member studies
        item.pop("runs_by_trial", None)
        item.pop("runs_by_time", None)
    data["extras"] = _extras(result, idx)
    return data


def _extras(result: ComparisonResult, idx: np.ndarray) -> JSON:
    curves = result.curves()
    sign = 1.0 if result.direction == "minimize" else -1.0
    rec = result.record
    basis = result.regret_basis
    if basis == "optimum":
        assert rec.optimum is not None and rec.reference is not None
        optimum = float(_stats.to_loss([rec.optimum], result.direction)[0])
        reference = float(_stats.to_loss([rec.reference], result.direction)[0])
    regret: dict[str, JSON] = {}
    finals: dict[str, list[JSON]] = {}
    members = {(m.label, m.seed): m for m in result.record.members}
    for label, c in curves.searchers.items():
        losses = sign * np.asarray(c.runs_by_trial, dtype=float)
        if basis == "optimum" and losses.size:
            r = _stats.normalized_regret(losses, optimum, reference)
            med, q25, q75 = _stats.median_iqr(r)
            regret[label] = {
                "median": _list(np.maximum(med, REGRET_FLOOR)[idx]),
                "q25": _list(np.maximum(q25, REGRET_FLOOR)[idx]),
                "q75": _list(np.maximum(q75, REGRET_FLOOR)[idx]),
            }
        rows = []
        for seed, run in zip(c.seeds, np.asarray(c.runs_by_trial, dtype=float), strict=True):
            finite = run[np.isfinite(run)]
            member = members.get((label, seed))
            rows.append(
                {
                    "seed": int(seed),
                    "value": float(finite[-1]) if finite.size else None,
                    "study_id": None if member is None else member.study_id,
                }
            )
        finals[label] = rows
    return {
        "regret_by_trial": regret,
        "regret_floor": REGRET_FLOOR,
        "rank_by_trial": _rank_curves(result, idx),
        "finals": finals,
        "verdict": verdict(result),
    }


def _rank_curves(result: ComparisonResult, idx: np.ndarray) -> dict[str, list[float | None]]:
    """Each searcher's rank by best-so-far at each trial, averaged over the common seeds."""
    from scipy.stats import rankdata

    seeds, labels = result.seeds, result.labels
    if not seeds or not labels:
        return {}
    curves = result.curves()
    sign = 1.0 if result.direction == "minimize" else -1.0
    losses = []
    for label in labels:
        c = curves.searchers[label]
        rows = {s: row for s, row in zip(c.seeds, c.runs_by_trial, strict=True)}
        losses.append([sign * np.asarray(rows[s], dtype=float) for s in seeds])
    array = np.array(losses)  # (searcher, seed, trial)
    array[~np.isfinite(array)] = np.inf  # no value yet: worst
    ranks = rankdata(array, axis=0)
    mean = ranks.mean(axis=1)  # (searcher, trial)
    return {label: _list(mean[i][idx]) for i, label in enumerate(labels)}


def verdict(result: ComparisonResult) -> JSON:
    """The winner and what the statistics can and cannot say, in plain words."""
    labels = result.labels
    if not labels:
        return {"best": None, "tied": [], "indistinguishable": [], "text": "No results yet."}
    table = result.table()
    best = result.best_searcher
    tied = result.tied_with_best
    n_seeds = len(result.seeds)
    p = {row["searcher"]: row["wilcoxon_p"] for row in table.to_dict("records")}
    unclear = [
        lab
        for lab in labels
        if lab != best
        and lab not in tied
        and not (np.isfinite(p.get(lab, np.nan)) and p[lab] < ALPHA)
    ]
    text = f"{best} has the best median final value"
    if tied:
        names = [best, *tied]
        text = (
            f"No winner: {', '.join(names[:-1])} and {names[-1]} tie (the same median final value)"
        )
    if n_seeds < MIN_SEEDS_FOR_SIGNIFICANCE and len(labels) > 1:
        text += (
            f". With {n_seeds} seed{'s' if n_seeds != 1 else ''} no difference can be "
            f"significant (the paired Wilcoxon test needs at least "
            f"{MIN_SEEDS_FOR_SIGNIFICANCE} seeds to reach p < {ALPHA})"
        )
    elif unclear:
        text += (
            f"; {', '.join(unclear)} cannot be told apart from it (Wilcoxon p >= {ALPHA} over "
            f"{n_seeds} seeds)"
        )
    elif len(labels) > 1 and not tied:
        text += f", significantly better than every other searcher (Wilcoxon p < {ALPHA})"
    return {
        "best": best,
        "tied": tied,
        "indistinguishable": unclear,
        "n_seeds": n_seeds,
        "alpha": ALPHA,
        "min_seeds": MIN_SEEDS_FOR_SIGNIFICANCE,
        "text": text + ".",
    }
