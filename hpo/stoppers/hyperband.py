"""Asynchronous Hyperband (Li et al. 2018), as a stopper.

Brackets ``s = 0 .. s_max``, ``s_max = floor(log_eta(budget.max / min_budget))`` with
``eta = reduction_factor``. Bracket ``s`` runs successive halving with its first rung at
``min_budget * eta**s``: bracket 0 is the most aggressive, the last one may have no rung
at all (its trials run to ``budget.max``). Each trial belongs to one bracket, drawn from a
hash of ``(seed, trial number)`` (``seed=None`` counts as 0) with probability proportional
to Hyperband's number of configurations per bracket, ``eta**(s_max - s) / (s_max - s + 1)``.
Within its bracket a trial is compared only with the trials of that bracket, by the rule
of :mod:`hpo.stoppers._halving`.

>>> from hpo.budget import Budget
>>> hb = HyperbandStopper(Budget("epoch", 1, 27), direction="minimize", seed=0)
>>> hb.n_brackets, [hb.rungs(s) for s in range(hb.n_brackets)]
(4, [[1, 3, 9], [3, 9], [9], []])
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Mapping

from hpo.budget import Budget
from hpo.stoppers._halving import check_halving_options, halving_decision, rung_ladder
from hpo.stoppers.base import Decision, Stopper
from hpo.trial import FrozenTrial

__all__ = ["HyperbandStopper"]

_REL_TOL = 1e-9


class HyperbandStopper(Stopper):
    """Successive halving in several brackets of different aggressiveness."""

    name = "hyperband"

    def __init__(
        self,
        budget: Budget,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        reduction_factor: float = 3,
        min_budget: float | None = None,
    ) -> None:
        super().__init__(budget, direction=direction, seed=seed)
        eta, first = check_halving_options(budget, reduction_factor, min_budget)
        self.reduction_factor, self.min_budget = eta, first
        s_max = 0
        while first * eta ** (s_max + 1) <= budget.max * (1 + _REL_TOL):
            s_max += 1
        self._rungs = [rung_ladder(first * eta**s, eta, budget) for s in range(s_max + 1)]
        weights = [eta ** (s_max - s) / (s_max - s + 1) for s in range(s_max + 1)]
        total = sum(weights)
        self._cumulative = [w / total for w in itertools.accumulate(weights)]

    @property
    def n_brackets(self) -> int:
        """How many brackets there are (``s_max + 1``)."""
        return len(self._rungs)

    def bracket_weights(self) -> list[float]:
        """The probability of each bracket, in bracket order."""
        return [b - a for a, b in itertools.pairwise([0.0, *self._cumulative])]

    def bracket_of(self, number: int) -> int:
        """The bracket of trial ``number`` (the same in every process and restart)."""
        digest = hashlib.blake2b(f"{self.seed or 0}:{number}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        return min(bisect.bisect_right(self._cumulative, u), self.n_brackets - 1)

    def rungs(self, bracket: int) -> list[float]:
        """The rung steps of ``bracket``, ascending, each below ``budget.max``."""
        if not 0 <= bracket < self.n_brackets:
            raise ValueError(f"bracket must be in 0..{self.n_brackets - 1}, got {bracket!r}")
        return list(self._rungs[bracket])

    def on_report(
        self, trial: FrozenTrial, step: int, value: float, trials: Mapping[int, FrozenTrial]
    ) -> Decision:
        bracket = self.bracket_of(trial.number)
        peers = [t for t in trials.values() if self.bracket_of(t.number) == bracket]
        return halving_decision(
            trial, step, value, peers, self._rungs[bracket], self.reduction_factor, self.loss
        )
