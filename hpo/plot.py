"""Study plots: Plotly figures of a study's trials, the same ones the dashboard shows.

Every plot comes in three layers, so a server can send JSON and a browser can draw the
very same figure with Plotly.js:

* ``<plot>_data(trials, direction, ...)``: the numbers, as plain lists and dicts
  (JSON-serializable; no plotly, no numpy types);
* ``<plot>_spec(data)``: a Plotly figure as a plain dict ``{"data": [...], "layout":
  {...}}``, for ``Plotly.newPlot(div, spec.data, spec.layout)`` or ``go.Figure(spec)``;
* ``<plot>(study)`` (and ``<plot>_figure(trials, direction)``): a
  ``plotly.graph_objects.Figure``.

The plots:

* :func:`history`: each COMPLETE trial's value by trial number, and the best value so
  far (a step line).
* :func:`importance`: how much each parameter matters to the objective value. With
  scikit-learn installed: a random forest (64 trees) fitted to the COMPLETE trials, then
  permutation importance (the increase in its squared error when one parameter's column
  is shuffled, 10 repeats), normalized to sum to 1; trees only use the order of values,
  so log-scaled parameters need no transform. Without scikit-learn: the correlation ratio
  corrected for chance (epsilon squared: the share of the value's variance between the
  parameter's bins, one-way ANOVA on up to 10 quantile bins, minus what noise alone would
  give), also normalized. ``data["method"]`` says which, and the figure's title.
* :func:`parallel_coordinates`: one line per COMPLETE trial through its parameters and
  value, coloured by value (categorical axes labelled by choice).
* :func:`intermediate_values`: each trial's reports (step, value), coloured by state, for
  multi-fidelity and pruned studies.

plotly (and scikit-learn, for importance) are imported only when a figure is built, so
``import hpo`` stays light.

>>> fig = hpo.plot.history(study)                                # doctest: +SKIP
>>> data = hpo.plot.history_data(study.trials, study.direction)  # JSON for a browser
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from hpo.study import Study

__all__ = [
    "history",
    "history_data",
    "history_figure",
    "history_spec",
    "importance",
    "importance_data",
    "importance_figure",
    "importance_spec",
    "intermediate_values",
    "intermediate_values_data",
    "intermediate_values_figure",
    "intermediate_values_spec",
    "parallel_coordinates",
    "parallel_coordinates_data",
    "parallel_coordinates_figure",
    "parallel_coordinates_spec",
]

_STATE_COLORS = {
    "COMPLETE": "#1f77b4",
    "PRUNED": "#ff7f0e",
    "FAILED": "#d62728",
    "RUNNING": "#2ca02c",
    "WAITING": "#7f7f7f",
}


def _check_direction(direction: str) -> None:
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")


def _complete(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return [
        t
        for t in trials
        if t.state is TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]


def _plain(value: Any) -> Any:
    """A JSON-ready scalar (numpy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def _figure(spec: dict[str, Any]) -> go.Figure:
    import plotly.graph_objects as go

    return go.Figure(spec)


# --- history -------------------------------------------------------------------------------
def history_data(trials: Sequence[FrozenTrial], direction: str) -> dict[str, Any]:
    """``{"direction", "numbers", "values", "best_numbers", "best_values", "counts"}``:
    the COMPLETE trials' numbers and values, the best value so far after each of them,
    and how many trials are in each state."""
    _check_direction(direction)
    done = _complete(trials)
    sign = 1.0 if direction == "minimize" else -1.0
    best: list[float] = []
    for t in done:
        assert t.value is not None
        best.append(t.value if not best or sign * t.value < sign * best[-1] else best[-1])
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    return {
        "direction": direction,
        "numbers": [t.number for t in done],
        "values": [float(t.value) for t in done if t.value is not None],
        "best_numbers": [t.number for t in done],
        "best_values": best,
        "counts": counts,
    }


def history_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The Plotly figure (as a dict) of :func:`history_data`."""
    traces = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "value",
            "x": data["numbers"],
            "y": data["values"],
            "marker": {"color": _STATE_COLORS["COMPLETE"], "size": 7},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "best so far",
            "x": data["best_numbers"],
            "y": data["best_values"],
            "line": {"shape": "hv", "color": "#d62728"},
        },
    ]
    others = ", ".join(f"{n} {s}" for s, n in sorted(data["counts"].items()) if s != "COMPLETE")
    title = "Optimization history" + (f" ({others} not shown)" if others else "")
    return {
        "data": traces,
        "layout": {
            "title": {"text": title},
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": f"objective value ({data['direction']})"}},
            "template": "plotly_white",
        },
    }


def history_figure(trials: Sequence[FrozenTrial], direction: str) -> go.Figure:
    """The optimization history of ``trials`` as a Plotly figure."""
    return _figure(history_spec(history_data(trials, direction)))


def history(study: Study) -> go.Figure:
    """Each COMPLETE trial's value and the best value so far, by trial number."""
    return history_figure(study.trials, study.direction)


# --- parameters as numbers -------------------------------------------------------------------
def _columns(trials: Sequence[FrozenTrial], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        return list(names)
    seen: dict[str, None] = {}
    for t in trials:
        seen.update(dict.fromkeys(t.params))
    return list(seen)


def _is_numeric(values: list[Any]) -> bool:
    return all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in values
    )


def _encode_column(values: list[Any]) -> tuple[list[float | None], list[Any] | None]:
    """A parameter's values as numbers (``None`` where inactive) and, for a categorical
    one, its choices in first-seen order (the numbers are their indices)."""
    present = [v for v in values if v is not None]
    if _is_numeric(present):
        return [None if v is None else float(v) for v in values], None
    choices: list[Any] = []
    for v in present:
        if not any(type(c) is type(v) and c == v for c in choices):
            choices.append(v)
    index = {(type(c).__name__, c): i for i, c in enumerate(choices)}
    coded = [None if v is None else float(index[(type(v).__name__, v)]) for v in values]
    return coded, [_plain(c) for c in choices]


# --- importance ------------------------------------------------------------------------------
def importance_data(
    trials: Sequence[FrozenTrial],
    direction: str,
    *,
    params: Sequence[str] | None = None,
    method: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"method", "params", "importances", "n_trials"}``: each parameter's share of the
    importance (summing to 1), most important first.

    ``method`` is ``"random-forest"`` (permutation importance of a random forest; needs
    scikit-learn) or ``"epsilon-squared"`` (numpy only); by default the forest when
    scikit-learn is installed, else epsilon squared. Needs at least 3 COMPLETE trials."""
    _check_direction(direction)
    done = _complete(trials)
    if len(done) < 3:
        raise ValueError(f"parameter importance needs at least 3 COMPLETE trials, got {len(done)}")
    names = _columns(done, params)
    if not names:
        raise ValueError("the trials have no parameters to rank")
    y = np.array([float(t.value) for t in done if t.value is not None])
    columns = []
    for name in names:
        coded, _ = _encode_column([t.params.get(name) for t in done])
        columns.append([math.nan if v is None else v for v in coded])
    x = np.array(columns, dtype=float).T
    if method is None:
        try:
            import sklearn  # noqa: F401
        except ImportError:
            method = "epsilon-squared"
        else:
            method = "random-forest"
    if method == "random-forest":
        raw = _forest_importance(x, y, seed)
    elif method == "epsilon-squared":
        raw = np.array([_epsilon_squared(x[:, j], y) for j in range(x.shape[1])])
    else:
        raise ValueError(f"method must be 'random-forest' or 'epsilon-squared', got {method!r}")
    raw = np.clip(np.nan_to_num(raw, nan=0.0), 0.0, None)
    total = float(raw.sum())
    shares = raw / total if total > 0 else np.full(len(names), 1.0 / len(names))
    order = np.argsort(-shares, kind="stable")
    return {
        "method": method,
        "params": [names[i] for i in order],
        "importances": [float(shares[i]) for i in order],
        "n_trials": len(done),
    }


def _forest_importance(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    try:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.inspection import permutation_importance
    except ImportError:
        raise ImportError(
            "importance(method='random-forest') needs scikit-learn: pip install scikit-learn "
            "(or pass method='epsilon-squared', which needs only numpy)"
        ) from None
    # an inactive parameter (NaN) sits below every value it takes: its own branch
    filled = x.copy()
    for j in range(x.shape[1]):
        missing = np.isnan(x[:, j])
        if missing.any():
            present = x[~missing, j]
            filled[missing, j] = (present.min() - 1.0) if present.size else -1.0
    forest = RandomForestRegressor(n_estimators=64, min_samples_leaf=1, random_state=seed)
    forest.fit(filled, y)
    result = permutation_importance(forest, filled, y, n_repeats=10, random_state=seed)
    return np.asarray(result.importances_mean, dtype=float)


def _epsilon_squared(column: np.ndarray, y: np.ndarray) -> float:
    """The share of ``y``'s variance between the bins of ``column``, corrected for chance
    (epsilon squared: a parameter that does nothing scores about 0). Up to 10 quantile
    bins of at least 5 trials each; an inactive parameter (NaN) is its own bin."""
    n = len(y)
    ss_total = float(np.sum((y - y.mean()) ** 2))
    if ss_total <= 0 or n < 3:
        return 0.0
    bins = max(2, min(10, n // 5))
    present = ~np.isnan(column)
    groups = np.full(n, -1)
    values = column[present]
    if values.size:
        distinct = np.unique(values)
        if distinct.size <= bins:
            groups[present] = np.searchsorted(distinct, values)
        else:
            edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
            groups[present] = np.searchsorted(edges, values, side="right")
    labels = np.unique(groups)
    k = len(labels)
    if k < 2 or n <= k:
        return 0.0
    ss_between = sum(
        (groups == g).sum() * (float(y[groups == g].mean()) - float(y.mean())) ** 2 for g in labels
    )
    ms_within = (ss_total - ss_between) / (n - k)
    return max((ss_between - (k - 1) * ms_within) / ss_total, 0.0)


def importance_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The Plotly figure (as a dict) of :func:`importance_data`: horizontal bars."""
    label = {"random-forest": "random-forest permutation importance"}.get(
        data["method"], "correlation ratio, epsilon squared"
    )
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": data["importances"][::-1],
                "y": data["params"][::-1],
                "marker": {"color": _STATE_COLORS["COMPLETE"]},
            }
        ],
        "layout": {
            "title": {"text": f"Parameter importance ({label}, {data['n_trials']} trials)"},
            "xaxis": {"title": {"text": "share of importance"}, "range": [0, 1]},
            "template": "plotly_white",
        },
    }


