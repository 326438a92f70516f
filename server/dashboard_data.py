"""Plot and table data of the dashboard's study page, computed on the server.

Each function takes a study's trials (a :class:`~server.trial_cache.StudyTrials` list)
and returns plain JSON the page draws with Plotly.js. Where :mod:`hpo.plot` has the data
function (history, parallel coordinates, intermediate values, importance), it is used,
and this module only *down-samples* its output so that a 50,000-trial study stays a few
hundred kilobytes and draws without freezing the page:

* **history**: every improvement of the best value is kept (the best-so-far line is
  exact), with the best trial of each bucket of consecutive trials (the front of the
  cloud) and an even sample of the rest (its density);
* **parallel coordinates, slice, contour points**: the best tenth of the budget plus an
  even sample of the rest (seeded, so redraws do not flicker);
* **learning curves**: an even sample of the trials that reported (the best finished ones
  always in), each curve thinned to ``max_steps`` points (its last report always in).

Every down-sampled answer says how many points it shows of how many (``shown`` /
``total``), and the page prints it under the chart.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from hpo import plot
from hpo.codecs import datetime_to_json, to_json_value
from hpo.space import Categorical, Param, Space
from hpo.storage import StudyRecord
from hpo.trial import FrozenTrial, TrialState

JSON = dict[str, Any]
SEED = 0


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _complete(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return [t for t in trials if t.state is TrialState.COMPLETE and _finite(t.value)]


def _sample(n: int, limit: int, losses: Sequence[float] | None = None) -> list[int]:
    """Indices of at most ``limit`` of ``n`` items, sorted: with ``losses``, the best tenth
    of ``limit`` first, then an even (seeded) sample of the others."""
    if n <= limit:
        return list(range(n))
    chosen: set[int] = set()
    if losses is not None:
        chosen.update(int(i) for i in np.argsort(np.asarray(losses), kind="stable")[: limit // 10])
    rest = np.array([i for i in range(n) if i not in chosen])
    rng = np.random.default_rng(SEED)
    chosen.update(int(i) for i in rng.choice(rest, size=limit - len(chosen), replace=False))
    return sorted(chosen)


def _loss_sign(direction: str) -> float:
    return 1.0 if direction == "minimize" else -1.0


# --- the study --------------------------------------------------------------------------
def param_info(space: Space, trials: Sequence[FrozenTrial]) -> list[JSON]:
    """Each parameter of the study: its kind, range or choices, and log scale. A
    define-by-run study adds parameters its trials have that the space lacks."""
    out = []
    for name, param in space.items():
        out.append(_param_json(name, param))
    known = set(space)
    for t in trials[-1000:]:
        for name, value in t.params.items():
            if name not in known:
                known.add(name)
                kind = (
                    "float"
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else "categorical"
                )
                out.append({"name": name, "kind": kind, "log": False})
    return out


def _param_json(name: str, param: Param) -> JSON:
    data: JSON = {"name": name, "kind": param.kind, "log": bool(getattr(param, "log", False))}
    if isinstance(param, Categorical):
        data["choices"] = [to_json_value(c) for c in param.choices]
    else:
        data["low"], data["high"] = getattr(param, "low", None), getattr(param, "high", None)
    return data


def features(record: StudyRecord, trials: Sequence[FrozenTrial]) -> JSON:
    """Which optional panels the study needs: learning curves (some trial reported), PBT
    lineage, portfolio members; and the metric names of its trials."""
    pbt = record.searcher == "pbt" or any(
        isinstance(t.searcher_info.get("member"), int) and "action" in t.searcher_info
        for t in trials[:200]
    )
    portfolio = record.searcher == "portfolio" or any(
        isinstance(t.searcher_info.get("member"), str) for t in trials[:200]
    )
    metrics: dict[str, None] = {}
    for t in trials[-500:]:
        metrics.update(dict.fromkeys(t.metrics))
    return {
        "intermediate": any(t.intermediate_values for t in trials),
        "pbt": pbt,
        "portfolio": portfolio,
        "metrics": list(metrics),
    }


def study_state(counts: dict[str, int], stopped: bool, budget_reached: bool = False) -> str:
    """``stopped``, ``running`` (some trial RUNNING), ``queued`` (WAITING trials only),
    ``done`` (a comparison member that used its budget), ``idle`` or ``empty``."""
    if stopped:
        return "stopped"
    if counts.get("RUNNING", 0):
        return "running"
    if counts.get("WAITING", 0):
        return "queued"
    if budget_reached:
        return "done"
    return "idle" if sum(counts.values()) else "empty"


# --- history --------------------------------------------------------------------------------
def history(trials: Sequence[FrozenTrial], direction: str, max_points: int = 2000) -> JSON:
    """:func:`hpo.plot.history_data`, down-sampled (see the module docstring)."""
    data = plot.history_data(trials, direction)
    numbers, values, best = data["numbers"], data["values"], data["best_values"]
    improved = [i for i in range(len(best)) if i == 0 or best[i] != best[i - 1]]
    if len(numbers) > max_points:
        # every improvement, each bucket's best (the front of the cloud), an even sample
        keep = set(improved[-max_points // 4 :])
        arr = np.asarray(values) * _loss_sign(direction)
        edges = np.linspace(0, len(numbers), max_points // 4 + 1).astype(int)
        pairs = itertools.pairwise(edges.tolist())
        keep.update(lo + int(np.argmin(arr[lo:hi])) for lo, hi in pairs if hi > lo)
        keep.update(_sample(len(numbers), max(0, max_points - len(keep))))
        shown = sorted(keep)
    else:
        shown = list(range(len(numbers)))
    line = improved + ([len(best) - 1] if best and improved[-1] != len(best) - 1 else [])
    return {
        "direction": direction,
        "numbers": [numbers[i] for i in shown],
        "values": [values[i] for i in shown],
        "best_numbers": [numbers[i] for i in line],
        "best_values": [best[i] for i in line],
        "counts": data["counts"],
        "shown": len(shown),
        "total": len(numbers),
    }


# --- parallel coordinates -------------------------------------------------------------------
def parallel(trials: Sequence[FrozenTrial], direction: str, max_lines: int = 1000) -> JSON:
    """:func:`hpo.plot.parallel_coordinates_data`, at most ``max_lines`` trials."""
    data = plot.parallel_coordinates_data(trials, direction)
    n = len(data["numbers"])
    keep = _sample(n, max_lines, [_loss_sign(direction) * v for v in data["values"]])
    for dim in data["dimensions"]:
        dim["values"] = [dim["values"][i] for i in keep]
    data["numbers"] = [data["numbers"][i] for i in keep]
    data["values"] = [data["values"][i] for i in keep]
    data["shown"], data["total"] = len(keep), n
    return data


# --- importance -----------------------------------------------------------------------------
def importance(trials: Sequence[FrozenTrial], direction: str, max_trials: int = 1000) -> JSON:
    """:func:`hpo.plot.importance_data` on at most ``max_trials`` COMPLETE trials (the best
    tenth and an even sample of the rest); ``{"error": ...}`` when it cannot be computed
    (fewer than 3 COMPLETE trials, no parameters)."""
    done = _complete(trials)
    sign = _loss_sign(direction)
    keep = _sample(len(done), max_trials, [sign * float(t.value or 0.0) for t in done])
    chosen = [done[i] for i in keep]
    try:
        data = plot.importance_data(chosen, direction)
    except ValueError as exc:
        return {"error": str(exc), "n_trials": len(done)}
    data["total"] = len(done)
    return data


# --- slice and contour ----------------------------------------------------------------------
def _space_param(space: Space, name: str) -> Param | None:
    return space.get(name)


def _axis(name: str, param: Param | None, values: list[Any]) -> JSON:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if isinstance(param, Categorical) or not numeric:
        choices = (
            [to_json_value(c) for c in param.choices] if isinstance(param, Categorical) else []
        )
        for v in values:
            if v not in choices:
                choices.append(v)
        return {"name": name, "kind": "categorical", "choices": choices, "log": False}
    log = bool(getattr(param, "log", False)) and all(v > 0 for v in values)
    return {"name": name, "kind": "numeric", "log": log}


def slice_data(
    trials: Sequence[FrozenTrial], space: Space, param: str, direction: str, max_points: int = 2000
) -> JSON:
    """Each COMPLETE trial having ``param``: its value of ``param`` against its objective
    value (at most ``max_points``: the best tenth and an even sample)."""
    done = [t for t in _complete(trials) if t.params.get(param) is not None]
    sign = _loss_sign(direction)
    keep = _sample(len(done), max_points, [sign * float(t.value or 0.0) for t in done])
    rows = [done[i] for i in keep]
    xs = [to_json_value(t.params[param]) for t in rows]
    return {
        "param": param,
        "axis": _axis(param, _space_param(space, param), xs),
        "x": xs,
        "values": [t.value for t in rows],
        "numbers": [t.number for t in rows],
        "shown": len(rows),
        "total": len(done),
    }


def _bins(axis: JSON, values: list[Any], n_bins: int) -> tuple[list[int], list[Any]]:
    """Each value's bin and the bins' centres (categories for a categorical axis)."""
    if axis["kind"] == "categorical":
        index = {json_key(c): i for i, c in enumerate(axis["choices"])}
        return [index[json_key(v)] for v in values], list(axis["choices"])
    arr = np.asarray(values, dtype=float)
    scaled = np.log10(arr) if axis["log"] else arr
    lo, hi = float(scaled.min()), float(scaled.max())
    if hi <= lo:
        return [0] * len(values), [float(arr[0])]
    edges = np.linspace(lo, hi, n_bins + 1)
    which = np.clip(np.searchsorted(edges, scaled, side="right") - 1, 0, n_bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    if axis["log"]:
        centres = 10**centres
    return [int(w) for w in which], [float(c) for c in centres]


def json_key(value: Any) -> str:
    """A hashable key of a JSON value that tells ``1`` from ``True`` and ``"1"``."""
    return f"{type(value).__name__}:{value!r}"


def contour(
    trials: Sequence[FrozenTrial],
    space: Space,
    x: str,
    y: str,
    direction: str,
    n_bins: int = 24,
    max_points: int = 600,
) -> JSON:
    """The mean objective value of the COMPLETE trials in each cell of a grid over
    parameters ``x`` and ``y`` (``None``: no trial there), with the trials as points."""
    done = [
        t for t in _complete(trials) if t.params.get(x) is not None and t.params.get(y) is not None
    ]
    xs = [to_json_value(t.params[x]) for t in done]
    ys = [to_json_value(t.params[y]) for t in done]
    x_axis, y_axis = _axis(x, _space_param(space, x), xs), _axis(y, _space_param(space, y), ys)
    grid: list[list[float | None]] = []
    if done:
        bx, cx = _bins(x_axis, xs, n_bins)
        by, cy = _bins(y_axis, ys, n_bins)
        total = np.zeros((len(cy), len(cx)))
        count = np.zeros((len(cy), len(cx)))
        for i, t in enumerate(done):
            total[by[i], bx[i]] += float(t.value or 0.0)
            count[by[i], bx[i]] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        grid = [
            [None if c == 0 else float(m) for m, c in zip(r1, r2, strict=True)]
            for r1, r2 in zip(mean, count, strict=True)
        ]
        x_axis["centres"], y_axis["centres"] = cx, cy
    sign = _loss_sign(direction)
    keep = _sample(len(done), max_points, [sign * float(t.value or 0.0) for t in done])
    return {
        "x": x_axis,
        "y": y_axis,
        "z": grid,
        "points": {
            "x": [xs[i] for i in keep],
            "y": [ys[i] for i in keep],
            "values": [done[i].value for i in keep],
            "numbers": [done[i].number for i in keep],
        },
        "shown": len(keep),
        "total": len(done),
    }


# --- learning curves, PBT, portfolio --------------------------------------------------------
def learning_curves(
    trials: Sequence[FrozenTrial], direction: str, max_curves: int = 300, max_steps: int = 200
) -> JSON:
    """:func:`hpo.plot.intermediate_values_data`, at most ``max_curves`` curves of at most
    ``max_steps`` points each; PRUNED curves are where the stopper ended them."""
    data = plot.intermediate_values_data(trials, direction)
    curves = data["trials"]
    total = len(curves)
    if total > max_curves:
        sign = _loss_sign(direction)
        finals = [sign * c["values"][-1] if c["state"] == "COMPLETE" else math.inf for c in curves]
        curves = [curves[i] for i in _sample(total, max_curves, finals)]
    for c in curves:
        n = len(c["steps"])
        if n > max_steps:
            idx = sorted(set(np.linspace(0, n - 1, max_steps).astype(int).tolist()))
            c["steps"] = [c["steps"][i] for i in idx]
            c["values"] = [c["values"][i] for i in idx]
    states: dict[str, int] = {}
    for c in data["trials"]:
        states[c["state"]] = states.get(c["state"], 0) + 1
    return {
        "direction": direction,
        "trials": curves,
        "states": states,
        "shown": len(curves),
        "total": total,
    }


def lineage(trials: Sequence[FrozenTrial], max_nodes: int = 3000) -> JSON:
    """PBT's population over the budget: one node per segment (a trial) with its member,
    the budget it started from and reached, its value and how it began (``action``:
    ``new``, ``continue``, ``exploit`` of ``donor``'s checkpoint ``parent``, ...)."""
    nodes = []
    for t in trials:
        info = t.searcher_info
        if not isinstance(info.get("member"), int):
            continue
        value = t.value
        if value is None and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        nodes.append(
            {
                "number": t.number,
                "member": info["member"],
                "action": info.get("action"),
                "donor": info.get("donor"),
                "parent": t.parent,
                "start": info.get("start", 0.0),
                "end": t.budget,
                "value": value if _finite(value) else None,
                "state": t.state.value,
            }
        )
    total = len(nodes)
    nodes = nodes[-max_nodes:]
    exploits = sum(1 for n in nodes if n["donor"] is not None)
    members = len({n["member"] for n in nodes})
    return {
        "nodes": nodes,
        "members": members,
        "exploits": exploits,
        "shown": len(nodes),
        "total": total,
    }


def portfolio(trials: Sequence[FrozenTrial], direction: str, max_points: int = 2000) -> JSON:
    """Which portfolio member proposed each trial: per member, its trials by state and its
    best value; and the COMPLETE trials' values by member (down-sampled)."""
    sign = _loss_sign(direction)
    members: dict[str, JSON] = {}
    points: list[tuple[int, float, str]] = []
    for t in trials:
        name = t.searcher_info.get("member")
        if not isinstance(name, str):
            continue
        m = members.setdefault(
            name, {"name": name, "n": 0, "states": {}, "best": None, "best_number": None}
        )
        m["n"] += 1
        m["states"][t.state.value] = m["states"].get(t.state.value, 0) + 1
        if t.state is TrialState.COMPLETE and _finite(t.value):
            assert t.value is not None
            points.append((t.number, t.value, name))
            if m["best"] is None or sign * t.value < sign * m["best"]:
                m["best"], m["best_number"] = t.value, t.number
    total = sum(m["n"] for m in members.values())
    for m in members.values():
        m["share"] = m["n"] / total if total else 0.0
    keep = _sample(len(points), max_points, [sign * p[1] for p in points])
    return {
        "members": sorted(members.values(), key=lambda m: -m["n"]),
        "numbers": [points[i][0] for i in keep],
        "values": [points[i][1] for i in keep],
        "member_of": [points[i][2] for i in keep],
        "shown": len(keep),
        "total": len(points),
    }


# --- the trial table ------------------------------------------------------------------------
_FILTER = re.compile(r"^([A-Za-z_][\w.:\-]*)(<=|>=|!=|=|<|>)(.+)$")
_STATE_ORDER = {s.value: i for i, s in enumerate(TrialState)}


def _field(t: FrozenTrial, name: str) -> Any:
    """A trial's value of a column: ``number``, ``value``, ``state``, ``duration``,
    ``budget``, ``member``, ``start``, ``heartbeat``, a parameter (``x`` or
    ``params.x``), ``metrics.m`` or ``user_attrs.k``."""
    if name in ("number", "value", "budget", "parent", "error"):
        return getattr(t, name)
    if name == "state":
        return t.state.value
    if name == "duration":
        return t.duration
    if name == "member":
        return t.searcher_info.get("member")
    if name in ("start", "datetime_start"):
        return t.datetime_start.timestamp() if t.datetime_start else None
    if name == "heartbeat":
        return t.heartbeat.timestamp() if t.heartbeat else None
    head, _, rest = name.partition(".")
    if rest and head in ("params", "metrics", "user_attrs"):
        return getattr(t, head).get(rest)
    return t.params.get(name)


def _matches(op: str, have: Any, want: str) -> bool:
    if have is None:
        return op == "!=" if want.lower() not in ("none", "null") else op == "="
    try:
        a, b = float(have), float(want)
    except (TypeError, ValueError):
        a_s, b_s = str(have).lower(), want.lower()
        return {"=": a_s == b_s, "!=": a_s != b_s}.get(op, False)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b, "!=": a != b}[op]


