"""Seeded studies keep producing the trials pinned in ``tests/data/seeded_runs.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from _seeded_runs import RUNS, seeded_run

PINNED: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "data" / "seeded_runs.json").read_text()
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@pytest.mark.parametrize("label", sorted(RUNS))
def test_seeded_run_matches_the_pinned_trials(label: str) -> None:
    got = seeded_run(label)
    want = PINNED[label]
    assert len(got) == len(want)
    for number, (g, w) in enumerate(zip(got, want, strict=True)):
        assert _same(g, w), f"{label}: trial {number} is {g}, pinned {w}"