def importance_figure(
    trials: Sequence[FrozenTrial],
    direction: str,
    *,
    params: Sequence[str] | None = None,
    method: str | None = None,
) -> go.Figure:
    """Parameter importance of ``trials`` as a Plotly figure (see :func:`importance_data`)."""
    return _figure(
        importance_spec(importance_data(trials, direction, params=params, method=method))
    )


def importance(
    study: Study, *, params: Sequence[str] | None = None, method: str | None = None
) -> go.Figure:
    """How much each parameter matters to the value (see the module docstring)."""
    return importance_figure(study.trials, study.direction, params=params, method=method)


# --- parallel coordinates --------------------------------------------------------------------
def parallel_coordinates_data(
    trials: Sequence[FrozenTrial], direction: str, *, params: Sequence[str] | None = None
) -> dict[str, Any]:
    """``{"direction", "numbers", "values", "dimensions": [{"name", "values", "choices"}]}``:
    the COMPLETE trials having every plotted parameter (default: the parameters all
    COMPLETE trials share), one dimension per parameter; a categorical dimension holds
    choice indices and its ``choices``, a numeric one ``choices=None``."""
    _check_direction(direction)
    done = _complete(trials)
    if params is None:
        shared = _columns(done, None)
        names = [n for n in shared if all(n in t.params for t in done)]
    else:
        names = list(params)
    rows = [t for t in done if all(n in t.params for n in names)]
    dims = []
    for name in names:
        coded, choices = _encode_column([t.params[name] for t in rows])
        dims.append({"name": name, "values": coded, "choices": choices})
    return {
        "direction": direction,
        "numbers": [t.number for t in rows],
        "values": [float(t.value) for t in rows if t.value is not None],
        "dimensions": dims,
    }