def trial_filter(query: str) -> Callable[[FrozenTrial], bool]:
    """A predicate from a filter such as ``C>10 kernel=rbf failed``: ``field op value``
    terms (``<``, ``<=``, ``>``, ``>=``, ``=``, ``!=``; fields as in :func:`_field`) and
    words looked for in the trial's parameters, state, member and error text; all terms
    must hold."""
    terms: list[Callable[[FrozenTrial], bool]] = []
    for word in query.split():
        m = _FILTER.match(word)
        terms.append(_compare_term(*m.groups()) if m else _word_term(word.lower()))
    return lambda t: all(term(t) for term in terms)


def _compare_term(name: str, op: str, want: str) -> Callable[[FrozenTrial], bool]:
    return lambda t: _matches(op, _field(t, name), want)


def _word_term(word: str) -> Callable[[FrozenTrial], bool]:
    return lambda t: word in _haystack(t)


def _haystack(t: FrozenTrial) -> str:
    parts = [str(t.number), t.state.value, str(t.searcher_info.get("member", ""))]
    parts += [f"{k}={v}" for k, v in t.params.items()]
    if t.error:
        parts.append(t.error)
    return " ".join(parts).lower()


def trial_table(
    trials: Sequence[FrozenTrial],
    *,
    states: set[str] | None = None,
    query: str = "",
    sort: str = "number",
    descending: bool = False,
    offset: int = 0,
    limit: int = 50,
) -> JSON:
    """One page of the trials in ``states`` matching ``query``, sorted by ``sort`` (a column
    of :func:`_field`; trials without it come last either way)."""
    rows = [t for t in trials if states is None or t.state.value in states]
    if query.strip():
        keep = trial_filter(query)
        rows = [t for t in rows if keep(t)]

    def key(t: FrozenTrial) -> tuple[int, Any]:
        v = _field(t, sort)
        if sort == "state":
            v = _STATE_ORDER.get(v, 0)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return (1, 0)
        return (0, v if isinstance(v, int | float) and not isinstance(v, bool) else str(v))

    present = [t for t in rows if key(t)[0] == 0]
    absent = [t for t in rows if key(t)[0] == 1]
    try:
        present.sort(key=key, reverse=descending)
    except TypeError:  # mixed numbers and strings in one column: compare as text
        present.sort(key=lambda t: str(_field(t, sort)), reverse=descending)
    ordered = present + absent
    page = ordered[offset : offset + limit]
    return {
        "total": len(ordered),
        "offset": offset,
        "limit": limit,
        "rows": [trial_row(t) for t in page],
    }


def trial_row(t: FrozenTrial) -> JSON:
    """A trial as a table row: its fields (intermediate values as a count and the last)."""
    last = max(t.intermediate_values) if t.intermediate_values else None
    return {
        "number": t.number,
        "state": t.state.value,
        "value": t.value if _finite(t.value) else None,
        "params": to_json_value(t.params),
        "metrics": to_json_value(dict(t.metrics)),
        "user_attrs": to_json_value(dict(t.user_attrs)),
        "duration": t.duration,
        "datetime_start": datetime_to_json(t.datetime_start),
        "datetime_complete": datetime_to_json(t.datetime_complete),
        "heartbeat": datetime_to_json(t.heartbeat),
        "error": t.error,
        "budget": t.budget,
        "parent": t.parent,
        "searcher_info": to_json_value(t.searcher_info),
        "n_reports": len(t.intermediate_values),
        "last_report": None if last is None else [last, t.intermediate_values[last]],
    }
