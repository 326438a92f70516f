"""Comparisons: several searchers x several seeds on one problem and budget, stored, and
summarized with honest statistics.

>>> result = hpo.compare("branin", ["random", "tpe"], seeds=5, n_trials=30,
...                      storage="sqlite:///hpo.db", name="branin-rt")    # doctest: +SKIP
>>> result.table()                                                      # doctest: +SKIP
>>> result.figure().show()                                              # doctest: +SKIP
>>> hpo.load_comparison("branin-rt", "sqlite:///hpo.db").table()        # doctest: +SKIP

**What is stored.** A comparison is a first-class storage record (name, problem,
direction, budget, the searchers with their options, the seeds, the problem's optimum and
reference when known) plus one ordinary study per (searcher, seed), named
``<comparison>/<label>/seed<k>`` and seeded with ``k``; every seed is run by every
searcher, so results pair by seed.

**Two steps.** :func:`plan_comparison` validates the definition and stores the record
and every member study (no trials); :func:`run_comparison` runs a stored comparison by
name, rebuilding its problem from the registry (so a server or a worker can run what a
client planned). :func:`compare` is the one and the other.

**Resuming.** ``compare(..., load_if_exists=True)`` with the same name, problem, budget,
searchers and seeds continues a stored comparison, as does ``run_comparison(name, ...)``:
a complete study is skipped, a partial one runs only its missing trials (finished =
COMPLETE, PRUNED or FAILED), a missing one is created. Running it twice therefore never
adds trials beyond ``n_trials`` per study.

The summary (curves, regret, ranks, tests) is :class:`hpo.comparison_result.ComparisonResult`.
"""

from __future__ import annotations

import numbers
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.comparison_result import (
    FINISHED,
    TABLE_COLUMNS,
    ComparisonResult,
    Curves,
    SearcherCurves,
)
from hpo.exceptions import DuplicateComparisonError
from hpo.searchers import searcher_class
from hpo.storage import ComparisonRecord, Storage, get_storage

if TYPE_CHECKING:
    from hpo.benchmarks import Problem
    from hpo.executors.base import Executor
    from hpo.study import Study

__all__ = [
    "TABLE_COLUMNS",
    "ComparisonResult",
    "Curves",
    "SearcherCurves",
    "compare",
    "load_comparison",
    "plan_comparison",
    "run_comparison",
]

SearcherLike = str | tuple[str, str, Mapping[str, Any] | None]


# --- running -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    label: str
    searcher: str
    kwargs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "searcher": self.searcher, "kwargs": self.kwargs}


def _entries(searchers: Sequence[SearcherLike]) -> list[_Entry]:
    """Searchers as ``(label, name, kwargs)``, validated (registered names, unique labels)."""
    if isinstance(searchers, str) or not isinstance(searchers, Sequence) or not searchers:
        raise ValueError(
            "searchers must be a non-empty list of names or (label, name, kwargs) triples, "
            f"got {searchers!r}"
        )
    entries = []
    for item in searchers:
        if isinstance(item, str):
            entry = _Entry(item, item, {})
        elif isinstance(item, tuple | list) and len(item) == 3:
            label, name, kwargs = item
            entry = _Entry(str(label), str(name), dict(kwargs or {}))
        else:
            raise ValueError(
                f"a searcher is a name or a (label, name, kwargs) triple, got {item!r}"
            )
        if not entry.label or "/" in entry.label:
            raise ValueError(f"searcher labels are non-empty and have no '/', got {entry.label!r}")
        searcher_class(entry.searcher)  # UnknownSearcherError, with suggestions
        entries.append(entry)
    labels = [e.label for e in entries]
    if len(set(labels)) != len(labels):
        raise ValueError(
            f"searcher labels must be unique, got {labels}; give repeated searchers labels "
            "with (label, name, kwargs)"
        )
    return entries


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of ints, got {seeds!r}")
    if isinstance(seeds, numbers.Integral):  # numpy integers too
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(int(seeds)))
    assert not isinstance(seeds, int)
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct ints, at least one, got {out}")
    return out


def _problem(problem: Problem | str) -> Problem:
    from hpo.benchmarks import Problem, get_problem

    if isinstance(problem, str):
        return get_problem(problem)
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a Problem or a registered name, got {problem!r}")
    return problem


def study_name(comparison: str, label: str, seed: int) -> str:
    """The name of the study running ``label`` with ``seed`` in ``comparison``."""
    return f"{comparison}/{label}/seed{seed}"


