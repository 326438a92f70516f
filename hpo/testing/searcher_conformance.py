"""The conformance suite every searcher must pass.

A searcher proves itself by adding **one** parameter to the ``searcher_spec`` fixture of
``tests/searchers/test_conformance.py``; the suite then checks it through the public
interface only (``make_searcher``, ``ask``, ``tell``, ``state_dict``, ``create_study``)::

    import pytest
    from hpo.testing.searcher_conformance import SearcherConformance, SearcherSpec

    @pytest.fixture(params=[
        SearcherSpec("random"),
        ("random", {"sobol": True}),                       # a plain (name, kwargs) works too
        SearcherSpec("grid", capabilities={"seed_dependent": False, "finite": True}),
    ], ids=str)
    def searcher_spec(request):
        return request.param

    class TestSearcherConformance(SearcherConformance):
        pass

What is checked: every suggestion lies in the space (bounds, steps, log scales, typed
categorical choices, mixed and conditional spaces); several outstanding asks are valid and
distinct; every suggestion has its own id and JSON ``info``; FAILED, PRUNED and foreign
trials (no suggestion id, or one the searcher never issued) do not break later asks; both
directions; seed reproducibility; the versioned JSON state round trip, outstanding asks
included (answered by id after the rebuild); end-to-end studies with an exact trial count
(also with threads, failures and a reload); define-by-run support or a clear error; a
clear error for unknown options.

The suite tells a searcher what a study would: the trial answering a suggestion carries
its ``suggestion_id`` and ``searcher_info`` (:func:`finished_trial_for`); a trial it
never proposed carries none (:func:`finished_trial`).

**Capabilities.** A searcher that cannot do something declares it, and the suite then
checks that it refuses with a clear typed error instead. Each flag is read from the spec's
``capabilities`` mapping, else from the searcher class, else its default:

====================  ============================  =======  =================================
flag                  class attribute               default  when ``False``
====================  ============================  =======  =================================
``define_by_run``     ``supports_define_by_run``    False    :class:`~hpo.SearcherError`
                                                             naming the searcher
``conditional``       ``supports_conditional``      True     :class:`~hpo.UnsupportedSpaceError`
``seed_dependent``    ``seed_dependent``            True     the seed need not change the
                                                             sequence (e.g. an ordered grid)
``finite``            ``finite``                    False    (when ``True``) it visits each
                                                             point once, then raises
                                                             :class:`~hpo.SearchSpaceExhausted`
``resumable``         ``resumable``                 True     a rebuilt searcher (state plus
                                                             replayed trials) need not repeat
                                                             the unbroken sequence, only keep
                                                             proposing valid, new points
``distinct_configs``  ``distinct_configs``          True     it may propose a configuration
                                                             again (PBT continues a member's
                                                             configuration segment after
                                                             segment); the distinctness checks
                                                             are skipped
====================  ============================  =======  =================================

**Budgets.** A searcher that schedules training budgets (``needs_budget = True``: BOHB,
PBT) gets :data:`DEFAULT_BUDGET` wherever the suite builds it (``make_searcher(...,
budget=...)``) or a study for it (``create_study(..., budget=...)``).

Trial counts are kept small (tens of asks) so that one searcher's run takes seconds even
when each ask fits a model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import hpo
from hpo.budget import Budget
from hpo.exceptions import (
    SearcherError,
    SearchSpaceExhausted,
    UnsupportedSpaceError,
)
from hpo.searchers import Searcher, Suggestion, available_searchers, make_searcher
from hpo.searchers import searcher_class as _searcher_class
from hpo.searchers.base import new_suggestion_id
from hpo.space import Categorical, Float, Int, Space
from hpo.storage import InMemoryStorage
from hpo.trial import FrozenTrial, TrialState

__all__ = [
    "CAPABILITIES",
    "DEFAULT_BUDGET",
    "SearcherConformance",
    "SearcherSpec",
    "ask_configs",
    "assert_config_in_space",
    "conditional_space",
    "continuous_space",
    "finished_trial",
    "finished_trial_for",
    "mixed_space",
    "single_param_spaces",
]

#: capability flag -> (class attribute it is read from, default)
CAPABILITIES: dict[str, tuple[str, bool]] = {
    "define_by_run": ("supports_define_by_run", False),
    "conditional": ("supports_conditional", True),
    "seed_dependent": ("seed_dependent", True),
    "finite": ("finite", False),
    "resumable": ("resumable", True),
    "distinct_configs": ("distinct_configs", True),
}

#: the budget given to searchers that need one (``needs_budget``)
DEFAULT_BUDGET = Budget("epoch", 1, 9)


@dataclass(frozen=True)
class SearcherSpec:
    """A searcher under test: its registry name, options and declared capabilities.

    >>> spec = SearcherSpec("random", {"sobol": True})
    >>> spec.make(continuous_space(), seed=0).ask(1)             # doctest: +SKIP
    """

    name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    capabilities: Mapping[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.capabilities) - set(CAPABILITIES))
        if unknown:
            raise TypeError(f"unknown capability flag(s) {unknown}; known: {sorted(CAPABILITIES)}")

    @classmethod
    def coerce(cls, value: SearcherSpec | str | tuple[Any, ...]) -> SearcherSpec:
        """Accept a spec, a bare name, ``(name, kwargs)`` or ``(name, kwargs, caps)``."""
        if isinstance(value, SearcherSpec):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, tuple) and 1 <= len(value) <= 3:
            return cls(*value)
        raise TypeError(
            f"searcher_spec must be a SearcherSpec, a name or (name, kwargs), got {value!r}"
        )

    def __str__(self) -> str:
        if not self.kwargs:
            return self.name
        options = ",".join(f"{k}={v}" for k, v in sorted(self.kwargs.items()))
        return f"{self.name}[{options}]"

    @property
    def cls(self) -> type[Searcher]:
        """The registered searcher class."""
        return _searcher_class(self.name)

    def supports(self, capability: str) -> bool:
        """The capability flag: declared in the spec, else on the class, else the default."""
        if capability not in CAPABILITIES:
            raise KeyError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
        if capability in self.capabilities:
            return bool(self.capabilities[capability])
        attribute, default = CAPABILITIES[capability]
        return bool(getattr(self.cls, attribute, default))

    @property
    def budget(self) -> Budget | None:
        """:data:`DEFAULT_BUDGET` for a searcher that needs a budget, else ``None``."""
        return DEFAULT_BUDGET if self.cls.needs_budget else None

    def make(
        self, space: Space | None, *, seed: int | None = 0, direction: str = "minimize"
    ) -> Searcher:
        """A fresh searcher built through the registry, as a study would build it."""
        return make_searcher(
            self.name, space, direction=direction, seed=seed, budget=self.budget, **self.kwargs
        )

    def create_study(
        self,
        objective: Any = None,
        *,
        space: Space | None = None,
        seed: int | None = 0,
        direction: str = "minimize",
        **kwargs: Any,
    ) -> hpo.Study:
        """A study using this searcher, built through :func:`hpo.create_study` (with
        :data:`DEFAULT_BUDGET` for a searcher that needs a budget, unless given)."""
        if self.budget is not None:
            kwargs.setdefault("budget", self.budget)
        return hpo.create_study(
            objective,
            space=space,
            direction=direction,
            searcher=self.name,
            searcher_kwargs=dict(self.kwargs),
            seed=seed,
            **kwargs,
        )


# --- spaces ------------------------------------------------------------------------------
def continuous_space() -> Space:
    """Three continuous dimensions (linear, log, unit): every searcher can keep proposing
    new points here (a grid of resolution 10 has 1,000)."""
    return Space(
        {
            "x": Float(-5.0, 5.0),
            "y": Float(1e-3, 1e2, log=True),
            "z": Float(0.0, 1.0),
        }
    )


def mixed_space() -> Space:
    """Every parameter flavour at once, including typed categorical choices."""
    return Space(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "momentum": Float(0.0, 0.99),
            "dropout": Float(0.0, 0.5, step=0.05),
            "layers": Int(1, 8),
            "units": Int(16, 1024, log=True),
            "batch": Int(16, 256, step=16),
            "optimizer": Categorical(["adam", "sgd", "rmsprop"]),
            "shuffle": Categorical([True, False]),
            "extra": Categorical([None, 3, 2.5, "auto", False]),
        }
    )


def conditional_space() -> Space:
    """Three branches, a nested condition (``slope``: net and relu) and a list-valued one
    (``bias``: linear or net). Its grid at resolution 10 has exactly 50 points."""
    return Space(
        {
            "model": Categorical(["linear", "tree", "net"]),
            "C": Float(1e-3, 1e3, log=True, when={"model": "linear"}),
            "depth": Int(1, 4, when={"model": "tree"}),
            "criterion": Categorical(["gini", "entropy"], when={"model": "tree"}),
            "activation": Categorical(["relu", "tanh"], when={"model": "net"}),
            "slope": Float(0.01, 0.3, when={"activation": "relu"}),
            "bias": Categorical([True, False], when={"model": ["linear", "net"]}),
        }
    )


def single_param_spaces() -> dict[str, Space]:
    """One space per parameter flavour (steps, log scales, typed choices) plus the mix."""
    return {
        "float": Space({"v": Float(-2.5, 7.0)}),
        "float_log": Space({"v": Float(1e-6, 1e2, log=True)}),
        "float_step": Space({"v": Float(-1.0, 1.0, step=0.25)}),
        "int": Space({"v": Int(-3, 3)}),
        "int_step": Space({"v": Int(2, 20, step=3)}),
        "int_log": Space({"v": Int(1, 4096, log=True)}),
        "categorical": Space({"v": Categorical(["a", 3, 2.5, True, None])}),
        "mixed": mixed_space(),
    }


def _tiny_space() -> Space:
    return Space({"a": Categorical(["x", "y", "z"]), "b": Int(0, 1)})


# --- helpers -------------------------------------------------------------------------------
def assert_config_in_space(space: Space, config: Mapping[str, Any]) -> None:
    """Fail unless ``config`` holds exactly the active parameters, each inside its bounds,
    on its step and of its type (``int`` for Int, ``float`` for Float, the very type of a
    categorical choice: ``1`` is not ``True`` nor ``1.0``)."""
    assert isinstance(config, dict), f"a configuration must be a dict, got {config!r}"
    problems = space.violations(config)
    assert not problems, f"{config!r} is not in the space: {'; '.join(problems)}"
    for name, value in config.items():
        param = space[name]
        if isinstance(param, Float):
            assert type(value) is float, f"{name}={value!r} should be a float"
            assert math.isfinite(value) and param.low <= value <= param.high, (
                f"{name}={value!r} outside [{param.low}, {param.high}]"
            )
        elif isinstance(param, Int):
            assert type(value) is int, f"{name}={value!r} should be an int"
            assert param.low <= value <= param.high, f"{name}={value!r} out of bounds"
            assert (value - param.low) % param.step == 0, f"{name}={value!r} off its step"
        else:
            assert isinstance(param, Categorical)
            assert any(type(c) is type(value) and c == value for c in param.choices), (
                f"{name}={value!r} ({type(value).__name__}) is not one of {param.choices!r}"
            )


def ask_configs(searcher: Searcher, n: int, *, finite: bool = False) -> list[dict[str, Any]]:
    """``n`` configurations asked one at a time without telling anything back. A finite
    searcher may stop early with :class:`~hpo.SearchSpaceExhausted`."""
    configs = []
    for _ in range(n):
        try:
            suggestions = searcher.ask(1)
        except SearchSpaceExhausted:
            if not finite:
                raise
            break
        assert len(suggestions) == 1 and isinstance(suggestions[0], Suggestion)
        configs.append(suggestions[0].config)
    return configs


def finished_trial(
    number: int,
    config: Mapping[str, Any],
    value: float | None = None,
    state: TrialState = TrialState.COMPLETE,
    **extra: Any,
) -> FrozenTrial:
    """A finished :class:`~hpo.FrozenTrial` to tell a searcher directly (with no
    ``suggestion_id`` unless given: a trial the searcher did not propose)."""
    return FrozenTrial(number=number, state=state, params=dict(config), value=value, **extra)


def finished_trial_for(
    number: int,
    suggestion: Suggestion,
    value: float | None = None,
    state: TrialState = TrialState.COMPLETE,
    **extra: Any,
) -> FrozenTrial:
    """The finished trial a study creates for ``suggestion``: its configuration, with the
    suggestion's id as ``suggestion_id`` and its ``info`` as ``searcher_info``."""
    extra.setdefault("suggestion_id", suggestion.id)
    extra.setdefault("searcher_info", dict(suggestion.info))
    return finished_trial(number, suggestion.config, value, state, **extra)


