"""Summaries of a stored comparison, computed from its trials.

**What is computed**, always from the stored trials (so :func:`load_comparison` gives the
same summary later, from any process):

* *best so far* per study: the best COMPLETE value among its first ``i`` trials (failed
  and pruned trials count towards the budget but bring no value), for ``i = 1..n_trials``;
  over seeds, the median and the interquartile band (25th-75th percentiles);
* the same *by wall time*: a study's clock is the cumulative time of its trials (searcher
  time to propose plus evaluation time), i.e. the wall time of a sequential run without
  the pauses between resumed sessions; curves are sampled on one grid shared by all
  searchers (:func:`hpo._stats.time_grid`);
* *normalized regret* of the final best value: 0 at the optimum, 1 at the reference, when
  the problem has both (for the synthetic problems the reference is the median value of
  random configurations). Without them, the optimum is replaced by the best value seen
  anywhere in the comparison and the reference by the median over studies of their first
  complete value (a random-start baseline); ``result.regret_basis`` says which was used;
* *average rank*: at each trial number and seed the searchers are ranked by best-so-far
  (1 = best, ties averaged, no value yet = worst), averaged over the whole budget and the
  seeds; rewards being good early as well as at the end;
* *final value* summaries: median, interquartile band, and interquartile mean (IQM) with a
  seeded 95% percentile-bootstrap confidence interval;
* a paired two-sided *Wilcoxon signed-rank* test of each searcher's final values against
  the best searcher's (lowest median final loss), paired by seed;
* the searcher's own *time per ask* (``FrozenTrial.searcher_time``), the overhead it adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from hpo import _stats
from hpo.storage import ComparisonRecord, Storage
from hpo.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["TABLE_COLUMNS", "ComparisonResult", "Curves", "SearcherCurves"]

#: trial states that use up a study's budget
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
#: the columns of :meth:`ComparisonResult.table`, in order
TABLE_COLUMNS = (
    "searcher",
    "searcher_name",
    "n_seeds",
    "n_trials",
    "n_failed",
    "normalized_regret",
    "normalized_regret_median",
    "average_rank",
    "final_median",
    "final_q25",
    "final_q75",
    "final_iqm",
    "final_iqm_ci_low",
    "final_iqm_ci_high",
    "wilcoxon_p",
    "searcher_time_mean",
)
TIME_GRID_POINTS = 100


# --- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SearcherCurves:
    """One searcher's best-so-far curves (in the objective's units): one row per seed
    (``runs_*``), and their median and interquartile band."""

    label: str
    seeds: list[int]
    runs_by_trial: np.ndarray
    runs_by_time: np.ndarray
    median_by_trial: np.ndarray
    q25_by_trial: np.ndarray
    q75_by_trial: np.ndarray
    median_by_time: np.ndarray
    q25_by_time: np.ndarray
    q75_by_time: np.ndarray


@dataclass(frozen=True)
class Curves:
    """Best-so-far curves of every searcher: x axes ``trials`` (1..n_trials) and
    ``time_grid`` (seconds, shared by all searchers), in searcher order."""

    direction: str
    trials: np.ndarray
    time_grid: np.ndarray
    searchers: dict[str, SearcherCurves] = field(default_factory=dict)


@dataclass(frozen=True)
class _Run:
    """One study's trials as arrays over its first ``n_trials`` trials."""

    values: np.ndarray  # COMPLETE value or NaN, by trial number
    ends: np.ndarray  # cumulative seconds at the end of each trial
    searcher_times: list[float]
    n_trials: int
    n_failed: int


def _run(trials: list[FrozenTrial], budget: int) -> _Run:
    done = [t for t in trials if t.state in FINISHED][:budget]
    values = np.array(
        [
            t.value if t.state is TrialState.COMPLETE and t.value is not None else np.nan
            for t in done
        ],
        dtype=float,
    )
    spent = [(t.searcher_time or 0.0) + (t.duration or 0.0) for t in done]
    return _Run(
        values=values,
        ends=np.cumsum(np.array(spent, dtype=float)),
        searcher_times=[t.searcher_time for t in trials if t.searcher_time is not None],
        n_trials=len(done),
        n_failed=sum(t.state is TrialState.FAILED for t in done),
    )