@dataclass(frozen=True)
class _Definition:
    """A comparison's validated definition."""

    problem: Problem
    entries: list[_Entry]
    seeds: list[int]
    n_trials: int
    name: str

    @classmethod
    def validate(
        cls,
        problem: Problem | str,
        searchers: Sequence[SearcherLike],
        seeds: int | Iterable[int],
        n_trials: int,
        name: str | None,
    ) -> _Definition:
        prob = _problem(problem)
        entries = _entries(searchers)
        seed_list = _seeds(seeds)
        if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
            raise ValueError(f"n_trials must be a positive int, got {n_trials!r}")
        n_trials = int(n_trials)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        name = name or f"{prob.name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        return cls(prob, entries, seed_list, n_trials, name)


def plan_comparison(
    problem: Problem | str,
    searchers: Sequence[SearcherLike],
    *,
    seeds: int | Iterable[int],
    n_trials: int,
    storage: Storage | str,
    name: str | None = None,
    load_if_exists: bool = False,
) -> ComparisonRecord:
    """Store the comparison ``name`` and every member study (one per searcher and seed,
    no trials yet), and return its record; :func:`run_comparison` then runs it.

    Arguments are those of :func:`compare`, all validated here. With
    ``load_if_exists=True`` planning an existing comparison again with the same
    definition returns its record and only adds members that are missing (a deleted
    study), so planning is idempotent; a different definition under that name is a
    ``ValueError``, and without ``load_if_exists`` an existing name is a
    :class:`~hpo.exceptions.DuplicateComparisonError`.

    >>> record = hpo.plan_comparison("branin", ["random", "tpe"], seeds=5, n_trials=30,
    ...                              storage="sqlite:///hpo.db", name="b")  # doctest: +SKIP
    >>> len(record.members)                                                  # doctest: +SKIP
    10
    """
    definition = _Definition.validate(problem, searchers, seeds, n_trials, name)
    return _plan(get_storage(storage), definition, load_if_exists)


def _plan(store: Storage, definition: _Definition, load_if_exists: bool) -> ComparisonRecord:
    prob, entries, seed_list = definition.problem, definition.entries, definition.seeds
    name, n_trials = definition.name, definition.n_trials
    spec = {"searchers": [e.to_json() for e in entries], "seeds": seed_list}
    try:
        record = store.create_comparison(
            name,
            problem=prob.name,
            direction=prob.direction,
            n_trials=n_trials,
            spec=spec,
            optimum=prob.optimum,
            reference=prob.reference,
        )
    except DuplicateComparisonError:
        if not load_if_exists:
            raise
        record = store.get_comparison(name)
        _check_same(record, prob, n_trials, spec)
    linked = {(m.label, m.seed) for m in record.members}
    for entry in entries:
        for seed in seed_list:
            if (entry.label, seed) not in linked:
                _member_study(store, record, prob, entry, seed, linked=False)
    return store.get_comparison(name)


def run_comparison(
    name: str,
    storage: Storage | str,
    *,
    problem: Problem | str | None = None,
    executor: Executor | str | None = None,
    n_workers: int = 1,
    timeout_per_study: float | None = None,
    progress: bool = False,
) -> ComparisonResult:
    """Run the planned comparison ``name`` to the end and return its summary.

    Only members with trials left run, each for its missing trials (finished = COMPLETE,
    PRUNED or FAILED), so an interrupted run resumes and a second run adds nothing;
    members missing from an interrupted plan are created. Studies run one after the
    other with ``executor`` / ``n_workers`` and at most ``timeout_per_study`` seconds.

    The problem is rebuilt from the stored record by its registered name
    (:func:`hpo.benchmarks.get_problem`). A comparison planned with an unregistered
    :class:`~hpo.benchmarks.Problem` needs that problem again as ``problem=``; it must
    have the stored name and direction (and, checked per study, the same space).
    """
    store = get_storage(storage)
    record = store.get_comparison(name)
    prob = _stored_problem(record, problem)
    entries = [
        _Entry(str(s["label"]), str(s["searcher"]), dict(s.get("kwargs") or {}))
        for s in record.spec.get("searchers", [])
    ]
    members = {(m.label, m.seed): m for m in record.members}
    for entry in entries:
        for seed in record.spec.get("seeds", []):
            member = members.get((entry.label, seed))
            if (
                member is not None
                and store.count_trials(member.study_id, FINISHED) >= record.n_trials
            ):
                continue  # complete: not even loaded
            study = _member_study(store, record, prob, entry, seed, linked=member is not None)
            remaining = record.n_trials - store.count_trials(study.study_id, FINISHED)
            if remaining > 0:
                study.optimize(
                    n_trials=remaining,
                    timeout=timeout_per_study,
                    executor=executor,
                    n_workers=n_workers,
                    progress=progress,
                )
    return ComparisonResult(store, store.get_comparison(name))


