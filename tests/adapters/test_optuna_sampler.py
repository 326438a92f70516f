"""HPOSampler runs hpo searchers inside Optuna and passes Optuna's own sampler test cases.

The cases come from ``optuna.testing.pytest_samplers``; they are parametrized over every
hpo searcher in ``SEARCHERS`` (a new searcher adds one entry). Cases that cannot apply to a
searcher are listed in ``NOT_APPLICABLE`` with the reason, and skipped with it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

optuna = pytest.importorskip("optuna")

from optuna.testing.pytest_samplers import (  # noqa: E402
    BasicSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)

from hpo.adapters.optuna import HPOSampler  # noqa: E402
from hpo.exceptions import SearcherError, UnknownSearcherError  # noqa: E402

#: every hpo searcher that runs inside Optuna: (registry name, options)
SEARCHERS: list[tuple[str, dict[str, object]]] = [
    ("grid", {}),
    ("random", {}),
    ("random", {"sobol": True}),
    ("gp", {}),
    ("tpe", {}),
    ("genetic", {}),
]

_GRID_TOO_SMALL = (
    "the grid searcher is finite: this case needs more points than its grid has "
    "({}), and an exhausted grid stops the study as Optuna's GridSampler does"
)
#: (searcher name, test name, parameter id or None for all) -> reason
NOT_APPLICABLE: dict[tuple[str, str, str | None], str] = {
    ("grid", "test_sample_relative_categorical", None): _GRID_TOO_SMALL.format(
        "3 x 3 choices, 11 relative samples"
    ),
    ("grid", "test_conditional_parameter_objective", None): _GRID_TOO_SMALL.format(
        "2 choices of x, 10 trials"
    ),
    ("grid", "test_single_parameter_objective", "-<lambda>2]"): _GRID_TOO_SMALL.format(
        "3 choices, 10 trials"
    ),
}


def _searcher_id(searcher: tuple[str, dict[str, object]]) -> str:
    name, options = searcher
    return name + "".join(f"[{k}={v}]" for k, v in options.items())


@pytest.fixture(params=SEARCHERS, ids=_searcher_id)
def searcher(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    return request.param  # type: ignore[no-any-return]


class _WithHPOSampler:
    """Provides Optuna's ``sampler`` fixture: a factory of seeded HPOSamplers."""

    @pytest.fixture
    def sampler(
        self, request: pytest.FixtureRequest, searcher: tuple[str, dict[str, object]]
    ) -> Callable[[], HPOSampler]:
        name, options = searcher
        node = request.node
        for (searcher_name, case, param), reason in NOT_APPLICABLE.items():
            applies = param is None or param in node.name
            if searcher_name == name and case == node.originalname and applies:
                pytest.skip(reason)
        return lambda: HPOSampler(name, seed=0, **options)


class TestBasic(_WithHPOSampler, BasicSamplerTestCase):
    """Optuna's basic sampler cases."""


class TestRelative(_WithHPOSampler, RelativeSamplerTestCase):
    """Optuna's relative-sampling cases."""


class TestSingleOnly(_WithHPOSampler, SingleOnlySamplerTestCase):
    """Optuna's single-objective-only cases."""


# --- behaviour of our own -------------------------------------------------------------------
def test_bad_name_and_options_fail_at_construction() -> None:
    with pytest.raises(UnknownSearcherError, match="randm"):
        HPOSampler("randm")
    with pytest.raises(SearcherError, match="no_such_option"):
        HPOSampler("random", no_such_option=1)


def test_seeded_sampler_is_reproducible_and_learns_the_space() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        return x**2 + (kind == "b")

    runs = []
    for _ in range(2):
        study = optuna.create_study(sampler=HPOSampler("random", seed=3))
        study.optimize(objective, n_trials=12)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]
    assert len({(p["x"], p["kind"]) for p in runs[0]}) == 12


def test_exhausted_grid_stops_the_study() -> None:
    study = optuna.create_study(sampler=HPOSampler("grid"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(lambda t: t.suggest_int("n", 0, 3), n_trials=50)
    numbers = [t.params["n"] for t in study.trials]
    # the first trial is sampled independently (no relative space yet), then the 4-point
    # grid; the trial that finds it exhausted is the last one
    assert len(study.trials) < 50
    assert set(numbers) == {0, 1, 2, 3}
