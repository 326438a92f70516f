"""hpo.plot: the data of each plot is plain JSON, its Plotly spec a plain dict, and the
figures are built from a list of trials and a direction (or a study)."""

from __future__ import annotations

import json
import sys

import pytest

import hpo
from hpo import plot
from hpo.trial import FrozenTrial, TrialState

PLOTS = ("history", "importance", "parallel_coordinates", "intermediate_values")


@hpo.objective(
    space={
        "x": hpo.Float(-5.0, 5.0),
        "k": hpo.Categorical(["a", "b"]),
        "noise": hpo.Float(0.0, 1.0),
        "depth": hpo.Int(1, 4, when={"k": "b"}),
    },
    direction="minimize",
)
def shaped(config, trial):  # type: ignore[no-untyped-def]
    value = config["x"] ** 2 + (3.0 if config["k"] == "a" else 0.0) + 0.01 * config["noise"]
    for step in range(1, 4):
        trial.report(step, value + 1.0 / step)
    if config["x"] > 4.5:
        raise hpo.TrialPruned()
    return value


@pytest.fixture(scope="module")
def study() -> hpo.Study:
    s = hpo.create_study(shaped, searcher="random", seed=0)
    s.optimize(n_trials=40, progress=False)
    return s


@pytest.mark.parametrize("name", PLOTS)
def test_data_is_json_the_spec_a_dict_and_the_figure_plotly(study: hpo.Study, name: str) -> None:
    import plotly.graph_objects as go

    data = getattr(plot, f"{name}_data")(study.trials, study.direction)
    assert json.loads(json.dumps(data)) == data  # what a server sends to a browser
    spec = getattr(plot, f"{name}_spec")(data)
    assert json.loads(json.dumps(spec)) == spec and set(spec) == {"data", "layout"}
    figure = getattr(plot, name)(study)
    assert isinstance(figure, go.Figure)
    assert figure.to_dict()["data"][0]["type"] == spec["data"][0]["type"]
    same = getattr(plot, f"{name}_figure")(study.trials, study.direction)
    assert same.to_dict() == figure.to_dict()


def test_history_is_the_best_so_far(study: hpo.Study) -> None:
    data = plot.history_data(study.trials, study.direction)
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert data["numbers"] == [t.number for t in complete]
    running = float("inf")
    for value, best in zip(data["values"], data["best_values"], strict=True):
        running = min(running, value)
        assert best == running
    assert data["counts"]["COMPLETE"] == len(complete)
    maximize = plot.history_data(study.trials, "maximize")["best_values"]
    assert maximize == sorted(maximize)


@pytest.mark.parametrize("method", ["random-forest", "epsilon-squared"])
def test_importance_ranks_what_matters_and_says_how(study: hpo.Study, method: str) -> None:
    data = plot.importance_data(study.trials, study.direction, method=method)
    assert data["method"] == method
    assert data["params"][0] == "x" and data["params"][-1] != "x"
    assert abs(sum(data["importances"]) - 1.0) < 1e-9
    title = plot.importance_spec(data)["layout"]["title"]["text"]
    assert ("random-forest" in title) == (method == "random-forest")


def test_importance_without_scikit_learn_falls_back(
    study: hpo.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("sklearn", "sklearn.ensemble", "sklearn.inspection"):
        monkeypatch.setitem(sys.modules, module, None)  # not installed
    assert plot.importance_data(study.trials, study.direction)["method"] == "epsilon-squared"
    with pytest.raises(ImportError, match=r"needs scikit-learn.*method='epsilon-squared'"):
        plot.importance_data(study.trials, study.direction, method="random-forest")


def test_bad_inputs_are_clear_errors(study: hpo.Study) -> None:
    with pytest.raises(ValueError, match="at least 3 COMPLETE trials"):
        plot.importance_data(study.trials[:1], "minimize")
    with pytest.raises(ValueError, match="direction must be"):
        plot.history_data(study.trials, "down")
    with pytest.raises(ValueError, match="method must be"):
        plot.importance_data(study.trials, "minimize", method="shap")


def test_parallel_coordinates_and_intermediate_values(study: hpo.Study) -> None:
    data = plot.parallel_coordinates_data(study.trials, study.direction)
    names = [d["name"] for d in data["dimensions"]]
    assert names == ["x", "k", "noise"]  # "depth" is not in every trial
    k = data["dimensions"][1]
    assert set(k["choices"]) == {"a", "b"} and set(k["values"]) <= {0.0, 1.0}
    only = plot.parallel_coordinates_data(study.trials, study.direction, params=["depth"])
    assert len(only["values"]) == sum("depth" in t.params for t in only_complete(study))
    curves = plot.intermediate_values_data(study.trials, study.direction)["trials"]
    assert len(curves) == len(study.trials) and all(c["steps"] == [1, 2, 3] for c in curves)
    assert {c["state"] for c in curves} == {"COMPLETE", "PRUNED"}


def only_complete(study: hpo.Study) -> list[FrozenTrial]:
    return [t for t in study.trials if t.state is TrialState.COMPLETE]