class ComparisonResult:
    """The summary of a stored comparison, computed from its studies' trials when built
    (read once; build a new one, e.g. with :func:`load_comparison`, to see newer trials).

    ``record`` is the stored :class:`~hpo.storage.ComparisonRecord`; ``labels`` the
    searchers in the order given; ``best_searcher`` the one with the lowest median final
    loss; ``regret_basis`` is ``"optimum"`` (the problem's optimum and reference) or
    ``"observed"`` (best value seen and median first value, see the module docstring).
    """

    def __init__(self, storage: Storage, record: ComparisonRecord) -> None:
        self.storage = storage
        self.record = record
        self.name = record.name
        self.direction = record.direction
        self.n_trials = record.n_trials
        spec_labels = [s["label"] for s in record.spec.get("searchers", [])]
        member_labels = [m.label for m in record.members]
        self.labels: list[str] = [lab for lab in spec_labels if lab in member_labels] + sorted(
            set(member_labels) - set(spec_labels)
        )
        self.searcher_names = {s["label"]: s["searcher"] for s in record.spec.get("searchers", [])}
        self._runs: dict[str, dict[int, _Run]] = {lab: {} for lab in self.labels}
        for m in record.members:
            trials = storage.get_trials(m.study_id).trials
            self._runs[m.label][m.seed] = _run(trials, record.n_trials)
        self._summary: pd.DataFrame | None = None
        self._curves: Curves | None = None

    def __repr__(self) -> str:
        return (
            f"ComparisonResult(name={self.name!r}, problem={self.record.problem!r}, "
            f"searchers={self.labels}, seeds={self.seeds}, n_trials={self.n_trials})"
        )

    @property
    def seeds(self) -> list[int]:
        """The seeds every searcher has a study for (the ones results pair on)."""
        common: set[int] | None = None
        for runs in self._runs.values():
            common = set(runs) if common is None else common & set(runs)
        return sorted(common or ())

    # --- per-study quantities --------------------------------------------------------------
    def _best_loss(self, run: _Run) -> np.ndarray:
        """Best-so-far loss over the budget (NaN-padded when the study stopped early)."""
        curve = np.full(self.n_trials, np.nan)
        best = _stats.best_so_far(_stats.to_loss(run.values, self.direction), "minimize")
        curve[: best.size] = best
        return curve

    def _final_losses(
        self, label: str, seeds: Sequence[int] | None = None, at: int | None = None
    ) -> np.ndarray:
        """Best loss per seed among the first ``at`` trials (default: the whole budget)."""
        runs = self._runs[label]
        order = sorted(runs) if seeds is None else list(seeds)
        finals = []
        for seed in order:
            best = self._best_loss(runs[seed])[: self._budget(at)]
            finite = best[np.isfinite(best)]
            finals.append(finite[-1] if finite.size else np.nan)
        return np.array(finals, dtype=float)

    def _budget(self, at: int | None) -> int:
        if at is None:
            return self.n_trials
        if isinstance(at, bool) or not isinstance(at, int) or not 1 <= at <= self.n_trials:
            raise ValueError(f"at must be a trial count in 1..{self.n_trials}, got {at!r}")
        return at

    def _regret_basis(self) -> tuple[str, float, float]:
        """``(basis, optimum, reference)`` in loss space."""
        rec = self.record
        if rec.optimum is not None and rec.reference is not None:
            return (
                "optimum",
                float(_stats.to_loss([rec.optimum], self.direction)[0]),
                float(_stats.to_loss([rec.reference], self.direction)[0]),
            )
        all_losses = [
            _stats.to_loss(run.values, self.direction)
            for runs in self._runs.values()
            for run in runs.values()
        ]
        finite = [a[np.isfinite(a)] for a in all_losses]
        best = min((float(a.min()) for a in finite if a.size), default=float("nan"))
        firsts = [float(a[0]) for a in finite if a.size]
        reference = float(np.median(firsts)) if firsts else float("nan")
        return "observed", best, reference

    @property
    def regret_basis(self) -> str:
        return self._regret_basis()[0]

    def normalized_regrets(self, at: int | None = None) -> dict[str, np.ndarray]:
        """Each searcher's normalized regret after ``at`` trials (default: the whole
        budget), one value per seed (sorted seeds)."""
        _, optimum, reference = self._regret_basis()
        return {
            lab: _stats.normalized_regret(self._final_losses(lab, at=at), optimum, reference)
            for lab in self.labels
        }

    @property
    def best_searcher(self) -> str:
        """The searcher with the lowest median final loss (ties: the first given)."""
        medians = [_nanmedian(self._final_losses(lab)) for lab in self.labels]
        medians = [m if np.isfinite(m) else np.inf for m in medians]
        return self.labels[int(np.argmin(medians))]

    @property
    def tied_with_best(self) -> list[str]:
        """The searchers whose median final loss equals :attr:`best_searcher`'s (same
        draws, e.g. inside a start-up phase, or an easy problem): no winner among them."""
        if not self.labels:
            return []
        best = self.best_searcher
        target = _nanmedian(self._final_losses(best))
        return [
            lab
            for lab in self.labels
            if lab != best
            and np.isclose(_nanmedian(self._final_losses(lab)), target, rtol=1e-12, atol=0.0)
        ]

    # --- curves ----------------------------------------------------------------------------
    def curves(self) -> Curves:
        """Best-so-far curves of every searcher and seed, by trial and by wall time, with
        their medians and interquartile bands (the raw arrays behind :meth:`figure`)."""
        if self._curves is not None:
            return self._curves
        sign = 1.0 if self.direction == "minimize" else -1.0
        all_ends = [run.ends for runs in self._runs.values() for run in runs.values()]
        grid = _stats.time_grid(all_ends, TIME_GRID_POINTS)
        out: dict[str, SearcherCurves] = {}
        for lab in self.labels:
            seeds = sorted(self._runs[lab])
            by_trial = np.array([sign * self._best_loss(self._runs[lab][s]) for s in seeds])
            by_time = np.array(
                [
                    _stats.step_at(
                        self._runs[lab][s].ends,
                        sign * self._best_loss(self._runs[lab][s])[: self._runs[lab][s].n_trials],
                        grid,
                    )
                    for s in seeds
                ]
            ).reshape(len(seeds), grid.size)
            by_trial = by_trial.reshape(len(seeds), self.n_trials)
            mt, lt, ht = _stats.median_iqr(by_trial)
            mw, lw, hw = _stats.median_iqr(by_time)
            out[lab] = SearcherCurves(lab, seeds, by_trial, by_time, mt, lt, ht, mw, lw, hw)
        self._curves = Curves(self.direction, np.arange(1, self.n_trials + 1), grid, out)
        return self._curves

    # --- table -----------------------------------------------------------------------------
    def average_ranks(self) -> dict[str, float]:
        """Each searcher's rank of best-so-far averaged over trials and common seeds."""
        seeds = self.seeds
        if not seeds:
            return {lab: float("nan") for lab in self.labels}
        losses = np.array(
            [[self._best_loss(self._runs[lab][s]) for s in seeds] for lab in self.labels]
        )
        return dict(zip(self.labels, _stats.average_rank(losses).tolist(), strict=True))

    def ranks_at(self, at: int | None = None) -> dict[str, np.ndarray]:
        """Each searcher's rank by best-so-far after ``at`` trials (default: the whole
        budget), one value per common seed (1 = best, ties averaged, no value = worst)."""
        from scipy.stats import rankdata

        seeds = self.seeds
        if not seeds or not self.labels:
            return {lab: np.array([], dtype=float) for lab in self.labels}
        losses = np.array([self._final_losses(lab, seeds, at) for lab in self.labels])
        losses[~np.isfinite(losses)] = np.inf
        ranks = rankdata(losses, axis=0)
        return {lab: ranks[i].astype(float) for i, lab in enumerate(self.labels)}

    def table(self) -> pd.DataFrame:
        """One row per searcher, sorted by mean normalized regret (then average rank).

        Columns (:data:`TABLE_COLUMNS`): ``searcher`` (label), ``searcher_name``
        (registry name), ``n_seeds``, ``n_trials`` (finished trials over all seeds),
        ``n_failed``; ``normalized_regret`` / ``normalized_regret_median`` (mean / median
        over seeds of the final normalized regret); ``average_rank`` (1 = best);
        ``final_median``, ``final_q25``, ``final_q75`` (final best value, objective
        units); ``final_iqm`` with ``final_iqm_ci_low`` / ``final_iqm_ci_high`` (seeded
        95% bootstrap); ``wilcoxon_p`` (paired by seed against :attr:`best_searcher`;
        ``NaN`` on the best's own row); ``searcher_time_mean`` (seconds per ask).
        """
        if self._summary is not None:
            return self._summary.copy()
        import pandas as pd

        sign = 1.0 if self.direction == "minimize" else -1.0
        regrets = self.normalized_regrets()
        ranks = self.average_ranks()
        best = self.best_searcher if self.labels else None
        common = self.seeds
        rows = []
        for i, lab in enumerate(self.labels):
            runs = self._runs[lab]
            finals = sign * self._final_losses(lab)
            med, q25, q75 = _stats.median_iqr(finals)
            ci = _stats.bootstrap_ci(finals, seed=i)
            times = [t for run in runs.values() for t in run.searcher_times]
            p = float("nan")
            if best is not None and lab != best and common:
                p = _stats.wilcoxon_p(
                    self._final_losses(lab, common), self._final_losses(best, common)
                )
            rows.append(
                {
                    "searcher": lab,
                    "searcher_name": self.searcher_names.get(lab, lab),
                    "n_seeds": len(runs),
                    "n_trials": sum(r.n_trials for r in runs.values()),
                    "n_failed": sum(r.n_failed for r in runs.values()),
                    "normalized_regret": _nanmean(regrets[lab]),
                    "normalized_regret_median": _nanmedian(regrets[lab]),
                    "average_rank": ranks[lab],
                    "final_median": float(med),
                    "final_q25": float(q25),
                    "final_q75": float(q75),
                    "final_iqm": _stats.iqm(finals),
                    "final_iqm_ci_low": ci[0],
                    "final_iqm_ci_high": ci[1],
                    "wilcoxon_p": p,
                    "searcher_time_mean": float(np.mean(times)) if times else float("nan"),
                }
            )
        frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
        frame = frame.sort_values(
            ["normalized_regret", "average_rank"], kind="stable", na_position="last"
        ).reset_index(drop=True)
        self._summary = frame
        return frame.copy()

    # --- figure ----------------------------------------------------------------------------
    def figure(self) -> go.Figure:
        """A Plotly figure: best-so-far median (line) with its interquartile band (filled)
        per searcher, by trial (left) and by wall time (right). Per searcher and panel: one
        median trace named by the label, and two band traces named ``"<label> IQR"``."""
        import plotly.graph_objects as go
        from plotly.colors import DEFAULT_PLOTLY_COLORS
        from plotly.subplots import make_subplots

        curves = self.curves()
        fig = make_subplots(
            rows=1,
            cols=2,
            subplot_titles=("Best so far by trial", "Best so far by wall time"),
        )
        for i, (lab, c) in enumerate(curves.searchers.items()):
            color = DEFAULT_PLOTLY_COLORS[i % len(DEFAULT_PLOTLY_COLORS)]
            panels = (
                (1, curves.trials, c.median_by_trial, c.q25_by_trial, c.q75_by_trial),
                (2, curves.time_grid, c.median_by_time, c.q25_by_time, c.q75_by_time),
            )
            for col, x, med, low, high in panels:
                common = {"legendgroup": lab, "showlegend": False, "hoverinfo": "skip"}
                fig.add_trace(
                    go.Scatter(
                        x=x, y=high, name=f"{lab} IQR", mode="lines", line={"width": 0}, **common
                    ),
                    row=1,
                    col=col,
                )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=low,
                        name=f"{lab} IQR",
                        mode="lines",
                        line={"width": 0},
                        fill="tonexty",
                        fillcolor=color.replace("rgb(", "rgba(").replace(")", ", 0.2)"),
                        **common,
                    ),
                    row=1,
                    col=col,
                )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=med,
                        name=lab,
                        mode="lines",
                        line={"color": color},
                        legendgroup=lab,
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
        fig.update_xaxes(title_text="trial", row=1, col=1)
        fig.update_xaxes(title_text="seconds", row=1, col=2)
        fig.update_yaxes(title_text=f"best value ({self.direction})", row=1, col=1)
        fig.update_layout(
            title=f"{self.name}: {self.record.problem}, {len(self.seeds)} seeds, "
            f"{self.n_trials} trials"
        )
        return fig


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")
