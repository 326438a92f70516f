"""The comparison statistics of hpo._stats, on small arrays computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo import _stats

NAN = float("nan")


def test_to_loss_flips_maximization_only() -> None:
    np.testing.assert_array_equal(_stats.to_loss([1.0, -2.0], "minimize"), [1.0, -2.0])
    np.testing.assert_array_equal(_stats.to_loss([1.0, -2.0], "maximize"), [-1.0, 2.0])
    with pytest.raises(ValueError, match="direction"):
        _stats.to_loss([1.0], "up")


def test_best_so_far_minimize_skips_missing_values() -> None:
    got = _stats.best_so_far([NAN, 5.0, 7.0, NAN, 2.0, 3.0, float("inf")], "minimize")
    np.testing.assert_array_equal(got, [NAN, 5.0, 5.0, 5.0, 2.0, 2.0, 2.0])


def test_best_so_far_maximize() -> None:
    got = _stats.best_so_far([1.0, 3.0, 2.0, NAN, 4.0], "maximize")
    np.testing.assert_array_equal(got, [1.0, 3.0, 3.0, 3.0, 4.0])


def test_best_so_far_empty_and_all_missing() -> None:
    assert _stats.best_so_far([], "minimize").size == 0
    assert np.isnan(_stats.best_so_far([NAN, NAN], "maximize")).all()


def test_median_iqr_by_column_ignoring_nan() -> None:
    runs = [[1.0, 10.0, NAN], [2.0, 20.0, NAN], [3.0, NAN, NAN], [4.0, 40.0, NAN]]
    med, q25, q75 = _stats.median_iqr(runs)
    # column 0: 1,2,3,4 -> linear percentiles 1.75, 2.5, 3.25; column 1: 10,20,40
    np.testing.assert_allclose(med[:2], [2.5, 20.0])
    np.testing.assert_allclose(q25[:2], [1.75, 15.0])
    np.testing.assert_allclose(q75[:2], [3.25, 30.0])
    assert math.isnan(med[2]) and math.isnan(q25[2]) and math.isnan(q75[2])


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    # 8 values: drop the 2 lowest and the 2 highest, mean of 2, 3, 4, 5
    assert _stats.iqm([100.0, 3.0, -50.0, 5.0, 2.0, 4.0, 1.0, 6.0]) == pytest.approx(3.5)
    assert _stats.iqm([1.0, 2.0, 3.0, 1000.0]) == pytest.approx(2.5)
    assert _stats.iqm([7.0, NAN]) == 7.0
    assert math.isnan(_stats.iqm([NAN]))


def test_bootstrap_ci_contains_the_iqm_and_is_seeded() -> None:
    values = np.random.default_rng(3).normal(10.0, 2.0, size=12)
    low, high = _stats.bootstrap_ci(values, seed=7)
    assert low < _stats.iqm(values) < high
    assert (low, high) == _stats.bootstrap_ci(values, seed=7)
    assert (low, high) != _stats.bootstrap_ci(values, seed=8)
    narrow = _stats.bootstrap_ci(values, seed=7, confidence=0.5)
    assert low < narrow[0] < narrow[1] < high


def test_bootstrap_ci_edge_cases() -> None:
    assert _stats.bootstrap_ci([2.0]) == (2.0, 2.0)
    assert all(math.isnan(v) for v in _stats.bootstrap_ci([NAN]))
    with pytest.raises(ValueError, match="confidence"):
        _stats.bootstrap_ci([1.0, 2.0], confidence=1.0)


def test_average_rank_with_ties_and_missing_values() -> None:
    # positions: (a=1, b=2, c=nan) -> 1, 2, 3; (a=1, b=1, c=0) -> 2.5, 2.5, 1
    losses = [[1.0, 1.0], [2.0, 1.0], [NAN, 0.0]]
    np.testing.assert_allclose(_stats.average_rank(losses), [1.75, 2.25, 2.0])


def test_average_rank_over_seeds_and_trials() -> None:
    # 2 competitors x 2 seeds x 3 trials; b ties a once, beats it once, loses 4 times
    a = [[1.0, 1.0, 1.0], [2.0, 2.0, 0.5]]
    b = [[1.0, 2.0, 2.0], [3.0, 3.0, 0.1]]
    ranks = _stats.average_rank([a, b])
    np.testing.assert_allclose(
        ranks, [(1.5 + 1 + 1 + 1 + 1 + 2) / 6, (1.5 + 2 + 2 + 2 + 2 + 1) / 6]
    )
    assert ranks.sum() == pytest.approx(3.0)  # ranks of 2 competitors always sum to 3


def test_wilcoxon_p_sanity() -> None:
    x = np.arange(1.0, 11.0)
    assert _stats.wilcoxon_p(x, x) == 1.0  # all pairs equal
    # every one of 10 differences has the same sign: exact two-sided p = 2 / 2**10
    assert _stats.wilcoxon_p(x, x + 1.0) == pytest.approx(2 / 2**10)
    assert _stats.wilcoxon_p(x + 1.0, x) == _stats.wilcoxon_p(x, x + 1.0)
    # mixed signs: no evidence
    noisy = x + np.array([0.5, -0.5, 0.3, -0.3, 0.2, -0.2, 0.1, -0.1, 0.4, -0.4])
    assert _stats.wilcoxon_p(x, noisy) > 0.5
    # pairs with NaN are dropped; no pairs left -> NaN
    assert _stats.wilcoxon_p([1.0, NAN, 3.0], [2.0, 5.0, 4.0]) == pytest.approx(0.5)
    assert math.isnan(_stats.wilcoxon_p([NAN], [1.0]))
    with pytest.raises(ValueError, match="one shape"):
        _stats.wilcoxon_p([1.0], [1.0, 2.0])


def test_time_grid_spans_every_run() -> None:
    grid = _stats.time_grid([[1.0, 2.0, 3.0], [0.5, 4.5], []], n_points=5)
    np.testing.assert_allclose(grid, [0.5, 1.5, 2.5, 3.5, 4.5])
    assert _stats.time_grid([[], []]).size == 0


def test_step_at_samples_the_last_value_reached() -> None:
    got = _stats.step_at([1.0, 3.0, 4.0], [10.0, 5.0, 4.0], [0.0, 1.0, 2.9, 3.0, 10.0])
    np.testing.assert_array_equal(got, [NAN, 10.0, 10.0, 5.0, 4.0])


def test_normalized_regret() -> None:
    got = _stats.normalized_regret([0.0, 1.0, 3.0, 9.0, NAN], optimum=1.0, reference=5.0)
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.5, 2.0, NAN])
    np.testing.assert_array_equal(_stats.normalized_regret([3.0], 1.0, 1.0), [0.0])
