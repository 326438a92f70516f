"""Every searcher runs the shipped conformance suite; a new searcher adds one parameter."""

from __future__ import annotations

import pytest

from hpo.exceptions import UnknownSearcherError
from hpo.searchers import make_searcher
from hpo.testing.searcher_conformance import (
    SearcherConformance,
    SearcherSpec,
    continuous_space,
)

SPECS = [
    SearcherSpec("grid", capabilities={"seed_dependent": False, "finite": True}),
    SearcherSpec("grid", {"shuffle": True}, capabilities={"finite": True}),
    SearcherSpec("random"),
    SearcherSpec("random", {"sobol": True}),
    SearcherSpec("bohb"),
    SearcherSpec("pbt", {"population_size": 4}),
]


@pytest.fixture(params=SPECS, ids=str)
def searcher_spec(request: pytest.FixtureRequest) -> SearcherSpec:
    return request.param


class TestSearcherConformance(SearcherConformance):
    """The whole suite, once per searcher in ``SPECS``."""


def test_spec_accepts_name_kwargs_tuples() -> None:
    spec = SearcherSpec.coerce(("random", {"sobol": True}))
    assert spec == SearcherSpec("random", {"sobol": True})
    assert str(spec) == "random[sobol=True]"
    assert spec.supports("define_by_run") and not spec.supports("finite")
    assert not SearcherSpec.coerce("grid").supports("define_by_run")
    with pytest.raises(TypeError, match="unknown capability"):
        SearcherSpec("grid", capabilities={"finit": True})


def test_unknown_searcher_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownSearcherError, match=r"'randm'.*Did you mean 'random'"):
        make_searcher("randm", continuous_space())
