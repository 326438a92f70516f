"""Searcher quality: normalized regret and average rank, ours against the peer libraries.

Run with ``make bench-quality`` (every area) or ``make bench-quality-synthetic`` /
``-sklearn`` / ``-lcbench`` (one area), or ``python benchmarks/quality.py --area ...``.

**What runs.** Every searcher of :data:`SEARCHERS` (ours: ``gp``, ``tpe``, ``genetic``,
``portfolio``, ``random``; the peers through hpo's adapters: ``optuna:tpe``,
``optuna:gp``, ``hyperopt:tpe``, ``skopt:gp``, each with its library's default options)
runs :data:`N_TRIALS` sequential trials with every seed on every problem of the chosen
areas, as one stored comparison per problem (``hpo.compare``, SQLite under
``benchmarks/.cache/``):

* ``synthetic``: Branin, Hartmann-6, Rosenbrock-5, Ackley-5, Ackley-10 and the mixed
  integer/categorical/conditional function; 10 seeds;
* ``sklearn``: SVM on wine, gradient boosting on breast cancer, an MLP on digits (3-fold
  CV accuracy); 5 seeds;
* ``lcbench``: the eight LCBench development tasks (final-epoch validation accuracy of
  the surrogate); 10 seeds. The held-out tasks are never run here.

**What is reported**, at 50 and at 100 trials (read off the same best-so-far curves):
the *normalized regret* (0 = the problem's optimum or best known value, 1 = its reference:
the median random configuration for synthetic problems, the majority-class accuracy for
scikit-learn tasks, the task's worst accuracy for LCBench), averaged over seeds, per problem,
then over the problems of an area and of the whole suite (each problem weighs the same);
and the *average rank* of the searchers (1 = best; per problem and seed the nine searchers
are ranked by best value so far, ties share ranks), averaged the same way. The targets:
our best searcher has the lowest mean regret and the best average rank of all at 50 and at
100 trials, and ``portfolio``'s mean regret is never worse than the median single searcher's
(the other eight) on any problem.

**Parallelism.** Problems are jobs in a process pool (``--jobs``, default: the number of
cores), longest first; each searcher runs single-threaded (BLAS/OpenMP limited to one
thread), so parallel jobs do not slow each other beyond sharing the cores. Wall time per
area is printed (the sum of its jobs' times, i.e. what the area takes on one core, and the
elapsed time of the whole run).

The section is printed and, for a full run (no ``--problems``/``--seeds``/``--searchers``/
``--n-trials`` override), written to ``benchmarks/RESULTS.md`` under "## Searcher quality".
An interrupted run continues with ``--resume`` (stored studies are kept; a complete one is
not rerun); otherwise each area's database starts empty.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

from _results import RESULTS, write_section

HEADING = "## Searcher quality"
N_TRIALS = 100
CHECKPOINTS = (50, 100)
OURS = ("gp", "tpe", "genetic", "portfolio", "random")
PEERS = ("optuna:tpe", "optuna:gp", "hyperopt:tpe", "skopt:gp")
SEARCHERS = OURS + PEERS
CACHE = Path(__file__).with_name(".cache")
LCBENCH_DEV = (3945, 7593, 34539, 126025, 126026, 126029, 146212, 167104)


@dataclass(frozen=True)
class Area:
    """A group of benchmark problems run with the same number of seeds."""

    name: str
    problems: tuple[str, ...]
    seeds: int
    #: rough seconds per (problem, seed) for every searcher together, to schedule longest first
    cost: float


AREAS: dict[str, Area] = {
    a.name: a
    for a in (
        Area(
            "synthetic",
            ("branin", "hartmann6", "rosenbrock5", "ackley5", "ackley10", "mixed"),
            10,
            45,
        ),
        Area("sklearn", ("svm_wine", "gbm_breast_cancer", "mlp_digits"), 5, 250),
        Area("lcbench", tuple(f"lcbench-{t}" for t in LCBENCH_DEV), 10, 45),
    )
}


@dataclass(frozen=True)
class Job:
    """One problem of an area: all searchers x seeds, stored as one comparison."""

    area: str
    problem: str
    seeds: int
    searchers: tuple[str, ...]
    n_trials: int
    storage: str

    @property
    def comparison(self) -> str:
        return f"quality-{self.problem}"


def _quiet() -> None:
    """Silence library chatter (experimental-feature and convergence warnings, Optuna logs)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


def run_job(job: Job) -> float:
    """Run (or continue) one problem's comparison; returns its wall time in seconds."""
    _quiet()
    import hpo

    start = time.perf_counter()
    hpo.compare(
        job.problem,
        list(job.searchers),
        seeds=job.seeds,
        n_trials=job.n_trials,
        storage=job.storage,
        name=job.comparison,
        load_if_exists=True,
    )
    return time.perf_counter() - start