def compare(
    problem: Problem | str,
    searchers: Sequence[SearcherLike],
    *,
    seeds: int | Iterable[int] = 10,
    n_trials: int,
    storage: Storage | str | None = None,
    name: str | None = None,
    executor: Executor | str | None = None,
    n_workers: int = 1,
    timeout_per_study: float | None = None,
    load_if_exists: bool = False,
    progress: bool = False,
) -> ComparisonResult:
    """Run every searcher with every seed on ``problem`` for ``n_trials`` trials each,
    store it all as the comparison ``name``, and return its summary.

    ``problem`` is a :class:`~hpo.benchmarks.Problem` or a registered name (``"branin"``);
    ``searchers`` are registered names or ``(label, name, kwargs)`` triples (to compare
    one searcher under several options); ``seeds`` is a count (seeds ``0..k-1``) or the
    seeds themselves. Studies run one after the other, each with ``executor`` /
    ``n_workers`` (as in :meth:`~hpo.study.Study.optimize`) and at most
    ``timeout_per_study`` seconds. With ``load_if_exists=True`` a stored comparison of
    that name is resumed (see the module docstring); otherwise an existing name raises
    :class:`~hpo.exceptions.DuplicateComparisonError`.

    It is :func:`plan_comparison` followed by :func:`run_comparison`.
    """
    definition = _Definition.validate(problem, searchers, seeds, n_trials, name)
    store = get_storage(storage)
    record = _plan(store, definition, load_if_exists)
    return run_comparison(
        record.name,
        store,
        problem=definition.problem,
        executor=executor,
        n_workers=n_workers,
        timeout_per_study=timeout_per_study,
        progress=progress,
    )


def _member_study(
    store: Storage,
    record: ComparisonRecord,
    problem: Problem,
    entry: _Entry,
    seed: int,
    *,
    linked: bool,
) -> Study:
    """The study running ``entry`` with ``seed`` in the comparison (created if missing,
    checked against the definition, linked to the comparison unless ``linked``)."""
    from hpo.study import create_study

    study = create_study(
        problem.objective,
        searcher=entry.searcher,
        searcher_kwargs=entry.kwargs,
        seed=seed,
        name=study_name(record.name, entry.label, seed),
        storage=store,
        load_if_exists=True,
    )
    if study.seed != seed or study.searcher_kwargs != entry.kwargs:
        raise ValueError(
            f"study {study.name!r} exists with seed {study.seed} and options "
            f"{study.searcher_kwargs}, not seed {seed} and {entry.kwargs}"
        )
    if not linked:
        store.add_comparison_study(
            record.comparison_id, study.study_id, label=entry.label, seed=seed
        )
    return study


def _stored_problem(record: ComparisonRecord, problem: Problem | str | None) -> Problem:
    """The problem to run ``record`` on: ``problem`` if given, else the registered one of
    the stored name; either way it must be the stored problem."""
    from hpo.benchmarks import available_problems

    if problem is None:
        if record.problem not in available_problems():
            raise ValueError(
                f"comparison {record.name!r} is on the problem {record.problem!r}, which is "
                "not registered, so it cannot be rebuilt by name: pass the same Problem "
                f"again with run_comparison({record.name!r}, storage, problem=...), or "
                "register it with hpo.benchmarks.register_problem"
            )
        problem = record.problem
    prob = _problem(problem)
    if (prob.name, prob.direction) != (record.problem, record.direction):
        raise ValueError(
            f"comparison {record.name!r} is on the problem {record.problem!r} "
            f"({record.direction}), not {prob.name!r} ({prob.direction}); pass the problem it "
            "was planned with"
        )
    return prob


def _check_same(
    record: ComparisonRecord, problem: Problem, n_trials: int, spec: dict[str, Any]
) -> None:
    asked = {"problem": problem.name, "n_trials": n_trials, **spec}
    stored = {"problem": record.problem, "n_trials": record.n_trials, **record.spec}
    differ = [k for k in asked if asked[k] != stored.get(k)]
    if differ:
        detail = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {asked[k]!r}" for k in differ)
        raise ValueError(
            f"comparison {record.name!r} exists with a different definition ({detail}); "
            "resume it with the same arguments or choose another name"
        )


def load_comparison(name: str, storage: Storage | str) -> ComparisonResult:
    """The summary of the stored comparison ``name``
    (:class:`~hpo.exceptions.ComparisonNotFoundError` if none)."""
    store = get_storage(storage)
    return ComparisonResult(store, store.get_comparison(name))
