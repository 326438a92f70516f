"""Population-based training (PBT, Jaderberg et al. 2017), asynchronous, in segments.

A *population* of ``population_size`` members trains side by side. A member trains in
*segments* of ``interval`` budget units; **each segment is one trial** whose
``Suggestion.budget`` is the segment's end (``interval, 2 * interval, ...``, the last one
capped at ``budget.max``) and whose ``Suggestion.parent`` is the trial whose checkpoint it
continues from (``trial.load_checkpoint()`` falls back to the parent's checkpoint), or
``None`` for a member's very first segment. The lineage of any trial is its ``parent``
chain; ``n_trials`` counts segments.

Default ``interval``: ``max(budget.min, budget.max / 10)``, rounded up to a whole unit for
integral budgets (``Budget("epoch", 1, 27)`` gives 3: segments end at 3, 6, ..., 27).

**Each ask** serves, in this order:

1. *Filling the population*: while it has fewer than ``population_size`` members, a new
   member with a configuration drawn uniformly from the space (budget: the first segment
   end, parent ``None``).
2. *The member that has waited longest* since its last segment finished (first in, first
   out). It is ranked against every segment that ended at the same budget (its
   *cohort*: the results of all members there, including members that have since moved
   on or been replaced), so members that run ahead or lag behind under parallel workers
   are compared at equal progress. With ``n`` results in the cohort,
   ``k = floor(quantile * n)``. A member among the bottom ``k`` **exploits**: its next
   segment continues from a top-``k`` trial of the cohort (``parent`` = that trial, the
   donor chosen uniformly, so the copied checkpoint is the donor's state at the same
   budget) with the donor's configuration **explored**. Any other member continues its
   own lineage unchanged (``parent`` = its own latest trial, same configuration).
3. *Every member busy* (more workers than waiting members): rather than idling a worker
   (and because raising :class:`~hpo.exceptions.SearchSpaceExhausted` would end the whole
   run), the population grows by one member: a fresh random one while it has fewer than
   ``2 * population_size`` members, afterwards a branch of a top member (its latest trial
   as parent, its configuration explored). Such members take part like the others.
4. *Every member done* (all reached ``budget.max``, none running):
   :class:`~hpo.exceptions.SearchSpaceExhausted`, which ends ``optimize``.

**Explore.** Each hyperparameter named in ``hyperparams`` (default: all of them) is, with
probability ``resample_probability``, redrawn from its prior; otherwise a numeric one is
multiplied by a factor drawn uniformly from ``perturbation_factors``, clipped to its bounds
and snapped onto its step / integer grid by the space codec, and a categorical one is
kept. Parameters not listed keep the donor's value. In a conditional space a parameter
that becomes active is drawn from its prior.

**Failed or pruned segments** (and COMPLETE ones without a finite value) leave the member
with no score: its next segment exploits a top trial of the cohort at its last good
budget (at the first segment end if it has none), like a bottom member does; with no
donor it continues from its own last good trial with an explored configuration, or,
having none, restarts from scratch with a fresh random configuration.

``on_report`` always answers CONTINUE: segments end by their budget.

**Bookkeeping.** The study creates the trial after the ask, so an ask records a *pending
segment* (member, configuration, budget, parent) under the suggestion's id, and a told
trial is matched to it by that id (``trial.suggestion_id``). Trials that match no pending
segment (enqueued or foreign trials, ``suggestion_id=None`` or an id this searcher never
issued) are ignored. Each suggestion's ``info`` (JSON, stored with the trial) says what
the segment is: ``member``, ``action`` (``new``, ``continue``, ``exploit``, ``retry``,
``restart``, ``branch``), ``start`` (the budget it continues from) and, when it copies
another member, ``donor`` (that member; the trial whose checkpoint it continues is the
suggestion's ``parent``). The members, the pending segments (with their ids)
and the numbers of the trials already applied are the searcher's state
(``state_dict``, version 2), so a reloaded study replays its told trials without applying
any twice. A version 1 state (pending segments without ids) still loads: its pending
segments are dropped and their members are ready for a next segment from their last
good trial. The population lives in one searcher: processes sharing a study do not share
one population.

>>> study = hpo.create_study(objective, searcher="pbt",
...                          budget=hpo.Budget("epoch", 1, 30))       # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from hpo.budget import Budget
from hpo.exceptions import SearchSpaceExhausted
from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Float, Int, Space
from hpo.trial import FrozenTrial, TrialState

_EPS = 1e-9


@dataclass
class Member:
    """One member of the population: its current configuration, its latest good trial
    (``None`` before its first completed segment), the budget that trial reached, the
    loss there (``None``: no score, e.g. its last segment failed) and its status
    (``"running"``, ``"ready"`` for a next segment, or ``"done"``)."""

    id: int
    config: dict[str, Any]
    trial: int | None = None
    end: float = 0.0
    loss: float | None = None
    status: str = "running"


@dataclass
class Segment:
    """A segment asked but not yet told, under the id of its suggestion."""

    id: str
    member: int
    config: dict[str, Any]
    budget: float
    parent: int | None


@dataclass
class Result:
    """A completed segment with a score: where it ended, its loss, its trial, the member
    that ran it and its configuration."""

    end: float
    loss: float
    trial: int
    member: int
    config: dict[str, Any]


class PBTSearcher(Searcher):
    """Population-based training with exploit (copy a top member) and explore (perturb).

    Options: ``population_size``; ``interval`` (budget units per segment); ``quantile``
    (the bottom / top fraction, in (0, 0.5]); ``resample_probability``;
    ``perturbation_factors``; ``hyperparams`` (names explored; default all).
    """

    name = "pbt"
    owns_stopping = True
    needs_budget = True
    #: 2: pending segments saved with their suggestion ids (version 1 states still load)
    state_version = 2
    #: continuing members repeat their configuration (read by the conformance suite)
    distinct_configs: ClassVar[bool] = False

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        budget: Budget,
        population_size: int = 8,
        interval: float | None = None,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (0.8, 1.2),
        hyperparams: Sequence[str] | None = None,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        if not isinstance(budget, Budget):
            raise ValueError(f"pbt: `budget` must be an hpo.Budget, got {budget!r}")
        if (
            isinstance(population_size, bool)
            or not isinstance(population_size, int | np.integer)
            or population_size < 2
        ):
            raise ValueError(f"pbt: `population_size` must be an int >= 2, got {population_size!r}")
        if interval is None:
            interval = max(budget.min, budget.max / 10)
            interval = math.ceil(interval - _EPS) if budget.integral else float(interval)
        elif (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not math.isfinite(interval)
            or not budget.min <= interval <= budget.max
        ):
            raise ValueError(
                f"pbt: `interval` must be a number in [budget.min, budget.max] = "
                f"[{budget.min}, {budget.max}] (budget units per segment), got {interval!r}"
            )
        elif budget.integral and not float(interval).is_integer():
            raise ValueError(
                f"pbt: the {budget.name!r} budget counts whole units, so `interval` must be a "
                f"whole number, got {interval!r}"
            )
        if (
            isinstance(quantile, bool)
            or not isinstance(quantile, int | float)
            or not 0 < quantile <= 0.5
        ):
            raise ValueError(f"pbt: `quantile` must be a fraction in (0, 0.5], got {quantile!r}")
        if (
            isinstance(resample_probability, bool)
            or not isinstance(resample_probability, int | float)
            or not 0 <= resample_probability <= 1
        ):
            raise ValueError(
                f"pbt: `resample_probability` must be a probability in [0, 1], "
                f"got {resample_probability!r}"
            )
        factors: list[Any] = (
            list(perturbation_factors)
            if isinstance(perturbation_factors, list | tuple)
            else [perturbation_factors]
        )
        if not factors or any(
            isinstance(f, bool)
            or not isinstance(f, int | float)
            or not (math.isfinite(f) and f > 0)
            for f in factors
        ):
            raise ValueError(
                "pbt: `perturbation_factors` must be a non-empty list of numbers > 0 such as "
                f"[0.8, 1.2], got {perturbation_factors!r}"
            )
        if hyperparams is None:
            names = list(self.space)
        elif isinstance(hyperparams, str) or not isinstance(hyperparams, list | tuple):
            raise ValueError(
                f"pbt: `hyperparams` must be a list of parameter names, got {hyperparams!r}"
            )
        else:
            names = list(hyperparams)
            unknown = [n for n in names if n not in self.space]
            if unknown:
                raise ValueError(
                    f"pbt: `hyperparams` names {unknown!r}, not in the space; its parameters "
                    f"are {list(self.space)!r}"
                )
        self.budget = budget
        self.population_size = int(population_size)
        self.interval: float = int(interval) if budget.integral else float(interval)
        self.quantile = float(quantile)
        self.resample_probability = float(resample_probability)
        self.perturbation_factors = [float(f) for f in factors]
        self.hyperparams = names
        self._members: list[Member] = []
        self._ready: list[int] = []  # member ids waiting for their next segment, FIFO
        self._pending: dict[str, Segment] = {}  # suggestion id -> segment, oldest first
        self._results: list[Result] = []
        self._applied: set[int] = set()  # trial numbers already applied to the population

    # --- segments ------------------------------------------------------------------------
    def segment_end(self, start: float) -> float:
        """The end of the segment that starts at ``start`` budget units."""
        end = min(start + self.interval, float(self.budget.max))
        return round(end) if self.budget.integral else end

    @property
    def members(self) -> list[Member]:
        """The population (read-only view for inspection and tests)."""
        return list(self._members)

    # --- asking --------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Suggestion]:
        out = []
        for _ in range(n):
            rng = self._rng_for(self._next_index("draw"))
            out.append(self._next(rng))
        return out

    def _next(self, rng: np.random.Generator) -> Suggestion:
        if len(self._members) < self.population_size:
            return self._new_member(rng)
        if self._ready:
            member = self._members[self._ready.pop(0)]
            return self._next_segment(member, rng)
        if not self._pending and all(m.status == "done" for m in self._members):
            raise SearchSpaceExhausted(
                f"pbt: all {len(self._members)} members of the population trained to "
                f"{self.budget.name}={self.budget.max}; nothing is left to train"
            )
        if len(self._members) < 2 * self.population_size:
            return self._new_member(rng)
        donors = self._branch_donors()
        if not donors:
            return self._new_member(rng)
        donor = donors[0]
        member = Member(len(self._members), dict(donor.config))
        self._members.append(member)
        config = self._explore(donor.config, rng)
        return self._segment(member, config, donor.end, donor.trial, "branch", donor.id)

    def _new_member(self, rng: np.random.Generator) -> Suggestion:
        member = Member(len(self._members), self.space.sample(rng))
        self._members.append(member)
        return self._segment(member, member.config, 0.0, None, "new")

    def _segment(
        self,
        member: Member,
        config: dict[str, Any],
        start: float,
        parent: int | None,
        how: str,
        donor: int | None = None,
    ) -> Suggestion:
        """Record and return ``member``'s next segment, continuing at ``start`` from the
        checkpoint of trial ``parent`` (``None``: from scratch) of member ``donor``
        (``None``: its own)."""
        config = self.space.canonical(config)
        budget = self.segment_end(start)
        info: dict[str, Any] = {"member": int(member.id), "action": how, "start": float(start)}
        if donor is not None and donor != member.id:
            info["donor"] = int(donor)
        suggestion = Suggestion(config, budget=budget, parent=parent, info=info)
        member.status = "running"
        self._pending[suggestion.id] = Segment(suggestion.id, member.id, config, budget, parent)
        return suggestion

    def _cohort(self, end: float) -> list[Result]:
        """The scored segments that ended at ``end``, best first."""
        same = [r for r in self._results if abs(r.end - end) <= _EPS * max(1.0, abs(end))]
        return sorted(same, key=lambda r: (r.loss, r.trial))

    def _branch_donors(self) -> list[Member]:
        """The top-``k`` members by their latest score (best first) that have budget left:
        the members a new branch may start from."""
        ranked = sorted(
            (m for m in self._members if m.loss is not None), key=lambda m: (m.loss, m.id)
        )
        k = max(1, int(self.quantile * len(ranked)))
        return [
            m for m in ranked[:k] if m.end < float(self.budget.max) - _EPS and m.trial is not None
        ]

    def _next_segment(self, member: Member, rng: np.random.Generator) -> Suggestion:
        end = member.end if member.trial is not None else self.segment_end(0.0)
        cohort = self._cohort(end)
        k = int(self.quantile * len(cohort))
        if member.loss is None:  # failed: copy one of the best at its last good budget
            donors = [r for r in cohort[: max(1, k)] if r.member != member.id]
        elif k >= 1 and any(r.trial == member.trial for r in cohort[len(cohort) - k :]):
            donors = [r for r in cohort[:k] if r.trial != member.trial]
        else:
            donors = []
        if donors:
            donor = donors[int(rng.integers(len(donors)))]
            config = self._explore(donor.config, rng)
            return self._segment(member, config, donor.end, donor.trial, "exploit", donor.member)
        if member.loss is None:  # failed, and nobody to copy
            if member.trial is None:
                member.config = self.space.sample(rng)
                member.end = 0.0
                return self._segment(member, member.config, 0.0, None, "restart")
            config = self._explore(member.config, rng)
            return self._segment(member, config, member.end, member.trial, "retry")
        return self._segment(member, member.config, member.end, member.trial, "continue")

    # --- explore -------------------------------------------------------------------------
    def _explore(self, config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """A perturbed copy of ``config`` (see the module docstring)."""
        out: dict[str, Any] = {}
        for name, param in self.space.items():
            if not self.space.is_active(name, out):
                continue
            if name not in config:
                out[name] = param.sample(rng)
                continue
            value = config[name]
            if name in self.hyperparams:
                if rng.random() < self.resample_probability:
                    value = param.sample(rng)
                elif isinstance(param, Float | Int):
                    factor = self.perturbation_factors[
                        int(rng.integers(len(self.perturbation_factors)))
                    ]
                    value = self._scaled(param, value, factor)
            out[name] = value
        return out

    @staticmethod
    def _scaled(param: Float | Int, value: Any, factor: float) -> Any:
        """``value * factor`` clipped to the bounds and snapped onto the parameter's grid."""
        new = min(max(float(value) * factor, float(param.low)), float(param.high))
        if isinstance(param, Int):
            if param.log:
                return min(max(round(new), param.low), param.high)
            k = min(max(round((new - param.low) / param.step), 0), param.n_values - 1)
            return param.low + k * param.step
        if param.step is not None:
            return param.decode(param.encode(new))
        return new

    # --- telling -------------------------------------------------------------------------
    def _tell(self, trial: FrozenTrial) -> None:
        if trial.number in self._applied or trial.suggestion_id is None:
            return
        seg = self._pending.pop(trial.suggestion_id, None)
        if seg is None:
            return  # enqueued, foreign, or an ask of another searcher: not a segment
        self._applied.add(trial.number)
        member = self._members[seg.member]
        loss = self._loss(trial) if trial.state is TrialState.COMPLETE else None
        if loss is None:
            member.loss = None
            member.status = "ready"
            self._ready.append(member.id)
            return
        member.config = dict(seg.config)
        member.trial = trial.number
        member.end = float(seg.budget)
        member.loss = loss
        self._results.append(Result(member.end, loss, trial.number, member.id, member.config))
        if member.end >= float(self.budget.max) - _EPS:
            member.status = "done"
        else:
            member.status = "ready"
            self._ready.append(member.id)

    # --- state ---------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "members": [asdict(m) for m in self._members],
            "ready": list(self._ready),
            "pending": [asdict(s) for s in self._pending.values()],
            "results": [asdict(r) for r in self._results],
            "applied": sorted(self._applied),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if type(version) is not int or version != 1:
            super().load_state_dict(state)
            return
        # version 1: pending segments without ids, which no told trial can answer now; their
        # members are made ready to train their next segment from their last good trial
        super().load_state_dict({**state, "version": self.state_version, "pending": []})
        for old in state.get("pending", []):
            member = self._members[int(old["member"])]
            if member.status == "running":
                member.status = "ready"
                self._ready.append(member.id)

    def _load_state(self, state: dict[str, Any]) -> None:
        self._members = [Member(**m) for m in state.get("members", [])]
        self._ready = [int(i) for i in state.get("ready", [])]
        segments = [Segment(**s) for s in state.get("pending", [])]
        self._pending = {seg.id: seg for seg in segments}
        self._results = [Result(**r) for r in state.get("results", [])]
        self._applied = {int(n) for n in state.get("applied", [])}