# --- summary -----------------------------------------------------------------------------
@dataclass
class ProblemScores:
    """Mean normalized regret and mean rank per searcher and checkpoint, for one problem."""

    area: str
    problem: str
    regret: dict[int, dict[str, float]]
    rank: dict[int, dict[str, float]]
    n_seeds: int
    n_failed: int


def score(job: Job, checkpoints: Sequence[int]) -> ProblemScores:
    import numpy as np

    import hpo

    result = hpo.load_comparison(job.comparison, job.storage)
    regret = {
        k: {lab: float(np.nanmean(v)) for lab, v in result.normalized_regrets(at=k).items()}
        for k in checkpoints
    }
    rank = {
        k: {lab: float(np.mean(v)) for lab, v in result.ranks_at(k).items()} for k in checkpoints
    }
    failed = int(result.table()["n_failed"].sum())
    return ProblemScores(job.area, job.problem, regret, rank, len(result.seeds), failed)


def _mean(scores: Sequence[ProblemScores], field: str, k: int, label: str) -> float:
    return statistics.fmean(getattr(s, field)[k][label] for s in scores)


def _median_single(s: ProblemScores, k: int, exclude: str = "portfolio") -> float:
    return statistics.median(v for lab, v in s.regret[k].items() if lab != exclude)


def _fmt(x: float) -> str:
    return f"{x:.4f}" if x < 10 else f"{x:.1f}"


