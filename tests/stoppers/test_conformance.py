"""Every stopper runs the shipped conformance suite; a new stopper adds one parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from hpo.testing.stopper_conformance import StopperConformance

SPECS: list[tuple[str, dict[str, Any]]] = [
    ("median", {}),
    ("median", {"warmup_steps": 3, "min_trials": 2}),
    ("asha", {}),
    ("asha", {"reduction_factor": 2, "min_budget": 2}),
    ("hyperband", {}),
    ("hyperband", {"reduction_factor": 2, "min_budget": 1}),
]


@pytest.fixture(params=SPECS, ids=lambda spec: f"{spec[0]}{spec[1] or ''}")
def stopper_spec(request: pytest.FixtureRequest) -> tuple[str, Mapping[str, Any]]:
    return request.param


class TestStopperConformance(StopperConformance):
    """The whole suite, once per stopper in ``SPECS``."""
