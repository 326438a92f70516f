"""Portfolio: several searchers on one study, each ask given to the one a bandit favours.

Every member is a full searcher built from the registry with the portfolio's space and
direction and its own seed (derived from the portfolio's seed and the member's position).
All members are told every finished trial, so each one models the whole study, whoever
proposed the points; only the member chosen for an ask does the work of proposing (GP
fits at ask time, so telling it is an append).

* **Reward.** When a trial proposed by member ``m`` finishes, ``m`` is credited with
  ``q``: the fraction of the study's earlier complete losses the trial beats (ties count
  half), so a new best-so-far earns 1, a median point 0.5, and the reward needs no scale
  (it is the improvement of the trial *in rank* over the losses seen so far). FAILED,
  PRUNED and non-finite trials earn 0; the very first complete trial earns nothing (there
  is nothing to compare it with). ``reward_power`` (default 1) raises ``q`` to a power,
  crediting mostly the points near the top; measured in ``benchmarks/RESULTS.md``
  (portfolio ablations): 3 helped on the tuning half and hurt on the checking half, so
  the default stays 1.
* **Recency.** Discounted Thompson sampling (:mod:`hpo.searchers._bandit`): each reward
  first multiplies every member's discounted reward sum and count by ``discount``
  (0.95: the last ~20 rewards carry most of the weight), so a member that stopped
  improving loses its lead.
* **Exploration.** Each ask draws ``theta ~ Beta(1 + 3 S, 1 + 3 (N - S))`` per live
  member (a reward counts as three coin flips: a uniform rank has a third of a coin's
  variance) and takes the largest (exact ties broken by the seeded generator). A member with
  little recent evidence keeps a wide posterior and is tried again now and then.
* **Startup.** Until every live member has been asked ``n_startup`` times (default 2),
  the least-asked member is chosen (ties: seeded generator), so every member is tried.
  The members' own initial designs (TPE's random start, GP's Sobol design) fill up from
  the shared trials, since every member is told everything.
* **Attribution.** A suggestion of the portfolio *is* its member's suggestion, same id
  (``Suggestion.id``), so the trial that answers it reaches that member with the id the
  member issued, and the other members (told it too) see an observation. The portfolio
  remembers, per suggestion id, which member proposed it; a trial is credited, by its
  ``suggestion_id``, when it is told, in whatever order trials finish. A trial the
  portfolio never proposed (enqueued, another process: no id, or one it never issued) is
  told to all members and credited to nobody. Each suggestion's ``info`` carries
  ``{"member": label}`` (the registry name, ``name#i`` when a name appears twice) on top
  of the member's own info.
* **Pending asks.** Members avoid their own outstanding asks; across members, a proposal
  equal to a configuration already asked or evaluated (a 64-bit digest of its canonical
  JSON) is set aside and another member is asked (bandit choice among those not yet
  tried for this ask, then among all live ones). Only after three tries per member
  without a new point (a space smaller than the study) is the first duplicate returned.
  A set-aside proposal stays an outstanding ask of its member, never answered: members
  forget such asks only when their bounded pending lists overflow.
* **Dropping.** A member that raises :class:`~hpo.exceptions.SearchSpaceExhausted`, or
  any other error in ``ask`` or ``tell``, is dropped for the rest of the study (an error
  also emits a warning); the drop is saved in the state. When every member is dropped,
  ``ask`` raises ``SearchSpaceExhausted`` if all were exhausted, else a
  :class:`~hpo.exceptions.SearcherError` listing the reasons.
* **State.** Each member's ``state_dict``, the attribution map (suggestion id ->
  member, one entry per accepted ask), the digests of the accepted configurations (for
  the duplicate check; ~60 bytes of JSON per trial in all), the per-member ask counts and
  the drops. The bandit statistics and the losses are rebuilt by replaying the told
  trials, so a rebuilt portfolio continues identically (when trials are replayed in the
  order they were first told). Version 2 keys the attribution by suggestion id; a
  version 1 state (keyed by configuration digest) still loads, its trials then credit
  nobody. Members share the study's counter under the key prefix ``portfolio.<i>/``, so
  two members with the same name never collide.

**Define-by-run** (no space): members are built define-by-run (one that cannot be, such as
``grid``, is refused when the portfolio is built); each ask goes to a member as usual, and
the trial's ``trial.suggest_*`` calls are answered by that member (its ask's id says
which), so ``gp`` and ``genetic`` members use the space seen so far. The duplicate check
is skipped: configurations only exist once the trial has run.

Members (``members=[name | [name, kwargs], ...]``) default to ``["tpe", "gp", "random"]``:
GP is the strongest on small continuous budgets, TPE on mixed, conditional and longer
runs, and random search is the safety net that keeps the portfolio near random at worst
and feeds the models diverse points. ``genetic`` is left out of the default: its breeding
starts only after ``population_size`` of *its own* asks, which a shared budget rarely
gives it. Members that own early stopping (``on_report``) are refused.

>>> kwargs = {"members": ["tpe", ["random", {"sobol": True}]]}
>>> study = hpo.create_study(f, searcher="portfolio", searcher_kwargs=kwargs)  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
import warnings
from typing import Any

import numpy as np

from hpo.exceptions import SearcherError, SearchSpaceExhausted, UnknownSearcherError
from hpo.searchers._bandit import DiscountedThompson
from hpo.searchers.base import Counter, Searcher, Suggestion
from hpo.space import Param, Space
from hpo.trial import FrozenTrial

DEFAULT_MEMBERS: tuple[str, ...] = ("tpe", "gp", "random")
_RESERVED = ("space", "direction", "seed")
_TRIES_PER_MEMBER = 3  # proposals per member and ask before a duplicate is accepted


def _digest(config: dict[str, Any]) -> str:
    key = json.dumps(config, sort_keys=True, default=repr)
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _prefixed(counter: Counter, prefix: str, key: str) -> int:
    return counter(f"{prefix}/{key}")


def _member_seed(seed: int | None, index: int) -> int | None:
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])


def _normalize_members(members: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(members, str | bytes) or not isinstance(members, list | tuple) or not members:
        raise ValueError(
            "portfolio: `members` must be a non-empty list of searcher names or "
            f"[name, kwargs] pairs, got {members!r}"
        )
    out: list[tuple[str, dict[str, Any]]] = []
    for pos, entry in enumerate(members):
        if isinstance(entry, str):
            name, kwargs = entry, {}
        elif (
            isinstance(entry, list | tuple)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], dict)
        ):
            name, kwargs = entry[0], dict(entry[1])
        else:
            raise ValueError(
                f"portfolio: member {pos} must be a searcher name or a [name, kwargs] pair, "
                f"got {entry!r}"
            )
        if name == "portfolio":
            raise ValueError("portfolio: a portfolio cannot be a member of a portfolio")
        reserved = [k for k in kwargs if k in _RESERVED]
        if reserved:
            raise ValueError(
                f"portfolio: member {pos} ({name!r}) sets {', '.join(map(repr, reserved))}; "
                "the portfolio passes its own space, direction and (derived) seed"
            )
        try:
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"portfolio: member {pos} ({name!r}) options must be JSON-serializable, "
                f"got {kwargs!r} ({exc})"
            ) from exc
        out.append((name, kwargs))
    return out


class PortfolioSearcher(Searcher):
    """Several searchers behind a discounted Thompson-sampling bandit (see the module
    docstring).

    Options: ``members`` (registry names or ``[name, kwargs]`` pairs; default
    ``["tpe", "gp", "random"]``), ``discount`` (in ``(0, 1]``, default 0.95; 1 keeps
    every reward at full weight), ``n_startup`` (asks per member before the bandit
    chooses, default 2) and ``reward_power`` (>= 1, default 1: the rank reward is raised
    to it).
    """

    name = "portfolio"
    #: define-by-run when every member is (all built-in defaults are)
    supports_define_by_run = True
    #: 2: attribution by suggestion id (version 1 states, by config digest, still load)
    state_version = 2

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        members: list[Any] | None = None,
        discount: float = 0.95,
        n_startup: int = 2,
        reward_power: float = 1.0,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self._define_by_run = space is None  # members then sample define-by-run too
        specs = _normalize_members(list(DEFAULT_MEMBERS) if members is None else members)
        ok = isinstance(discount, int | float) and not isinstance(discount, bool)
        if not ok or not math.isfinite(discount) or not 0 < discount <= 1:
            raise ValueError(f"portfolio: `discount` must be a number in (0, 1], got {discount!r}")
        ok = isinstance(reward_power, int | float) and not isinstance(reward_power, bool)
        if not ok or not math.isfinite(reward_power) or reward_power < 1:
            raise ValueError(
                f"portfolio: `reward_power` must be a number >= 1, got {reward_power!r}"
            )
        if isinstance(n_startup, bool) or not isinstance(n_startup, int) or n_startup < 0:
            raise ValueError(f"portfolio: `n_startup` must be an int >= 0, got {n_startup!r}")
        self.members = [[name, kwargs] for name, kwargs in specs]
        self.discount = float(discount)
        self.n_startup = int(n_startup)
        self.reward_power = float(reward_power)
        self._members = [self._build(pos, name, kwargs) for pos, (name, kwargs) in enumerate(specs)]
        names = [name for name, _ in specs]
        self.labels = [
            name if names.count(name) == 1 else f"{name}#{pos}" for pos, name in enumerate(names)
        ]
        k = len(self._members)
        self.bandit_ = DiscountedThompson(k, discount=self.discount)
        self._origin: dict[str, int] = {}  # id of an accepted suggestion -> its member
        self._asked: dict[str, None] = {}  # digests of accepted configs (ordered set)
        self._told: set[str] = set()  # digests of told configs
        self._losses: list[float] = []  # sorted complete losses
        self._n_asks = [0] * k
        self._dropped: dict[int, str] = {}
        self.credited_ = [0] * k  # rewards credited per member (rebuilt from trials)

    def _build(self, pos: int, name: str, kwargs: dict[str, Any]) -> Searcher:
        from hpo.searchers import make_searcher

        try:
            member = make_searcher(
                name,
                None if self._define_by_run else self.space,
                direction=self.direction,
                seed=_member_seed(self.seed, pos),
                **kwargs,
            )
        except (SearcherError, ValueError, TypeError) as exc:
            message = f"portfolio: member {pos} ({name!r}): {exc}"
            if isinstance(exc, UnknownSearcherError):
                raise UnknownSearcherError(message) from exc
            if isinstance(exc, SearcherError):
                raise SearcherError(message) from exc
            raise ValueError(message) from exc
        if type(member).on_report is not Searcher.on_report:
            raise SearcherError(
                f"portfolio: member {pos} ({name!r}) owns early stopping (on_report); "
                "a portfolio cannot share one stopping schedule between members"
            )
        return member

    # --- introspection ---------------------------------------------------------------
    @property
    def startup_trials(self) -> int:
        """Every member asked ``n_startup`` times, and the members' own start-ups."""
        own = self.n_startup * len(self._members)
        return max([own, *(m.startup_trials for m in self._members)])

    @property
    def asks_per_member_(self) -> dict[str, int]:
        """How many suggestions each member has had accepted so far."""
        return dict(zip(self.labels, self._n_asks, strict=True))

    @property
    def dropped_(self) -> dict[str, str]:
        """Dropped members and why."""
        return {self.labels[i]: reason for i, reason in sorted(self._dropped.items())}

    def bind_counter(self, counter: Counter | None) -> None:
        super().bind_counter(counter)
        for pos, member in enumerate(self._members):
            prefix = f"{self.name}.{pos}"
            member.bind_counter(
                None if counter is None else functools.partial(_prefixed, counter, prefix)
            )

    # --- asking ------------------------------------------------------------------------
    def _ask(self, n: int) -> list[Suggestion]:
        return [self._ask_one() for _ in range(n)]

    def _ask_one(self) -> Suggestion:
        tried: set[int] = set()
        duplicate: tuple[int, Suggestion] | None = None
        for _ in range(_TRIES_PER_MEMBER * len(self._members)):
            live = [i for i in range(len(self._members)) if i not in self._dropped]
            if not live:
                break
            # members not yet tried for this ask come first; then any live one again
            pos = self._choose([i for i in live if i not in tried] or live)
            tried.add(pos)
            try:
                suggestion = self._members[pos].ask(1)[0]
            except SearchSpaceExhausted:
                self._dropped[pos] = "exhausted"
                continue
            except Exception as exc:  # a broken member is dropped, not fatal
                self._drop(pos, "ask", exc)
                continue
            digest = _digest(suggestion.config)
            if self._define_by_run:  # configurations come later, parameter by parameter
                return self._accept(pos, suggestion)
            if digest in self._asked or digest in self._told:
                duplicate = duplicate or (pos, suggestion)
                continue
            return self._accept(pos, suggestion)
        if duplicate is not None:  # the space is smaller than the study: repeat a point
            return self._accept(*duplicate)
        raise self._nothing_left()

    def _choose(self, candidates: list[int]) -> int:
        rng = self._rng_for(self._next_index("pick"))
        starting = [i for i in candidates if self._n_asks[i] < self.n_startup]
        if starting:
            least = min(self._n_asks[i] for i in starting)
            tied = [i for i in starting if self._n_asks[i] == least]
            return tied[int(rng.integers(len(tied)))]
        return self.bandit_.pick(candidates, rng)

    def _suggest_param_for(
        self,
        suggestion_id: str | None,
        trial_number: int,
        config: dict[str, Any],
        name: str,
        param: Param,
    ) -> Any:
        """Define-by-run: the member that made the trial's ask samples its parameters (an
        enqueued trial's go to the first live member)."""
        pos = None if suggestion_id is None else self._origin.get(suggestion_id)
        if pos is None or pos in self._dropped:
            live = [i for i in range(len(self._members)) if i not in self._dropped]
            if not live:
                raise self._nothing_left()
            pos = live[0]
        return self._members[pos].suggest_param(
            trial_number, config, name, param, suggestion_id=suggestion_id
        )

    def _accept(self, pos: int, suggestion: Suggestion) -> Suggestion:
        """The member's suggestion as the portfolio's: same id, ``info`` naming the member."""
        if not self._define_by_run:
            self._asked[_digest(suggestion.config)] = None
        self._origin[suggestion.id] = pos
        self._n_asks[pos] += 1
        info = {**suggestion.info, "member": self.labels[pos]}
        return Suggestion(
            suggestion.config, suggestion.budget, suggestion.parent, info, suggestion.id
        )

    def _drop(self, pos: int, where: str, exc: Exception) -> None:
        reason = f"error in {where}: {type(exc).__name__}: {exc}"
        self._dropped[pos] = reason
        warnings.warn(
            f"portfolio: member {self.labels[pos]!r} dropped for the rest of the study ({reason})",
            RuntimeWarning,
            stacklevel=4,
        )

    def _nothing_left(self) -> Exception:
        if all(reason == "exhausted" for reason in self._dropped.values()):
            return SearchSpaceExhausted(
                f"portfolio: every member has exhausted the space ({', '.join(self.labels)})"
            )
        reasons = "; ".join(f"{label}: {why}" for label, why in self.dropped_.items())
        return SearcherError(f"portfolio: every member was dropped ({reasons})")

    # --- telling -----------------------------------------------------------------------
    def _observe_running(self, trial: FrozenTrial) -> None:
        for pos, member in enumerate(self._members):
            if pos not in self._dropped:
                member.observe_running(trial)

    def _tell(self, trial: FrozenTrial) -> None:
        for pos, member in enumerate(self._members):
            if pos in self._dropped:
                continue
            try:
                member.tell(trial)
            except Exception as exc:  # a broken member is dropped, not fatal
                self._drop(pos, "tell", exc)
        params = dict(trial.params)
        if not self.space.violations(params):
            params = self.space.canonical(params)
        digest = _digest(params)
        self._told.add(digest)
        loss = self._loss(trial)
        origin = None if trial.suggestion_id is None else self._origin.get(trial.suggestion_id)
        if origin is not None:
            reward = None if loss is not None and not self._losses else self._reward(loss)
            if reward is not None:
                self.bandit_.update(origin, reward)
                self.credited_[origin] += 1
        if loss is not None:
            bisect.insort(self._losses, loss)

    def _reward(self, loss: float | None) -> float:
        """The fraction of earlier complete losses ``loss`` beats (ties half); 0 for a
        trial without a loss."""
        if loss is None:
            return 0.0
        low = bisect.bisect_left(self._losses, loss)
        high = bisect.bisect_right(self._losses, loss)
        beaten = (len(self._losses) - high + 0.5 * (high - low)) / len(self._losses)
        return float(beaten**self.reward_power)

    # --- state -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        members: list[dict[str, Any] | None] = []
        for member in self._members:
            try:
                members.append(member.state_dict())
            except Exception:  # a broken (dropped) member saves nothing
                members.append(None)
        return {
            "members": members,
            "origin": dict(self._origin),
            "asked": list(self._asked),
            "n_asks": list(self._n_asks),
            "dropped": {str(i): reason for i, reason in self._dropped.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        version = state.get("version")
        if type(version) is int and version == 1:
            # attribution by config digest: the digests still count as asked (duplicate
            # check); trials asked before now credit nobody
            origin = state.get("origin", {})
            state = {**state, "version": self.state_version, "origin": {}, "asked": list(origin)}
        super().load_state_dict(state)

    def _load_state(self, state: dict[str, Any]) -> None:
        members = state.get("members", [None] * len(self._members))
        if len(members) != len(self._members):
            raise SearcherError(
                f"portfolio: the saved state has {len(members)} members, this portfolio has "
                f"{len(self._members)} ({', '.join(self.labels)})"
            )
        for label, member, saved in zip(self.labels, self._members, members, strict=True):
            if saved is None:
                continue
            try:
                member.load_state_dict(saved)
            except SearcherError as exc:
                raise SearcherError(f"portfolio member {label!r}: {exc}") from exc
        self._origin = {str(k): int(v) for k, v in state.get("origin", {}).items()}
        self._asked = dict.fromkeys(str(d) for d in state.get("asked", []))
        self._n_asks = [int(v) for v in state.get("n_asks", [0] * len(self._members))]
        self._dropped = {int(k): str(v) for k, v in state.get("dropped", {}).items()}