def render(
    scores: list[ProblemScores],
    searchers: Sequence[str],
    checkpoints: Sequence[int],
    timing: dict[str, float],
    elapsed: float,
    jobs: int,
) -> str:
    """The markdown section: suite and area summaries, per-problem tables, targets."""
    areas = list(dict.fromkeys(s.area for s in scores))
    sizes = ", ".join(
        f"{a}: {sum(s.area == a for s in scores)} problems x "
        f"{min(s.n_seeds for s in scores if s.area == a)} seeds"
        for a in areas
    )
    lines = [
        HEADING,
        "",
        f"{datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `make bench-quality` ({sizes}"
        f", {max(checkpoints)} trials per study, sequential). Mean normalized regret "
        "(0 = optimum or best known, 1 = reference; lower is better) and average rank "
        f"(1 = best of {len(searchers)}), each problem weighing the same.",
        "",
    ]
    groups = [("suite", scores)] + [(a, [s for s in scores if s.area == a]) for a in areas]
    lines.append("### Summary")
    lines.append("")
    cols = [("regret", k) for k in checkpoints] + [("rank", k) for k in checkpoints]
    lines.append(
        "| searcher | " + " | ".join(f"{g} {f}@{k}" for g, _ in groups for f, k in cols) + " |"
    )
    lines.append("|---" * (1 + len(groups) * len(cols)) + "|")
    order = sorted(searchers, key=lambda lab: _mean(scores, "regret", max(checkpoints), lab))
    for lab in order:
        cells = [
            f"{_mean(group, f, k, lab):.2f}" if f == "rank" else _fmt(_mean(group, f, k, lab))
            for _, group in groups
            for f, k in cols
        ]
        name = f"**{lab}**" if lab in OURS else lab
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Bold: ours. Peers run through hpo's adapters with their libraries' defaults.")
    lines.append("")

    # targets
    lines.append("### Targets")
    lines.append("")
    ours = [lab for lab in searchers if lab in OURS]
    for k in checkpoints:
        regrets = {lab: _mean(scores, "regret", k, lab) for lab in searchers}
        ranks = {lab: _mean(scores, "rank", k, lab) for lab in searchers}
        best_regret = min(regrets, key=lambda lab: regrets[lab])
        best_rank = min(ranks, key=lambda lab: ranks[lab])
        best_ours = min(ours, key=lambda lab: regrets[lab]) if ours else None
        peers = [lab for lab in searchers if lab not in OURS]
        best_peer = min(peers, key=lambda lab: regrets[lab]) if peers else None
        met = best_ours is not None and best_regret == best_ours and best_rank == best_ours
        detail = (
            f"lowest regret: {best_regret} ({regrets[best_regret]:.4f}); best rank: "
            f"{best_rank} ({ranks[best_rank]:.2f})"
        )
        if best_peer is not None and best_ours is not None:
            detail += (
                f"; our best {best_ours} {regrets[best_ours]:.4f} / rank "
                f"{ranks[best_ours]:.2f} vs best peer {best_peer} {regrets[best_peer]:.4f} / "
                f"rank {ranks[best_peer]:.2f}"
            )
        lines.append(
            f"- At {k} trials, our best searcher has the lowest regret and best rank: "
            f"**{'met' if met else 'NOT MET'}** ({detail})."
        )
    if "portfolio" in searchers and len(searchers) > 2:
        for k in checkpoints:
            worse = [
                f"{s.problem} ({s.regret[k]['portfolio']:.4f} > {_median_single(s, k):.4f})"
                for s in scores
                if s.regret[k]["portfolio"] > _median_single(s, k)
            ]
            verdict = "met" if not worse else "NOT MET"
            tail = f"; worse on {', '.join(worse)}" if worse else ""
            lines.append(
                f"- At {k} trials, portfolio is never worse than the median single searcher: "
                f"**{verdict}** ({len(scores) - len(worse)}/{len(scores)} problems{tail})."
            )
    lines.append("")

    # per problem
    lines.append(
        f"### Per problem: mean normalized regret at {' / '.join(map(str, checkpoints))} trials"
    )
    lines.append("")
    lines.append("| problem | " + " | ".join(searchers) + " |")
    lines.append("|---" * (1 + len(searchers)) + "|")
    for s in scores:
        best = {k: min(s.regret[k].values()) for k in checkpoints}
        cells = []
        for lab in searchers:
            vals = [
                (
                    f"**{_fmt(s.regret[k][lab])}**"
                    if s.regret[k][lab] == best[k]
                    else _fmt(s.regret[k][lab])
                )
                for k in checkpoints
            ]
            cells.append(" / ".join(vals))
        fail = f" ({s.n_failed} failed trials)" if s.n_failed else ""
        lines.append(f"| {s.problem}{fail} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Bold: the lowest regret on that problem at that budget.")
    lines.append("")
    lines.append(
        "Time per area (sum of its problems' wall times, i.e. on one core): "
        + ", ".join(f"{a} {timing.get(a, 0.0) / 60:.1f} min" for a in areas)
        + f"; whole run {elapsed / 60:.1f} min elapsed with {jobs} parallel jobs."
    )
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------
def _jobs(args: argparse.Namespace) -> list[Job]:
    out = []
    for name in args.area or list(AREAS):
        area = AREAS[name]
        problems = [p for p in area.problems if not args.problems or p in args.problems]
        storage = f"sqlite:///{args.cache / f'quality-{name}.db'}"
        for p in problems:
            out.append(
                Job(
                    name,
                    p,
                    args.seeds or area.seeds,
                    tuple(args.searchers or SEARCHERS),
                    args.n_trials,
                    storage,
                )
            )
    return out


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--area", action="append", choices=list(AREAS), help="repeatable")
    parser.add_argument("--problems", nargs="+", help="only these problems of the areas")
    parser.add_argument("--searchers", nargs="+", help=f"default: {' '.join(SEARCHERS)}")
    parser.add_argument("--seeds", type=int, help="seeds per problem (default: per area)")
    parser.add_argument("--n-trials", type=int, default=N_TRIALS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the databases go")
    parser.add_argument("--resume", action="store_true", help="keep and continue stored runs")
    args = parser.parse_args(argv)
    if args.n_trials < 1:
        parser.error("--n-trials must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    jobs = _jobs(args)
    if not jobs:
        print("no problems selected", file=sys.stderr)
        return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        for name in {j.area for j in jobs}:
            for suffix in ("", "-wal", "-shm", "-journal"):
                (args.cache / f"quality-{name}.db{suffix}").unlink(missing_ok=True)
    # single-threaded numerics in every worker (inherited by spawned processes)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    order = sorted(jobs, key=lambda j: -AREAS[j.area].cost * j.seeds)
    timing: dict[str, float] = {}
    start = time.perf_counter()
    print(f"{len(order)} problems, {args.jobs} parallel jobs", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        pending: dict[Future[float], Job] = {pool.submit(run_job, j): j for j in order}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                job = pending.pop(fut)
                seconds = fut.result()
                timing[job.area] = timing.get(job.area, 0.0) + seconds
                print(
                    f"  [{job.area}] {job.problem}: {seconds / 60:.1f} min "
                    f"({len(pending)} left, {(time.perf_counter() - start) / 60:.1f} min elapsed)",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.perf_counter() - start
    _quiet()
    checkpoints = [k for k in CHECKPOINTS if k <= args.n_trials] or [args.n_trials]
    scores = [score(j, checkpoints) for j in jobs]
    section = render(
        scores, list(args.searchers or SEARCHERS), checkpoints, timing, elapsed, args.jobs
    )
    print(section)
    full = not (args.problems or args.seeds or args.searchers or args.n_trials != N_TRIALS)
    if full:
        if set(AREAS) - {j.area for j in jobs}:
            print(
                f"(one area only: not written to {RESULTS.name}; run make bench-quality)",
                file=sys.stderr,
            )
        else:
            write_section(HEADING, section)
            print(f"written to {RESULTS}", file=sys.stderr)
    else:
        print(f"(subset run: not written to {RESULTS.name})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