def parallel_coordinates_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The Plotly figure (as a dict) of :func:`parallel_coordinates_data`."""
    dims: list[dict[str, Any]] = []
    for d in data["dimensions"]:
        dim: dict[str, Any] = {"label": d["name"], "values": d["values"]}
        if d["choices"] is not None:
            dim["tickvals"] = list(range(len(d["choices"])))
            dim["ticktext"] = [str(c) for c in d["choices"]]
        dims.append(dim)
    dims.append({"label": "value", "values": data["values"]})
    reverse = data["direction"] == "maximize"  # the best trials drawn in the darkest colour
    return {
        "data": [
            {
                "type": "parcoords",
                "dimensions": dims,
                "line": {
                    "color": data["values"],
                    "colorscale": "Blues",
                    "reversescale": not reverse,
                    "showscale": True,
                    "colorbar": {"title": {"text": "value"}},
                },
            }
        ],
        "layout": {
            "title": {"text": f"Parallel coordinates ({len(data['values'])} complete trials)"},
            "template": "plotly_white",
        },
    }


def parallel_coordinates_figure(
    trials: Sequence[FrozenTrial], direction: str, *, params: Sequence[str] | None = None
) -> go.Figure:
    """Parallel coordinates of ``trials`` as a Plotly figure."""
    return _figure(
        parallel_coordinates_spec(parallel_coordinates_data(trials, direction, params=params))
    )


def parallel_coordinates(study: Study, *, params: Sequence[str] | None = None) -> go.Figure:
    """One line per COMPLETE trial through its parameters and its value."""
    return parallel_coordinates_figure(study.trials, study.direction, params=params)


# --- intermediate values ---------------------------------------------------------------------
def intermediate_values_data(trials: Sequence[FrozenTrial], direction: str) -> dict[str, Any]:
    """``{"direction", "trials": [{"number", "state", "steps", "values"}]}`` for every trial
    that reported at least once, steps in increasing order."""
    _check_direction(direction)
    curves = []
    for t in trials:
        if not t.intermediate_values:
            continue
        steps = sorted(t.intermediate_values)
        curves.append(
            {
                "number": t.number,
                "state": t.state.value,
                "steps": steps,
                "values": [float(t.intermediate_values[s]) for s in steps],
            }
        )
    return {"direction": direction, "trials": curves}


def intermediate_values_spec(data: dict[str, Any]) -> dict[str, Any]:
    """The Plotly figure (as a dict) of :func:`intermediate_values_data`: one line per
    trial, coloured by state (one legend entry per state)."""
    traces = []
    shown: set[str] = set()
    for curve in data["trials"]:
        state = curve["state"]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": state,
                "legendgroup": state,
                "showlegend": state not in shown,
                "x": curve["steps"],
                "y": curve["values"],
                "text": [f"trial {curve['number']}"] * len(curve["steps"]),
                "line": {"color": _STATE_COLORS.get(state, "#7f7f7f"), "width": 1},
                "marker": {"size": 4},
            }
        )
        shown.add(state)
    return {
        "data": traces,
        "layout": {
            "title": {"text": f"Intermediate values ({len(traces)} trials reported)"},
            "xaxis": {"title": {"text": "step"}},
            "yaxis": {"title": {"text": "reported value"}},
            "template": "plotly_white",
        },
    }


def intermediate_values_figure(trials: Sequence[FrozenTrial], direction: str) -> go.Figure:
    """Every trial's reports as a Plotly figure."""
    return _figure(intermediate_values_spec(intermediate_values_data(trials, direction)))


def intermediate_values(study: Study) -> go.Figure:
    """Each trial's intermediate values by step, coloured by state."""
    return intermediate_values_figure(study.trials, study.direction)