def _key(config: Mapping[str, Any]) -> str:
    """A hashable, type-preserving identity of a configuration."""
    return json.dumps(config, sort_keys=True)


def _assert_distinct(configs: list[dict[str, Any]], what: str) -> None:
    keys = [_key(c) for c in configs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    assert not dupes, f"{what}: {len(dupes)} configuration(s) proposed twice, e.g. {dupes[0]}"


def _continuous_loss(config: Mapping[str, Any]) -> float:
    return float(
        (config["x"] - 1.0) ** 2 + (math.log10(config["y"]) - 0.5) ** 2 + (config["z"] - 0.3) ** 2
    )


def _mixed_loss(config: Mapping[str, Any]) -> float:
    loss = (math.log10(config["lr"]) + 3.0) ** 2 + (config["momentum"] - 0.9) ** 2
    loss += abs(config["dropout"] - 0.2) + 0.1 * abs(config["layers"] - 3)
    loss += abs(math.log2(config["units"]) - 7.0) * 0.1 + config["batch"] / 256
    loss += {"adam": 0.0, "sgd": 0.3, "rmsprop": 0.2}[config["optimizer"]]
    loss += 0.05 if config["shuffle"] else 0.0
    loss += 0.1 if config["extra"] is None else 0.0
    return float(loss)


def _conditional_loss(config: Mapping[str, Any]) -> float:
    if config["model"] == "linear":
        return float(abs(math.log10(config["C"])) + (0.1 if config["bias"] else 0.0))
    if config["model"] == "tree":
        return float(abs(config["depth"] - 3) + (0.2 if config["criterion"] == "gini" else 0.0))
    loss = 0.5 + (0.1 if config["bias"] else 0.0)
    return float(loss + (abs(config["slope"] - 0.1) if config["activation"] == "relu" else 0.3))


def _ask_tell(
    searcher: Searcher,
    n: int,
    loss: Callable[[Mapping[str, Any]], float],
    *,
    start: int = 0,
) -> list[dict[str, Any]]:
    """Ask and tell ``n`` COMPLETE trials one by one; the configurations asked."""
    configs = []
    for i in range(n):
        suggestion = searcher.ask(1)[0]
        config = suggestion.config
        searcher.tell(finished_trial_for(start + i, suggestion, loss(config)))
        configs.append(config)
    return configs


def _configs(trials: Iterable[FrozenTrial]) -> list[dict[str, Any]]:
    return [dict(t.params) for t in trials]


# --- the suite -------------------------------------------------------------------------------
class SearcherConformance:
    """Tests every searcher must pass; subclass it in a test module that provides a
    ``searcher_spec`` fixture (a :class:`SearcherSpec` or ``(name, kwargs)``)."""

    @pytest.fixture
    def spec(self, searcher_spec: Any) -> SearcherSpec:
        """The normalized spec of the searcher under test."""
        return SearcherSpec.coerce(searcher_spec)

    # --- registry and options ---------------------------------------------------------
    def test_registered_under_its_name(self, spec: SearcherSpec) -> None:
        assert spec.name in available_searchers()
        assert spec.cls.name == spec.name
        searcher = spec.make(continuous_space())
        assert isinstance(searcher, Searcher) and searcher.name == spec.name
        json.dumps(dict(spec.kwargs))  # a study stores its options as JSON

    def test_unknown_option_is_a_clear_error(self, spec: SearcherSpec) -> None:
        options = {**spec.kwargs, "no_such_option": 1}
        with pytest.raises(SearcherError, match=r"no_such_option") as info:
            make_searcher(spec.name, continuous_space(), seed=0, budget=spec.budget, **options)
        assert spec.name in str(info.value)
        with pytest.raises(SearcherError, match=r"no_such_option"):
            hpo.create_study(
                space=continuous_space(),
                searcher=spec.name,
                searcher_kwargs=options,
                budget=spec.budget,
            )

    def test_ask_rejects_non_positive_n(self, spec: SearcherSpec) -> None:
        searcher = spec.make(continuous_space())
        for bad in (0, -1):
            with pytest.raises(ValueError, match="n must be"):
                searcher.ask(bad)

    # --- suggestions lie in the space ------------------------------------------------
    @pytest.mark.parametrize("space_name", sorted(single_param_spaces()))
    def test_every_suggestion_in_space(self, spec: SearcherSpec, space_name: str) -> None:
        space = single_param_spaces()[space_name]
        finite = spec.supports("finite")
        configs = ask_configs(spec.make(space, seed=1), 30, finite=finite)
        assert len(configs) >= (2 if finite else 30)
        for config in configs:
            assert_config_in_space(space, config)
            assert list(config) == [n for n in space if n in config], "not in space order"
        if finite:
            _assert_distinct(configs, f"finite searcher on {space_name}")

    def test_batch_ask_in_space(self, spec: SearcherSpec) -> None:
        space = mixed_space()
        searcher = spec.make(space, seed=2)
        batch = searcher.ask(7)
        assert len(batch) == 7 and all(isinstance(s, Suggestion) for s in batch)
        for s in batch:
            assert_config_in_space(space, s.config)
        assert searcher.n_asked == 7

    def test_conditional_space(self, spec: SearcherSpec) -> None:
        space = conditional_space()
        if not spec.supports("conditional"):
            with pytest.raises(UnsupportedSpaceError, match=re.escape(spec.name)):
                spec.make(space).ask(1)
            return
        configs = ask_configs(spec.make(space, seed=3), 50, finite=spec.supports("finite"))
        assert len(configs) == 50, "the conditional space has 50 grid points; ask all of them"
        for config in configs:
            assert_config_in_space(space, config)
            model = config["model"]
            assert ("C" in config) == (model == "linear")
            assert ("depth" in config) == ("criterion" in config) == (model == "tree")
            assert ("activation" in config) == (model == "net")
            assert ("slope" in config) == (model == "net" and config["activation"] == "relu")
            assert ("bias" in config) == (model in ("linear", "net"))
        branches = {(c["model"], c.get("activation")) for c in configs}
        assert branches >= {("linear", None), ("tree", None), ("net", "relu"), ("net", "tanh")}, (
            f"50 asks never reached some branches of the conditional space: {sorted(branches)}"
        )

    def test_conditional_trials_told_back(self, spec: SearcherSpec) -> None:
        if not spec.supports("conditional"):
            pytest.skip("declares no support for conditional spaces (checked above)")
        space = conditional_space()
        searcher = spec.make(space, seed=4)
        _ask_tell(searcher, 12, _conditional_loss)
        for config in ask_configs(searcher, 6, finite=spec.supports("finite")):
            assert_config_in_space(space, config)

    # --- outstanding asks ----------------------------------------------------------------
    def test_outstanding_asks_valid_and_distinct(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        searcher = spec.make(space, seed=5)
        configs = ask_configs(searcher, 16)
        configs += [s.config for s in searcher.ask(8)]
        assert len(configs) == 24
        for config in configs:
            assert_config_in_space(space, config)
        if spec.supports("distinct_configs"):
            _assert_distinct(configs, "24 asks before any tell")

    def test_outstanding_asks_after_tells_distinct(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        searcher = spec.make(space, seed=6)
        told = _ask_tell(searcher, 8, _continuous_loss)
        pending = [s.config for s in searcher.ask(6)] + ask_configs(searcher, 4)
        for config in pending:
            assert_config_in_space(space, config)
        if spec.supports("distinct_configs"):
            _assert_distinct(told + pending, "asks after tells, with 10 outstanding")

    # --- telling ---------------------------------------------------------------------------
    def test_failed_and_pruned_trials_do_not_break_asks(self, spec: SearcherSpec) -> None:
        space = mixed_space()
        searcher = spec.make(space, seed=7)
        outcomes: list[tuple[TrialState, float | None]] = [
            (TrialState.FAILED, None),
            (TrialState.PRUNED, None),
            (TrialState.PRUNED, 0.7),
            (TrialState.COMPLETE, 1.5),
            (TrialState.FAILED, None),
            (TrialState.PRUNED, 0.2),
        ]
        for number, (state, value) in enumerate(outcomes):
            suggestion = searcher.ask(1)[0]
            extra: dict[str, Any] = {}
            if state is TrialState.PRUNED:
                extra["intermediate_values"] = {0: 2.0, 1: 1.0}
            if state is TrialState.FAILED:
                extra["error"] = "Traceback ...\nRuntimeError: boom"
            searcher.tell(finished_trial_for(number, suggestion, value, state, **extra))
        assert searcher.n_told == len(outcomes)
        for config in ask_configs(searcher, 10, finite=spec.supports("finite")):
            assert_config_in_space(space, config)

    def test_only_failed_trials(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        searcher = spec.make(space, seed=8)
        asked = []
        for number in range(10):
            suggestion = searcher.ask(1)[0]
            asked.append(suggestion.config)
            searcher.tell(finished_trial_for(number, suggestion, None, TrialState.FAILED))
        more = ask_configs(searcher, 6)
        for config in more:
            assert_config_in_space(space, config)
        if spec.supports("distinct_configs"):
            _assert_distinct(asked + more, "asks between FAILED trials")

    def test_constant_objective(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        searcher = spec.make(space, seed=9)
        told = _ask_tell(searcher, 10, lambda config: 1.0)
        more = ask_configs(searcher, 6)
        for config in more:
            assert_config_in_space(space, config)
        if spec.supports("distinct_configs"):
            _assert_distinct(told + more, "asks after a constant objective")

    @pytest.mark.parametrize("direction", ["minimize", "maximize"])
    def test_complete_trials_both_directions(self, spec: SearcherSpec, direction: str) -> None:
        space = continuous_space()
        searcher = spec.make(space, seed=10, direction=direction)
        assert searcher.direction == direction
        told = _ask_tell(searcher, 12, _continuous_loss)
        more = ask_configs(searcher, 6)
        for config in more:
            assert_config_in_space(space, config)
        if spec.supports("distinct_configs"):
            _assert_distinct(told + more, f"asks while {direction.rstrip('e')}ing")

    def test_foreign_trials_are_accepted(self, spec: SearcherSpec) -> None:
        """Trials the searcher never proposed (enqueued configs, other workers) are told
        too; they must not break it."""
        space = mixed_space()
        searcher = spec.make(space, seed=11)
        rng = np.random.default_rng(0)
        for number in range(8):
            config = space.sample(rng)
            searcher.tell(finished_trial(100 + number, config, _mixed_loss(config)))
        for config in ask_configs(searcher, 6, finite=spec.supports("finite")):
            assert_config_in_space(space, config)

    def test_unknown_suggestion_ids_are_observations(self, spec: SearcherSpec) -> None:
        """A trial whose ``suggestion_id`` is ``None`` or an id the searcher never issued
        (enqueued, another process, an ask of a previous searcher) answers no ask: telling
        it never raises, even when its configuration equals an outstanding ask's, and the
        outstanding asks are still answered by their own trials afterwards."""
        space = mixed_space()
        searcher = spec.make(space, seed=24)
        outstanding = searcher.ask(3)
        first, second = outstanding[0].config, outstanding[1].config
        rng = np.random.default_rng(1)
        other = space.sample(rng)
        foreign = [
            finished_trial(0, first, _mixed_loss(first), suggestion_id=new_suggestion_id()),
            finished_trial(1, second, None, TrialState.FAILED),  # no id at all
            finished_trial(
                2,
                other,
                _mixed_loss(other),
                suggestion_id="not-an-id",
                searcher_info={"member": "someone else", "draw": 5},
            ),
        ]
        for trial in foreign:
            searcher.tell(trial)
        for number, s in enumerate(outstanding, start=len(foreign)):
            searcher.tell(finished_trial_for(number, s, _mixed_loss(s.config)))
        assert searcher.n_told == 6
        for config in ask_configs(searcher, 5, finite=spec.supports("finite")):
            assert_config_in_space(space, config)
        state = searcher.state_dict()
        assert json.loads(json.dumps(state)) == state

    @pytest.mark.parametrize("space_name", ["mixed", "conditional"])
    def test_suggestion_ids_and_json_info(self, spec: SearcherSpec, space_name: str) -> None:
        """Every suggestion has its own id (a non-empty ``str``) and an ``info`` dict that
        is JSON without NaN or infinity (the study stores it with the trial): batches,
        first asks, and asks after complete, failed and pruned trials."""
        if space_name == "conditional" and not spec.supports("conditional"):
            pytest.skip("declares no support for conditional spaces")
        space, loss = {
            "mixed": (mixed_space(), _mixed_loss),
            "conditional": (conditional_space(), _conditional_loss),
        }[space_name]
        searcher = spec.make(space, seed=25)
        suggestions = list(searcher.ask(3))
        states = [TrialState.COMPLETE, TrialState.FAILED, TrialState.COMPLETE, TrialState.PRUNED]
        for number in range(12):
            s = searcher.ask(1)[0]
            suggestions.append(s)
            state = states[number % len(states)]
            value = loss(s.config) if state is TrialState.COMPLETE else None
            extra = {"intermediate_values": {0: 1.0}} if state is TrialState.PRUNED else {}
            searcher.tell(finished_trial_for(number, s, value, state, **extra))
        suggestions += searcher.ask(4)
        for s in suggestions:
            assert isinstance(s.id, str) and s.id, f"a suggestion needs a str id, got {s.id!r}"
            assert isinstance(s.info, dict), f"info must be a dict, got {s.info!r}"
            try:
                json.dumps(s.info, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise AssertionError(f"info {s.info!r} is not storable JSON: {exc}") from None
        ids = [s.id for s in suggestions]
        assert len(set(ids)) == len(ids), "two suggestions share an id"

    def test_tell_rejects_unfinished_trials(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        searcher = spec.make(space)
        suggestion = searcher.ask(1)[0]
        with pytest.raises(ValueError, match="finished"):
            searcher.tell(finished_trial_for(0, suggestion, None, TrialState.RUNNING))

    # --- seeds ------------------------------------------------------------------------------
    def test_same_seed_same_sequence(self, spec: SearcherSpec) -> None:
        for space, loss in ((continuous_space(), _continuous_loss), (mixed_space(), _mixed_loss)):
            first = _ask_tell(spec.make(space, seed=42), 10, loss)
            second = _ask_tell(spec.make(space, seed=42), 10, loss)
            assert first == second
            pending_a = [s.config for s in spec.make(space, seed=43).ask(5)]
            pending_b = [s.config for s in spec.make(space, seed=43).ask(5)]
            assert pending_a == pending_b

    def test_different_seed_different_sequence(self, spec: SearcherSpec) -> None:
        space = continuous_space()
        a = _ask_tell(spec.make(space, seed=1), 8, _continuous_loss)
        b = _ask_tell(spec.make(space, seed=2), 8, _continuous_loss)
        if spec.supports("seed_dependent"):
            assert a != b, "different seeds gave the same sequence"
            if not spec.supports("finite"):
                assert {_key(c) for c in a}.isdisjoint(_key(c) for c in b), (
                    "different seeds proposed a common point in a continuous space"
                )
        else:
            assert a == b, "declared seed_dependent=False but the seed changed the sequence"

    def test_unseeded(self, spec: SearcherSpec) -> None:
        """``seed=None`` works; a randomized, infinite searcher then varies between runs
        (a finite one may keep a fixed order, which processes sharing a study rely on)."""
        space = continuous_space()
        a = ask_configs(spec.make(space, seed=None), 5)
        b = ask_configs(spec.make(space, seed=None), 5)
        for config in a + b:
            assert_config_in_space(space, config)
        if spec.supports("seed_dependent") and not spec.supports("finite"):
            assert a != b, "two unseeded searchers proposed the same sequence"

    # --- state ------------------------------------------------------------------------------
    def test_state_dict_is_versioned_json(self, spec: SearcherSpec) -> None:
        searcher = spec.make(mixed_space(), seed=12)
        for state in (searcher.state_dict(), _after(searcher, 5, _mixed_loss).state_dict()):
            assert isinstance(state, dict)
            assert type(state.get("version")) is int, f"state needs an int 'version': {state}"
            assert json.loads(json.dumps(state)) == state, "state must survive JSON exactly"

    @pytest.mark.parametrize("space_name", ["mixed", "conditional"])
    def test_state_round_trip(self, spec: SearcherSpec, space_name: str) -> None:
        if space_name == "conditional" and not spec.supports("conditional"):
            pytest.skip("declares no support for conditional spaces")
        space, loss = {
            "mixed": (mixed_space(), _mixed_loss),
            "conditional": (conditional_space(), _conditional_loss),
        }[space_name]
        original = spec.make(space, seed=13)
        told = []
        for number in range(7):
            suggestion = original.ask(1)[0]
            told.append(finished_trial_for(number, suggestion, loss(suggestion.config)))
            original.tell(told[-1])
        original.ask(2)  # outstanding when the state is saved: never told
        state = json.loads(json.dumps(original.state_dict()))

        rebuilt = spec.make(space, seed=13)
        rebuilt.load_state_dict(state)
        for trial in told:
            rebuilt.tell(trial)
        expected = [s.config for s in original.ask(3)]
        resumed = [s.config for s in rebuilt.ask(3)]
        if not spec.supports("resumable"):
            for config in resumed:
                assert_config_in_space(space, config)
            if spec.supports("distinct_configs"):
                _assert_distinct(resumed + _configs(told), "asks of a rebuilt searcher")
            return
        assert resumed == expected
        assert ask_configs(rebuilt, 2) == ask_configs(original, 2)

    def test_state_round_trip_answers_outstanding_asks(self, spec: SearcherSpec) -> None:
        """Asks outstanding when the state is saved are answered after the rebuild by the
        trials carrying their ids: a searcher rebuilt from the state and the replayed
        trials, then told those answers, goes on exactly as the original does (so the
        state keeps each pending ask with its id)."""
        space = mixed_space()
        original = spec.make(space, seed=26)
        told = []
        for number in range(6):
            suggestion = original.ask(1)[0]
            told.append(finished_trial_for(number, suggestion, _mixed_loss(suggestion.config)))
            original.tell(told[-1])
        outstanding = original.ask(3)
        state = json.loads(json.dumps(original.state_dict()))

        rebuilt = spec.make(space, seed=26)
        rebuilt.load_state_dict(state)
        for trial in told:
            rebuilt.tell(trial)
        # the first two are answered (in ask order), the last one is still running
        answers = [
            finished_trial_for(6 + i, s, _mixed_loss(s.config)) for i, s in enumerate(outstanding)
        ][:2]
        for trial in answers:
            original.tell(trial)
            rebuilt.tell(trial)
        expected = [s.config for s in original.ask(3)]
        resumed = [s.config for s in rebuilt.ask(3)]
        for config in resumed:
            assert_config_in_space(space, config)
        if spec.supports("resumable"):
            assert resumed == expected

    def test_wrong_state_version_rejected(self, spec: SearcherSpec) -> None:
        searcher = spec.make(continuous_space(), seed=14)
        _ask_tell(searcher, 3, _continuous_loss)
        state = searcher.state_dict()
        fresh = spec.make(continuous_space(), seed=14)
        for bad in (
            {**state, "version": state["version"] + 1},
            {k: v for k, v in state.items() if k != "version"},
            {**state, "version": str(state["version"])},
        ):
            with pytest.raises(SearcherError, match="version"):
                fresh.load_state_dict(bad)
        fresh.load_state_dict(state)  # the right version still loads

    # --- finite searchers -----------------------------------------------------------------------
    def test_small_space(self, spec: SearcherSpec) -> None:
        """A finite searcher visits all 6 points once then raises SearchSpaceExhausted; any
        other keeps proposing valid points."""
        space = _tiny_space()
        searcher = spec.make(space, seed=15)
        if spec.supports("finite"):
            configs = ask_configs(searcher, 6)
            _assert_distinct(configs, "finite searcher on 6 points")
            assert len(configs) == 6
            with pytest.raises(SearchSpaceExhausted):
                searcher.ask(1)
        else:
            configs = ask_configs(searcher, 20)
        for config in configs:
            assert_config_in_space(space, config)

    def test_small_space_optimize(self, spec: SearcherSpec) -> None:
        study = spec.create_study(space=_tiny_space(), seed=16)
        study.optimize(lambda config: len(config["a"]) + config["b"], n_trials=10, progress=False)
        expected = 6 if spec.supports("finite") else 10
        assert len(study.trials) == expected
        assert all(t.state is TrialState.COMPLETE for t in study.trials)

    # --- through a study ----------------------------------------------------------------------
    @pytest.mark.parametrize("direction", ["minimize", "maximize"])
    def test_optimize_exact_trials(self, spec: SearcherSpec, direction: str) -> None:
        space = mixed_space()
        study = spec.create_study(space=space, seed=17, direction=direction)
        assert study.searcher_name == spec.name
        study.optimize(_mixed_loss, n_trials=15, progress=False)
        trials = study.trials
        assert [t.number for t in trials] == list(range(15))
        assert all(t.state is TrialState.COMPLETE for t in trials)
        for t in trials:
            assert_config_in_space(space, t.params)
            assert t.value == _mixed_loss(t.params)
        values = [t.value for t in trials if t.value is not None]
        best = min(values) if direction == "minimize" else max(values)
        assert study.best_value == best
        study.optimize(_mixed_loss, n_trials=5, progress=False)
        assert len(study.trials) == 20

    def test_optimize_reproducible(self, spec: SearcherSpec) -> None:
        conditional = spec.supports("conditional")
        space = conditional_space() if conditional else mixed_space()
        loss = _conditional_loss if conditional else _mixed_loss
        runs = []
        for _ in range(2):
            study = spec.create_study(space=space, seed=18)
            study.optimize(loss, n_trials=12, progress=False)
            runs.append(_configs(study.trials))
        assert runs[0] == runs[1]

    def test_optimize_with_failures_and_pruning(self, spec: SearcherSpec) -> None:
        space = continuous_space()

        def objective(config: dict[str, Any]) -> float:
            if config["z"] < 0.2:
                raise RuntimeError("diverged")
            if config["z"] > 0.8:
                raise hpo.TrialPruned()
            if config["z"] > 0.7:
                return math.nan
            return _continuous_loss(config)

        study = spec.create_study(space=space, seed=19)
        study.optimize(objective, n_trials=25, progress=False)
        trials = study.trials
        assert len(trials) == 25
        for t in trials:
            z = t.params["z"]
            expected = TrialState.COMPLETE
            if z < 0.2 or 0.7 < z <= 0.8:
                expected = TrialState.FAILED
            elif z > 0.8:
                expected = TrialState.PRUNED
            assert t.state is expected, (t.number, t.params, t.state)
        if spec.supports("distinct_configs"):
            _assert_distinct(_configs(trials), "optimize with failures")

    def test_optimize_threads(self, spec: SearcherSpec) -> None:
        study = spec.create_study(space=continuous_space(), seed=20)
        study.optimize(_continuous_loss, n_trials=16, n_workers=4, progress=False)
        trials = study.trials
        assert len(trials) == 16 and all(t.state is TrialState.COMPLETE for t in trials)
        if spec.supports("distinct_configs"):
            _assert_distinct(_configs(trials), "4 threads")

    def test_reloaded_study_continues(self, spec: SearcherSpec) -> None:
        """A study reloaded from its storage rebuilds the searcher from (name, kwargs,
        saved state) plus the stored trials and goes on exactly as an unbroken run."""
        space = mixed_space()
        storage = InMemoryStorage()
        first = spec.create_study(space=space, seed=21, storage=storage, name="resumed")
        first.optimize(_mixed_loss, n_trials=6, progress=False)
        reloaded = hpo.load_study("resumed", storage)
        assert reloaded.searcher is not first.searcher
        reloaded.optimize(_mixed_loss, n_trials=6, progress=False)
        resumed = _configs(reloaded.trials)

        if not spec.supports("resumable"):
            assert len(resumed) == 12
            for config in resumed:
                assert_config_in_space(space, config)
            return
        unbroken = spec.create_study(space=space, seed=21)
        unbroken.optimize(_mixed_loss, n_trials=12, progress=False)
        assert resumed == _configs(unbroken.trials)

    # --- define-by-run --------------------------------------------------------------------------
    def test_define_by_run(self, spec: SearcherSpec) -> None:
        if not spec.supports("define_by_run"):
            pattern = re.escape(spec.name)
            with pytest.raises(SearcherError, match=pattern):
                spec.make(None)
            with pytest.raises(SearcherError, match=pattern):
                spec.create_study()  # no space, no decorated objective: define-by-run
            with pytest.raises(SearcherError, match=pattern):
                spec.make(continuous_space()).suggest_param(0, {}, "x", Float(0.0, 1.0))
            return

        def objective(trial: hpo.Trial) -> float:
            x = trial.suggest_float("x", -5.0, 5.0)
            lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
            n = trial.suggest_int("n", 1, 9, step=2)
            width = trial.suggest_int("width", 8, 512, log=True)
            kind = trial.suggest_categorical("kind", ["a", "b", None, 1.5])
            if kind == "a":
                trial.suggest_float("frac", 0.0, 1.0, step=0.25)
            return x**2 + math.log10(lr) ** 2 + n + math.log2(width)

        runs = []
        for _ in range(2):
            study = spec.create_study(seed=22)
            assert study.define_by_run
            study.optimize(objective, n_trials=12, progress=False)
            trials = study.trials
            assert len(trials) == 12 and all(t.state is TrialState.COMPLETE for t in trials)
            for t in trials:
                assert ("frac" in t.params) == (t.params["kind"] == "a")
                sub = Space({k: study.space[k] for k in study.space if k in t.params})
                assert_config_in_space(sub, t.params)
            assert set(study.space) >= {"x", "lr", "n", "width", "kind"}
            runs.append(_configs(trials))
        assert runs[0] == runs[1], "define-by-run with a seed must be reproducible"
        _assert_distinct(runs[0], "define-by-run trials")

    def test_define_by_run_dynamic_and_degenerate_ranges(self, spec: SearcherSpec) -> None:
        """Optuna-style code: a range that depends on an earlier parameter, a degenerate
        range (a fixed value), a step that does not divide its range (lowered, with a
        warning): every trial completes inside the range it asked for, reproducibly, and
        the study's space records the smallest range holding every trial's."""
        if not spec.supports("define_by_run"):
            return
        asked: dict[int, dict[str, tuple[float, float]]] = {}

        def objective(trial: hpo.Trial) -> float:
            n = trial.suggest_int("n", 1, 4)
            k = trial.suggest_int("k", 1, n)  # [1, 1] when n == 1: a fixed value
            one = trial.suggest_float("one", 2.5, 2.5)
            lr = trial.suggest_float("lr", 0.0, 1.0, step=0.3)  # high lowered to 0.9
            asked[trial.number] = {"k": (1, n)}
            return (k - 2) ** 2 + (lr - 0.6) ** 2 + one

        runs = []
        for _ in range(2):
            study = spec.create_study(seed=24)
            with pytest.warns(UserWarning, match="does not divide the range"):
                study.optimize(objective, n_trials=10, progress=False)
            trials = study.trials
            assert all(t.state is TrialState.COMPLETE for t in trials), [t.error for t in trials]
            for t in trials:
                low, high = asked[t.number]["k"]
                assert low <= t.params["k"] <= high and t.params["one"] == 2.5
                assert t.params["lr"] in (0.0, 0.3, 0.6, 0.9) or math.isclose(t.params["lr"], 0.9)
            assert study.space["k"] == Int(1, max(t.params["n"] for t in trials))
            assert study.space["one"] == Float(2.5, 2.5)
            assert study.space["lr"] == Float(0.0, 0.9, step=0.3)
            runs.append(_configs(trials))
        assert runs[0] == runs[1], "define-by-run with a seed must be reproducible"

    def test_suggest_param_unit(self, spec: SearcherSpec) -> None:
        """Define-by-run values for every parameter flavour: inside the parameter and
        reproducible per seed, or (unsupported) a clear error for each of them."""
        params = {
            name: space["v"] for name, space in single_param_spaces().items() if name != "mixed"
        }
        if not spec.supports("define_by_run"):
            searcher = spec.make(continuous_space(), seed=23)
            for name, param in params.items():
                with pytest.raises(SearcherError, match=re.escape(repr(name))):
                    searcher.suggest_param(0, {}, name, param)
            return
        a, b = spec.make(None, seed=23), spec.make(None, seed=23)
        for number in range(8):
            config: dict[str, Any] = {}
            for name, param in params.items():
                value = a.suggest_param(number, dict(config), name, param)
                assert param.contains(value), f"{name}={value!r} outside {param!r}"
                assert b.suggest_param(number, dict(config), name, param) == value
                config[name] = value


def _after(searcher: Searcher, n: int, loss: Callable[[Mapping[str, Any]], float]) -> Searcher:
    _ask_tell(searcher, n, loss)
    return searcher
