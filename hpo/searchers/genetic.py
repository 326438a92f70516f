"""Genetic search: an evolutionary algorithm for mixed and conditional spaces.

The population is made of finished trials. The first ``population_size`` asks come from
a Latin hypercube in the unit cube; every later ask breeds one child: two parents chosen
by tournament, crossed over with probability ``crossover_rate`` (BLX-alpha blend on
numeric parameters, per-parameter inheritance for categoricals and conditionals) and
mutated (each parameter with probability ``mutation_rate``: a Gaussian step in the unit
cube, or another categorical choice). See :mod:`hpo.searchers._evolution`.

* ``mode="steady_state"`` (default): each tell inserts the trial into the population and,
  once it is full, evicts the worst (``replacement="worst"``) or the oldest member not
  among the ``elitism`` best (``replacement="oldest"``, regularized evolution). Asks never
  wait for anything, so any number of workers keep busy.
* ``mode="generational"``: every ``population_size`` finished trials close a generation;
  the next population is its best children plus the ``elitism`` best of the previous one.
  Asks made while a generation is still running breed from the last closed one.

Failed, pruned and non-finite trials never enter the population (their configurations
are still never proposed again). Outstanding asks are distinct: each ask has its own
random stream (``_rng_for`` of a shared index) and a child equal to a told or pending
configuration is bred again (up to 10 times, then drawn at random).

Outstanding asks are kept by suggestion id: a told trial clears the ask whose id it
carries (``trial.suggestion_id``); one without (enqueued, another process) is only an
observation. Their configurations still count for the de-duplication above.

Define-by-run (no space): the population evolves over the space seen so far (the
parameters every COMPLETE trial has), and the other parameters are sampled uniformly, as
Optuna's CMA-ES sampler does: see :mod:`hpo.searchers._relative`.

The mutation scale decays as ``mutation_scale / sqrt(1 + n / population_size)`` with
``n`` the number of completed trials, so it is rebuilt from the trials; the state holds
only the design seed and the pending asks (id and configuration; version 2, a version 1
state still loads without its pending configurations).

>>> s = GeneticSearcher(Space({"x": Float(0, 1)}), seed=0, population_size=8)  # doctest: +SKIP
>>> s.ask(2)                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from hpo.searchers._evolution import CROSSOVERS, Individual, latin_hypercube, tournament, vary
from hpo.searchers._relative import RelativeSampler
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Param, Space
from hpo.trial import FrozenTrial

MODES = ("steady_state", "generational")
REPLACEMENTS = ("worst", "oldest")
_RETRIES = 10
_MAX_PENDING = 256  # outstanding asks remembered for de-duplication (and saved)


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"genetic: `{name}` must be an int >= {low}, got {value!r}")
    return int(value)


def _check_rate(name: str, value: Any, *, open_low: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.number)
    if not ok or not math.isfinite(value) or not (0 < value <= 1 if open_low else 0 <= value <= 1):
        bounds = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"genetic: `{name}` must be a number in {bounds}, got {value!r}")
    return float(value)


class GeneticSearcher(Searcher):
    """An evolutionary searcher (steady-state by default) for mixed, conditional spaces.

    Options (keyword-only): ``population_size`` (default ``clip(3 * n_params, 10, 50)``),
    ``tournament_size`` (3), ``crossover_rate`` (0.9), ``crossover`` (``"blend"`` or
    ``"uniform"``), ``mutation_rate`` (per parameter; default ``max(1 / n_params, 0.2)``),
    ``mutation_scale`` (initial Gaussian sigma in the unit cube, 0.1), ``elitism`` (1),
    ``mode`` (``"steady_state"`` or ``"generational"``), ``replacement`` (``"worst"`` or
    ``"oldest"``, steady-state only).
    """

    name = "genetic"
    supports_define_by_run = True
    #: 2: pending asks saved with their suggestion ids (version 1 states still load)
    state_version = 2

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        population_size: int | None = None,
        tournament_size: int = 3,
        crossover_rate: float = 0.9,
        crossover: str = "blend",
        mutation_rate: float | None = None,
        mutation_scale: float = 0.1,
        elitism: int = 1,
        mode: str = "steady_state",
        replacement: str = "worst",
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        options_given = {"population_size": population_size is not None}
        options_given["mutation_rate"] = mutation_rate is not None
        n_params = max(len(self.space), 1)
        if population_size is None:
            population_size = min(max(3 * n_params, 10), 50)
        self.population_size = _check_int("population_size", population_size, 2)
        self.tournament_size = _check_int("tournament_size", tournament_size, 1)
        if self.tournament_size > self.population_size:
            raise ValueError(
                f"genetic: `tournament_size` ({tournament_size}) cannot exceed "
                f"`population_size` ({self.population_size})"
            )
        self.crossover_rate = _check_rate("crossover_rate", crossover_rate)
        if mutation_rate is None:
            mutation_rate = max(1.0 / n_params, 0.2)
        self.mutation_rate = _check_rate("mutation_rate", mutation_rate)
        self.mutation_scale = _check_rate("mutation_scale", mutation_scale, open_low=True)
        self.elitism = _check_int("elitism", elitism, 0)
        if self.elitism >= self.population_size:
            raise ValueError(
                f"genetic: `elitism` ({elitism}) must be smaller than `population_size` "
                f"({self.population_size})"
            )
        for option, value, allowed in (
            ("crossover", crossover, CROSSOVERS),
            ("mode", mode, MODES),
            ("replacement", replacement, REPLACEMENTS),
        ):
            if value not in allowed:
                raise ValueError(
                    f"genetic: `{option}` must be one of {', '.join(map(repr, allowed))}, "
                    f"got {value!r}"
                )
        self.crossover, self.mode, self.replacement = crossover, mode, replacement
        self._design_seed = seed if seed is not None else int(self.rng.integers(2**31))
        self._population: list[Individual] = []  # what asks breed from
        self._offspring: list[Individual] = []  # generational: the running generation
        self._generation_told = 0
        self.generation_ = 0
        self._n_complete = 0
        self._seen: set[str] = set()  # keys of the told configurations
        self._pending: dict[str, dict[str, Any]] = {}  # suggestion id -> config, oldest first
        self._relative: RelativeSampler | None = None
        if space is None:  # define-by-run: evolve the space seen so far (_relative.py)
            options: dict[str, Any] = {
                "population_size": population_size if options_given["population_size"] else None,
                "tournament_size": tournament_size,
                "crossover_rate": crossover_rate,
                "crossover": crossover,
                "mutation_rate": mutation_rate if options_given["mutation_rate"] else None,
                "mutation_scale": mutation_scale,
                "elitism": elitism,
                "mode": mode,
                "replacement": replacement,
            }
            self._relative = RelativeSampler(
                self,
                lambda sub, sub_seed: GeneticSearcher(
                    sub, direction=direction, seed=sub_seed, **options
                ),
            )

    @property
    def startup_trials(self) -> int:
        return self.population_size

    @property
    def population_(self) -> tuple[Individual, ...]:
        """The current population (what the next ask breeds from), best first."""
        return tuple(sorted(self._population, key=lambda m: (m.loss, m.number)))

    @property
    def sigma_(self) -> float:
        """The current Gaussian mutation scale in the unit cube."""
        return self.mutation_scale / math.sqrt(1.0 + self._n_complete / self.population_size)

    # --- ask ------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Suggestion]:
        if self._relative is not None:
            return self._relative.ask(n)
        out = []
        for _ in range(n):
            index = self._next_index("child")
            config, info = self._propose(index, self._rng_for(index))
            suggestion = Suggestion(config, info={"child": index, **info})
            self._pending[suggestion.id] = config
            while len(self._pending) > _MAX_PENDING:
                del self._pending[next(iter(self._pending))]
            out.append(suggestion)
        return out

    def _propose(
        self, index: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        size = self.population_size
        pending = {_key(c) for c in self._pending.values()}
        config: dict[str, Any] = {}
        for attempt in range(_RETRIES + 1):
            info: dict[str, Any] = {}
            if attempt == _RETRIES:
                config = self.space.sample(rng)
            elif index < size or not self._population:
                block, row = divmod(index, size)
                if attempt:  # a duplicate design point (discrete space): redraw uniformly
                    config = self.space.sample(rng)
                else:
                    dims = self.space.n_dims
                    u = latin_hypercube(self._design_seed, block, row, size, dims, rng)
                    config = self.space.decode(u)
                info = {"design": True}
            else:
                config, info = self._breed(rng)
            key = _key(config)
            if key not in self._seen and key not in pending:
                break
        return config, info

    def _breed(self, rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
        members = self._population
        losses = [m.loss for m in members]
        a = members[tournament(losses, self.tournament_size, rng)]
        b = None
        if len(members) > 1 and rng.random() < self.crossover_rate:
            others = [m for m in members if m is not a]
            b = others[tournament([m.loss for m in others], self.tournament_size, rng)]
        config = vary(
            self.space,
            a,
            b,
            rng,
            mutation_rate=self.mutation_rate,
            sigma=self.sigma_,
            crossover=self.crossover,
        )
        return config, {"parents": [m.number for m in (a, b) if m is not None]}

    # --- tell -----------------------------------------------------------------------------
    def _suggest_param_for(
        self,
        suggestion_id: str | None,
        trial_number: int,
        config: dict[str, Any],
        name: str,
        param: Param,
    ) -> Any:
        assert self._relative is not None, "suggest_param needs a define-by-run genetic"
        return self._relative.suggest(suggestion_id, trial_number, name, param)

    def _tell(self, trial: FrozenTrial) -> None:
        if self._relative is not None:
            self._relative.tell(trial)
            return
        if trial.suggestion_id is not None:
            self._pending.pop(trial.suggestion_id, None)
        config = dict(trial.params)
        valid = not self.space.violations(config)
        if valid:
            config = self.space.canonical(config)
            self._seen.add(_key(config))
        loss = self._loss(trial)
        member = None
        if valid and loss is not None:
            self._n_complete += 1
            member = Individual.of(self.space, trial.number, loss, config)
        if self.mode == "steady_state":
            if member is not None:
                self._population.append(member)
                if len(self._population) > self.population_size:
                    self._population.remove(self._victim())
            return
        if member is not None:
            self._offspring.append(member)
        self._generation_told += 1
        if self._generation_told >= self.population_size:
            self._close_generation()

    def _victim(self) -> Individual:
        ranked = sorted(self._population, key=lambda m: (m.loss, m.number))
        if self.replacement == "worst":
            return ranked[-1]
        return min(ranked[self.elitism :], key=lambda m: m.number)

    def _close_generation(self) -> None:
        """The next population: the ``elitism`` best of the last one, then the best
        children, topped up from the last population if too few children completed."""

        def rank(members: list[Individual]) -> list[Individual]:
            return sorted(members, key=lambda m: (m.loss, m.number))

        old = rank(self._population)
        elites, rest = old[: self.elitism], old[self.elitism :]
        children = rank(self._offspring)
        survivors = (elites + children + rest)[: self.population_size]
        if survivors:
            self._population = survivors
        self._offspring = []
        self._generation_told = 0
        self.generation_ += 1

    # --- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        pending = [{"id": i, "config": dict(c)} for i, c in self._pending.items()]
        state: dict[str, Any] = {"design_seed": self._design_seed, "pending": pending}
        if self._relative is not None:
            state["define_by_run"] = self._relative.state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if type(version) is int and version == 1:  # pending configurations without ids
            state = {**state, "version": self.state_version, "pending": []}
        super().load_state_dict(state)

    def _load_state(self, state: dict[str, Any]) -> None:
        self._design_seed = int(state.get("design_seed", self._design_seed))
        self._pending = {str(e["id"]): dict(e["config"]) for e in state.get("pending", [])}
        if self._relative is not None and "define_by_run" in state:
            self._relative.load_state(state["define_by_run"])
