"""Statistical checks that a searcher's suggestions follow the law its space promises.

Seeded draws plus a generous significance level (``alpha=1e-3``) keep these checks
deterministic while still failing for a wrong law (e.g. linear where log was asked).

>>> assert_uniform_choices(["a", "b"] * 50, ["a", "b"])
>>> assert_uniform_on([0.1, 0.5, 0.9, 0.3, 0.7], 0.0, 1.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from scipy import stats

ALPHA = 1e-3


def assert_uniform_choices(
    values: Sequence[Any], support: Sequence[Any], *, alpha: float = ALPHA
) -> None:
    """Every value of ``support`` occurs, no other, with counts a uniform law allows
    (chi-square test)."""
    counts = Counter(values)
    assert set(counts) == set(support), f"expected all of {list(support)}, got {sorted(counts)}"
    pvalue = stats.chisquare([counts[v] for v in support]).pvalue
    assert pvalue > alpha, f"not uniform over {list(support)} (p={pvalue:.2g}): {counts}"


def assert_uniform_on(
    values: Sequence[float], low: float, high: float, *, log: bool = False, alpha: float = ALPHA
) -> None:
    """``values`` are uniform on ``[low, high]`` (log-uniform with ``log=True``), by a
    Kolmogorov-Smirnov test."""
    if log:
        values, low, high = [math.log(v) for v in values], math.log(low), math.log(high)
    pvalue = stats.kstest(list(values), stats.uniform(low, high - low).cdf).pvalue
    scale = "log-uniform" if log else "uniform"
    assert pvalue > alpha, f"not {scale} on [{low}, {high}] (p={pvalue:.2g})"
