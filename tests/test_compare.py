"""Comparisons end to end: a real small comparison on Branin (random and tpe x 3 seeds x 15
trials) in SQLite, resuming, reloading, the table, the figure, and ``hpo compare``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import hpo
from hpo.benchmarks import Problem, get_problem
from hpo.cli import main
from hpo.compare import (
    TABLE_COLUMNS,
    ComparisonResult,
    load_comparison,
    plan_comparison,
    run_comparison,
    study_name,
)
from hpo.exceptions import (
    ComparisonNotFoundError,
    DuplicateComparisonError,
    UnknownSearcherError,
)
from hpo.space import Float, Space
from hpo.storage import InMemoryStorage, get_storage
from hpo.trial import TrialState

SEARCHERS = ["random", "tpe"]
SEEDS = 3
N_TRIALS = 15


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('compare') / 'hpo.db'}"


@pytest.fixture(scope="module")
def result(url: str) -> ComparisonResult:
    return hpo.compare(
        "branin", SEARCHERS, seeds=SEEDS, n_trials=N_TRIALS, storage=url, name="branin-rt"
    )


def _trial_counts(url: str) -> dict[str, int]:
    with get_storage(url) as storage:
        return {r.name: storage.count_trials(r.study_id) for r in storage.list_studies()}


def test_one_study_per_searcher_and_seed_with_exactly_n_trials(
    result: ComparisonResult, url: str
) -> None:
    expected = {study_name("branin-rt", s, k) for s in SEARCHERS for k in range(SEEDS)}
    counts = _trial_counts(url)
    assert {n for n in counts if n.startswith("branin-rt/")} == expected
    assert all(counts[n] == N_TRIALS for n in expected)
    with get_storage(url) as storage:
        record = storage.get_comparison("branin-rt")
        assert (record.problem, record.direction, record.n_trials) == ("branin", "minimize", 15)
        assert record.optimum == pytest.approx(0.397887)
        assert record.spec["seeds"] == [0, 1, 2]
        assert [s["searcher"] for s in record.spec["searchers"]] == SEARCHERS
        assert len(record.members) == len(SEARCHERS) * SEEDS
        for m in record.members:
            study = storage.get_study(m.study_name)
            assert (study.searcher, study.seed) == (m.label, m.seed)
    assert result.labels == SEARCHERS and result.seeds == [0, 1, 2]


def test_resuming_adds_no_trials_and_a_new_name_is_required(
    result: ComparisonResult, url: str
) -> None:
    before = _trial_counts(url)
    again = hpo.compare(
        "branin",
        SEARCHERS,
        seeds=SEEDS,
        n_trials=N_TRIALS,
        storage=url,
        name="branin-rt",
        load_if_exists=True,
    )
    assert _trial_counts(url) == before
    pd.testing.assert_frame_equal(again.table(), result.table())
    with pytest.raises(DuplicateComparisonError, match="'branin-rt' already exists"):
        hpo.compare(
            "branin", SEARCHERS, seeds=SEEDS, n_trials=N_TRIALS, storage=url, name="branin-rt"
        )
    with pytest.raises(ValueError, match=r"different definition.*n_trials: stored 15, asked 20"):
        hpo.compare(
            "branin",
            SEARCHERS,
            seeds=SEEDS,
            n_trials=20,
            storage=url,
            name="branin-rt",
            load_if_exists=True,
        )


def test_reloading_gives_the_same_table(result: ComparisonResult, url: str) -> None:
    with get_storage(url) as storage:
        reloaded = load_comparison("branin-rt", storage)
        pd.testing.assert_frame_equal(reloaded.table(), result.table())
        with pytest.raises(ComparisonNotFoundError, match="no comparison named 'nope'"):
            load_comparison("nope", storage)


def test_table_columns_and_values(result: ComparisonResult, url: str) -> None:
    table = result.table()
    assert tuple(table.columns) == TABLE_COLUMNS
    assert sorted(table["searcher"]) == sorted(SEARCHERS)
    assert list(table["normalized_regret"]) == sorted(table["normalized_regret"])
    assert (table["n_seeds"] == SEEDS).all() and (table["n_trials"] == SEEDS * N_TRIALS).all()
    assert (table["n_failed"] == 0).all()
    # per-searcher values agree with the studies themselves
    problem = get_problem("branin")
    for row in table.to_dict("records"):
        finals = [
            hpo.load_study(study_name("branin-rt", row["searcher"], k), url).best_value
            for k in range(SEEDS)
        ]
        assert row["final_median"] == pytest.approx(np.median(finals))
        assert row["final_q25"] == pytest.approx(np.percentile(finals, 25))
        assert row["final_iqm"] == pytest.approx(np.mean(finals))  # 3 values: nothing trimmed
        regrets = [problem.normalized_regret(v) for v in finals]
        assert row["normalized_regret"] == pytest.approx(np.mean(regrets))
        assert 0 <= row["normalized_regret"] < 2  # 1 = a median random point
        assert row["final_iqm_ci_low"] <= row["final_iqm"] <= row["final_iqm_ci_high"]
        assert 1 <= row["average_rank"] <= 2
        assert row["searcher_time_mean"] > 0
        if row["searcher"] == result.best_searcher:
            assert math.isnan(row["wilcoxon_p"])
        else:  # 3 pairs: the exact two-sided p-value is at least 0.25
            assert 0.25 <= row["wilcoxon_p"] <= 1
    assert table["average_rank"].sum() == pytest.approx(3.0)
    medians = dict(zip(table["searcher"], table["final_median"], strict=True))
    assert result.best_searcher == min(medians, key=lambda k: medians[k])
    assert result.regret_basis == "optimum"


def test_curves_are_monotone_best_so_far(result: ComparisonResult) -> None:
    curves = result.curves()
    np.testing.assert_array_equal(curves.trials, np.arange(1, N_TRIALS + 1))
    assert curves.time_grid.size == 100 and np.all(np.diff(curves.time_grid) >= 0)
    for label in SEARCHERS:
        c = curves.searchers[label]
        assert c.runs_by_trial.shape == (SEEDS, N_TRIALS)
        assert c.runs_by_time.shape == (SEEDS, 100)
        assert np.all(np.diff(c.runs_by_trial, axis=1) <= 0)  # minimizing
        assert np.all((c.q25_by_trial <= c.median_by_trial) & (c.median_by_trial <= c.q75_by_trial))
        finals = c.runs_by_trial[:, -1]
        np.testing.assert_allclose(c.runs_by_time[:, -1], finals)  # the grid ends at the end
        assert c.median_by_trial[-1] == pytest.approx(np.median(finals))


def test_regret_and_ranks_read_off_the_curves_at_any_trial_count(
    result: ComparisonResult, url: str
) -> None:
    problem = get_problem("branin")
    curves = result.curves()
    ranks_at_5 = result.ranks_at(5)
    for at in (1, 5, N_TRIALS):
        regrets = result.normalized_regrets(at=at)
        for label in SEARCHERS:
            best = curves.searchers[label].runs_by_trial[:, at - 1]
            expected = [problem.normalized_regret(v) for v in best]
            np.testing.assert_allclose(regrets[label], expected)
    # final values and default arguments agree
    for label in SEARCHERS:
        np.testing.assert_allclose(
            result.normalized_regrets()[label], result.normalized_regrets(at=N_TRIALS)[label]
        )
        assert ranks_at_5[label].shape == (SEEDS,)
    # ranks at 5 trials: per seed, the lower best-so-far gets rank 1 (ties 1.5)
    for k in range(SEEDS):
        a, b = (curves.searchers[lab].runs_by_trial[k, 4] for lab in SEARCHERS)
        expected_first = 1.0 if a < b else 2.0 if a > b else 1.5
        assert ranks_at_5[SEARCHERS[0]][k] == expected_first
        assert ranks_at_5[SEARCHERS[0]][k] + ranks_at_5[SEARCHERS[1]][k] == 3.0
    for bad in (0, N_TRIALS + 1, True, 2.5):
        with pytest.raises(ValueError, match="at must be a trial count"):
            result.normalized_regrets(at=bad)  # type: ignore[arg-type]


def test_figure_has_a_median_and_a_band_per_searcher_and_panel(result: ComparisonResult) -> None:
    fig = result.figure()
    for label in SEARCHERS:
        medians = [t for t in fig.data if t.name == label]
        bands = [t for t in fig.data if t.name == f"{label} IQR"]
        assert len(medians) == 2 and len(bands) == 4
        assert sum(bool(t.showlegend) for t in medians) == 1
        assert [t.fill for t in bands].count("tonexty") == 2
    assert len(fig.data) == 6 * len(SEARCHERS)


def test_partial_studies_are_continued_to_n_trials() -> None:
    storage = InMemoryStorage()
    problem = get_problem("branin")
    early = hpo.create_study(
        problem.objective,
        searcher="random",
        seed=1,
        name=study_name("p", "random", 1),
        storage=storage,
    )
    early.optimize(n_trials=2, progress=False)
    result = hpo.compare("branin", ["random"], seeds=2, n_trials=5, storage=storage, name="p")
    assert [storage.count_trials(m.study_id) for m in result.record.members] == [5, 5]


def _maximize_problem() -> Problem:
    def f(config: dict[str, Any]) -> float:
        return -((config["x"] - 0.3) ** 2)

    return Problem("bump", Space({"x": Float(0.0, 1.0)}), "maximize", f)


def test_maximizing_problem_without_optimum_and_labelled_searchers() -> None:
    storage = InMemoryStorage()
    result = hpo.compare(
        _maximize_problem(),
        [("uniform", "random", None), ("sobol", "random", {"sobol": True})],
        seeds=[4, 7],
        n_trials=6,
        storage=storage,
        name="bump",
    )
    assert result.regret_basis == "observed"
    assert storage.get_study("bump/sobol/seed7").searcher_kwargs == {"sobol": True}
    table = result.table()
    assert set(table["searcher_name"]) == {"random"}
    assert (table["normalized_regret"] >= 0).all()
    curves = result.curves()
    for c in curves.searchers.values():
        assert np.all(np.diff(c.runs_by_trial, axis=1) >= 0)  # maximizing: best only grows
    values = [
        t.value
        for r in storage.list_studies()
        for t in storage.get_trials(r.study_id, states=[TrialState.COMPLETE]).trials
        if t.value is not None
    ]
    assert max(c.runs_by_trial.max() for c in curves.searchers.values()) == max(values)
    # with the best value seen as optimum, some seed of some searcher has regret 0
    assert min(r.min() for r in result.normalized_regrets().values()) == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(UnknownSearcherError, match="tpee"):
        hpo.compare("branin", ["random", "tpee"], seeds=1, n_trials=2)
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        hpo.compare("nope", ["random"], seeds=1, n_trials=2)
    with pytest.raises(ValueError, match="labels must be unique"):
        hpo.compare("branin", ["random", "random"], seeds=1, n_trials=2)
    with pytest.raises(ValueError, match="n_trials"):
        hpo.compare("branin", ["random"], seeds=1, n_trials=0)


# --- hpo compare -----------------------------------------------------------------------------
def test_cli_runs_resumes_and_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["compare", "branin", "--searchers", "random,tpe", "--seeds", "2", "--n-trials", "4"]
    assert main([*args, "--storage", url]) == 0
    out = capsys.readouterr().out
    assert "Comparison 'branin-random-tpe-2x4': branin (minimize), 2 searchers x 2 seeds" in out
    assert "SEARCHER" in out and "WILCOXON P" in out
    # within tpe's start-up both draw the same points: a tie, not a win (it said "best")
    assert "tied" in out and " best " not in out and "start-up design" in out
    assert main([*args, "--storage", url]) == 0  # resumes: nothing added
    assert sum(_trial_counts(url).values()) == 2 * 2 * 4
    capsys.readouterr()
    assert main(["compare", "--show", "branin-random-tpe-2x4", "--storage", url]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[1:] == out.splitlines()[1:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["branni", "--searchers", "random", "--n-trials", "2"], "unknown problem 'branni'"),
        (["branin", "--searchers", "random,tpee", "--n-trials", "2"], "unknown searcher 'tpee'"),
        (["branin", "--n-trials", "2"], "--searchers is required"),
        (["--show", "missing"], "no comparison named 'missing'"),
        ([], "give a PROBLEM"),
    ],
)
def test_cli_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["compare", *args, "--storage", url]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "cli.db").exists() or not _trial_counts(url)


# --- plan, then run ---------------------------------------------------------------------------
def _counts(storage: InMemoryStorage) -> dict[str, int]:
    return {r.name: storage.count_trials(r.study_id) for r in storage.list_studies()}


def test_plan_and_run_are_exported() -> None:
    assert hpo.plan_comparison is plan_comparison and hpo.run_comparison is run_comparison
    assert {"plan_comparison", "run_comparison"} <= set(hpo.__all__)


def test_planning_is_idempotent_and_creates_no_trials() -> None:
    storage = InMemoryStorage()
    args: dict[str, Any] = {"seeds": 2, "n_trials": 3, "storage": storage, "name": "plan"}
    first = plan_comparison("branin", ["random", "tpe"], **args)
    again = plan_comparison("branin", ["random", "tpe"], load_if_exists=True, **args)
    assert again == first
    assert len(first.members) == 4 and {(m.label, m.seed) for m in first.members} == {
        (lab, k) for lab in ("random", "tpe") for k in (0, 1)
    }
    assert _counts(storage) == {
        study_name("plan", lab, k): 0 for lab in ("random", "tpe") for k in (0, 1)
    }
    assert [c.name for c in storage.list_comparisons()] == ["plan"]
    with pytest.raises(DuplicateComparisonError, match="'plan' already exists"):
        plan_comparison("branin", ["random", "tpe"], **args)
    with pytest.raises(ValueError, match=r"different definition.*seeds: stored \[0, 1\]"):
        plan_comparison("branin", ["random", "tpe"], load_if_exists=True, **{**args, "seeds": 3})
    assert len(storage.list_studies()) == 4


def test_planning_validates_before_storing_anything() -> None:
    storage = InMemoryStorage()
    with pytest.raises(UnknownSearcherError, match="tpee"):
        plan_comparison("branin", ["tpee"], seeds=1, n_trials=2, storage=storage, name="x")
    with pytest.raises(ValueError, match="n_trials"):
        plan_comparison("branin", ["random"], seeds=1, n_trials=0, storage=storage, name="x")
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        plan_comparison("nope", ["random"], seeds=1, n_trials=2, storage=storage, name="x")
    assert storage.list_comparisons() == [] and storage.list_studies() == []


def test_run_after_plan_fills_each_member_and_running_again_adds_nothing() -> None:
    storage = InMemoryStorage()
    plan_comparison(
        "branin", ["random", "tpe"], seeds=[3, 5], n_trials=4, storage=storage, name="r"
    )
    result = run_comparison("r", storage)
    assert isinstance(result, ComparisonResult) and result.seeds == [3, 5]
    counts = _counts(storage)
    assert len(counts) == 4 and set(counts.values()) == {4}
    again = run_comparison("r", storage)
    assert _counts(storage) == counts
    pd.testing.assert_frame_equal(again.table(), result.table())
    with pytest.raises(ComparisonNotFoundError, match="no comparison named 'nope'"):
        run_comparison("nope", storage)


def test_run_completes_a_partial_member_without_over_running_it() -> None:
    storage = InMemoryStorage()
    record = plan_comparison("branin", ["random"], seeds=2, n_trials=5, storage=storage, name="p2")
    problem = get_problem("branin")
    partial = hpo.load_study(record.members[0].study_name, storage, problem.objective)
    partial.optimize(n_trials=2, progress=False)
    assert storage.count_trials(record.members[0].study_id) == 2
    result = run_comparison("p2", storage)
    assert [storage.count_trials(m.study_id) for m in result.record.members] == [5, 5]


def test_run_recreates_a_member_deleted_since_planning(tmp_path: Path) -> None:
    storage = get_storage(f"sqlite:///{tmp_path / 'd.db'}")
    record = plan_comparison("branin", ["random"], seeds=2, n_trials=2, storage=storage, name="d")
    storage.delete_study(record.members[1].study_name)
    assert len(storage.get_comparison("d").members) == 1
    result = run_comparison("d", storage)
    assert len(result.record.members) == 2
    assert [storage.count_trials(m.study_id) for m in result.record.members] == [2, 2]


def test_an_unregistered_problem_must_be_passed_again() -> None:
    storage = InMemoryStorage()
    plan_comparison(_maximize_problem(), ["random"], seeds=1, n_trials=3, storage=storage, name="u")
    with pytest.raises(ValueError, match=r"problem 'bump', which is not registered.*problem="):
        run_comparison("u", storage)
    assert _counts(storage) == {"u/random/seed0": 0}
    with pytest.raises(ValueError, match=r"on the problem 'bump' \(maximize\), not 'branin'"):
        run_comparison("u", storage, problem="branin")
    result = run_comparison("u", storage, problem=_maximize_problem())
    assert _counts(storage) == {"u/random/seed0": 3}
    assert result.regret_basis == "observed"


def test_a_comparison_summarizes_before_any_trial_finishes() -> None:
    import json

    from hpo.codecs import comparison_summary_to_json

    storage = hpo.storage.InMemoryStorage()
    hpo.plan_comparison("branin", ["random", "tpe"], seeds=2, n_trials=5, storage=storage,
                        name="empty")  # fmt: skip
    result = hpo.load_comparison("empty", storage)
    curves = result.curves()
    assert curves.time_grid.size == 0 and curves.searchers["tpe"].runs_by_time.shape == (2, 0)
    assert list(result.table()["searcher"]) == ["random", "tpe"]
    assert result.best_searcher == "random"  # nothing to choose from: the first given
    json.dumps(comparison_summary_to_json(result), allow_nan=False)
