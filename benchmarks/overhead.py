"""Searcher overhead: median milliseconds per ask+tell, ours against the peers.

Run with ``make bench-overhead`` (or ``python benchmarks/overhead.py``). For each searcher,
one in-memory study (``hpo.create_study(space=..., searcher=name, seed=0)``) is driven by
``study.ask()`` / ``study.tell(trial, value)`` on Hartmann-6 (6 continuous parameters; or
``--problem mixed``) with its cheap analytic objective. Each ask+tell pair is timed with
``time.perf_counter`` (the objective is evaluated outside the timed span), and the table
reports the median over the 10 trials ending at each checkpoint (trials 91-100, 191-200,
291-300, 991-1,000). GP-class searchers (``gp``, ``optuna:gp``, ``skopt:gp``), whose cost
grows cubically with the trials, run to 300 trials; the others (``tpe``, ``genetic``,
``random``, ``optuna:tpe``, ``hyperopt:tpe``) to 1,000.

Peers run through hpo's adapters, i.e. through the same study machinery as ours, so the
comparison isolates the searcher. ``optuna:tpe`` and ``optuna:gp`` are also measured
natively (``optuna.create_study(sampler=...)``, in-memory storage,
``study.ask(distributions)`` / ``study.tell``), to show whether the adapter inflates their
cost. The two targets compare ``gp`` with ``optuna:gp`` at 200 trials and ``tpe`` with
``optuna:tpe`` at 1,000; each ratio uses the lower (adapter or native) Optuna figure, i.e.
the one least favourable to us.

Each searcher has a wall-clock budget (``--budget-scale`` multiplies them all); a searcher
that runs out stops early, its unreached checkpoints show ``-`` and the table says where it
stopped. Nothing is extrapolated. The section is printed and written to
``benchmarks/RESULTS.md`` under "## Searcher overhead" (only that section is replaced).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from _results import RESULTS, write_section

HEADING = "## Searcher overhead"
WINDOW = 10
GP_CHECKPOINTS = (100, 200, 300)
OTHER_CHECKPOINTS = (100, 300, 1_000)
ALL_CHECKPOINTS = (100, 200, 300, 1_000)
GP_CLASS = {"gp", "optuna:gp", "skopt:gp"}
NATIVE = "native"


@dataclass(frozen=True)
class Case:
    """One searcher to measure: registry name, how it is driven, and its time budget."""

    searcher: str
    via: str  # "hpo" (our study machinery, adapters included) or "native" (plain Optuna)
    budget_s: float

    @property
    def checkpoints(self) -> tuple[int, ...]:
        return GP_CHECKPOINTS if self.searcher in GP_CLASS else OTHER_CHECKPOINTS

    @property
    def label(self) -> str:
        return f"{self.searcher} (native Optuna)" if self.via == NATIVE else self.searcher


#: order of the table; budgets (seconds of wall time) sum to ~27 minutes in the worst case
CASES: tuple[Case, ...] = (
    Case("gp", "hpo", 240),
    Case("optuna:gp", "hpo", 240),
    Case("optuna:gp", NATIVE, 240),
    Case("skopt:gp", "hpo", 240),
    Case("tpe", "hpo", 120),
    Case("optuna:tpe", "hpo", 180),
    Case("optuna:tpe", NATIVE, 180),
    Case("hyperopt:tpe", "hpo", 120),
    Case("genetic", "hpo", 60),
    Case("random", "hpo", 60),
)


@dataclass
class Run:
    """Per-trial ask+tell latencies (seconds) of one case, in trial order."""

    case: Case
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and at end
    budget_hit: bool = False
    error: str | None = None

    def median_ms(self, checkpoint: int) -> float | None:
        """Median ms over the ``WINDOW`` trials ending at ``checkpoint``; ``None`` if not
        reached."""
        if len(self.latencies) < checkpoint:
            return None
        return statistics.median(self.latencies[checkpoint - WINDOW : checkpoint]) * 1e3

    def last_window_ms(self) -> float | None:
        n = len(self.latencies)
        return None if n < WINDOW else statistics.median(self.latencies[n - WINDOW :]) * 1e3


def _drive(
    run: Run,
    n: int,
    ask: Callable[[], Any],
    tell: Callable[[Any, float], object],
    evaluate: Callable[[Any], float],
) -> None:
    """Ask+tell ``n`` times (timing each pair, not the objective) within the budget."""
    load_start = os.getloadavg()[0]
    start = time.perf_counter()
    deadline = start + run.case.budget_s
    try:
        _loop(run, n, ask, tell, evaluate, deadline)
    finally:
        run.wall_s = time.perf_counter() - start
        run.load = (load_start, os.getloadavg()[0])


def _loop(
    run: Run,
    n: int,
    ask: Callable[[], Any],
    tell: Callable[[Any, float], object],
    evaluate: Callable[[Any], float],
    deadline: float,
) -> None:
    for i in range(n):
        t0 = time.perf_counter()
        trial = ask()
        t1 = time.perf_counter()
        value = evaluate(trial)
        t2 = time.perf_counter()
        tell(trial, value)
        t3 = time.perf_counter()
        run.latencies.append((t1 - t0) + (t3 - t2))
        if (i + 1) % 100 == 0:
            print(
                f"    {run.case.label}: {i + 1:,} trials, last {run.latencies[-1] * 1e3:.1f} ms",
                file=sys.stderr,
                flush=True,
            )
        if t3 > deadline and i + 1 < n:
            run.budget_hit = True
            break


def run_hpo(run: Run, problem: Any, n: int) -> None:
    """Our study machinery (in-memory storage) with the searcher from the registry."""
    import hpo

    study = hpo.create_study(
        space=problem.space, direction=problem.direction, searcher=run.case.searcher, seed=0
    )
    _drive(
        run,
        n,
        study.ask,
        lambda t, v: study.tell(t, v),
        lambda t: problem.function(dict(t.params)),
    )


def _optuna_distributions(space: Any) -> dict[str, Any]:
    import optuna.distributions as od

    from hpo.space import Categorical, Float, Int

    out: dict[str, Any] = {}
    for name, p in space.items():
        if getattr(p, "when", None):
            raise SystemExit("native Optuna runs need an unconditional space (use hartmann6)")
        if isinstance(p, Float):
            out[name] = od.FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            out[name] = od.IntDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Categorical):
            out[name] = od.CategoricalDistribution(list(p.choices))
        else:  # pragma: no cover - future parameter types
            raise SystemExit(f"no Optuna distribution for {p!r}")
    return out


def run_native(run: Run, problem: Any, n: int) -> None:
    """Plain Optuna: in-memory study, ``ask(distributions)`` / ``tell``, default sampler
    options (the same ones the adapter passes for an unconditional space)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {"optuna:tpe": optuna.samplers.TPESampler, "optuna:gp": optuna.samplers.GPSampler}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        sampler = samplers[run.case.searcher](seed=0)
    study = optuna.create_study(direction=problem.direction, sampler=sampler)
    distributions = _optuna_distributions(problem.space)
    _drive(
        run,
        n,
        lambda: study.ask(distributions),
        lambda t, v: study.tell(t, v),
        lambda t: problem.function(dict(t.params)),
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def _lowest_optuna(runs: list[Run], name: str, checkpoint: int) -> tuple[float | None, str]:
    figures = [
        (m, r.case.via) for r in runs if r.case.searcher == name and (m := r.median_ms(checkpoint))
    ]
    if not figures:
        return None, "-"
    value, via = min(figures)
    return value, "native" if via == NATIVE else "adapter"


def _target_line(
    runs: list[Run], ours: str, peer: str, checkpoint: int
) -> tuple[str, float | None]:
    mine = next((r.median_ms(checkpoint) for r in runs if r.case.searcher == ours), None)
    theirs, via = _lowest_optuna(runs, peer, checkpoint)
    if mine is None or theirs is None:
        return (
            f"- `{ours}` / `{peer}` at {checkpoint:,} trials: not measured (a run stopped "
            "before this checkpoint): target NOT EVALUATED",
            None,
        )
    ratio = mine / theirs
    verdict = "MET" if ratio <= 0.5 else "NOT MET"
    return (
        f"- `{ours}` / `{peer}` at {checkpoint:,} trials: {_fmt(mine)} ms / {_fmt(theirs)} ms "
        f"({via} Optuna, the lower of adapter and native) = **{ratio:.2f}** "
        f"(target <= 0.50): **{verdict}**",
        ratio,
    )


def report(
    runs: list[Run],
    problem_name: str,
    command: str,
    load_start: tuple[float, float, float],
    load_end: tuple[float, float, float],
    total_s: float,
) -> str:
    """The results as Markdown (printed and written to RESULTS.md)."""

    def load(avg: tuple[float, float, float]) -> str:
        return " / ".join(f"{x:.2f}" for x in avg)

    import numpy as np

    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for module in ("optuna", "torch", "hyperopt", "skopt"):
        with contextlib.suppress(Exception):  # a missing peer only drops its version
            versions.append(f"{module} {__import__(module).__version__}")
    lines = [
        HEADING,
        "",
        f"- Date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs; "
        f"load average (1/5/15 min) {load(load_start)} at start, {load(load_end)} at end",
        f"- Software: {', '.join(versions)}",
        f"- Workload: one in-memory study per searcher, seed 0, `{problem_name}` with its "
        "analytic objective; each ask+tell pair timed with `time.perf_counter` (the "
        f"objective excluded); median over the {WINDOW} trials ending at each checkpoint",
        f"- Command: {command}; total wall time {total_s / 60:.1f} min",
        "",
        "Median ms per ask+tell (`n/a`: checkpoint outside the searcher's class; `-`: not "
        "reached):",
        "",
        "| searcher | "
        + " | ".join(f"{c:,} trials" for c in ALL_CHECKPOINTS)
        + " | trials run | wall s | load (1 min) |",
        "|---|" + "---:|" * (len(ALL_CHECKPOINTS) + 3),
    ]
    notes: list[str] = []
    for r in runs:
        cells = [
            _fmt(r.median_ms(c)) if c in r.case.checkpoints else "n/a" for c in ALL_CHECKPOINTS
        ]
        ran = f"{len(r.latencies):,}"
        if r.budget_hit:
            ran += " (budget)"
            notes.append(
                f"- `{r.case.label}` was stopped by its {r.case.budget_s:.0f} s budget after "
                f"{len(r.latencies):,} trials (median of its last {WINDOW}: "
                f"{_fmt(r.last_window_ms())} ms); later checkpoints are not measured, "
                "not extrapolated."
            )
        if r.error:
            ran += " (error)"
            notes.append(f"- `{r.case.label}` failed after {len(r.latencies)} trials: {r.error}")
        lines.append(
            f"| `{r.case.label}` | "
            + " | ".join(cells)
            + f" | {ran} | {r.wall_s:.0f} | {r.load[0]:.1f} -> {r.load[1]:.1f} |"
        )
    lines += ["", "Targets (the issue's; reported, not tuned for):", ""]
    lines.append(_target_line(runs, "gp", "optuna:gp", 200)[0])
    lines.append(_target_line(runs, "tpe", "optuna:tpe", 1_000)[0])
    lines += [
        "",
        "Peers run through hpo's adapters, in the same study machinery as ours; "
        "`(native Optuna)` rows drive Optuna directly (`optuna.create_study(sampler=...)`, "
        "in-memory storage) with the same sampler options. GP-class searchers run to 300 "
        "trials, the others to 1,000. The machine has 2 CPUs shared with other work: the last "
        "column is the 1-minute load average when each searcher started and ended; a load "
        "above the CPU count inflates that row's figures.",
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problem", default="hartmann6", choices=["hartmann6", "mixed"])
    parser.add_argument(
        "--searchers", nargs="*", metavar="NAME", help="only these (names as in the table)"
    )
    parser.add_argument(
        "--budget-scale", type=float, default=1.0, help="multiply every per-searcher budget"
    )
    parser.add_argument("--max-trials", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="only print the table")
    args = parser.parse_args(argv)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)

    from hpo.benchmarks import get_problem

    problem = get_problem(args.problem)
    cases = [
        Case(c.searcher, c.via, c.budget_s * args.budget_scale)
        for c in CASES
        if not args.searchers or c.searcher in args.searchers or c.label in args.searchers
    ]
    if args.problem != "hartmann6":
        cases = [c for c in cases if c.via != NATIVE]
    extra = " ".join(sys.argv[1:] if argv is None else argv)
    command = f"`python benchmarks/overhead.py {extra}`".replace(" `", "`")
    if not extra:
        command = f"`make bench-overhead` ({command})"
    load_start = os.getloadavg()
    start = time.perf_counter()
    runs: list[Run] = []
    for case in cases:
        n = max(case.checkpoints)
        if args.max_trials is not None:
            n = min(n, args.max_trials)
        print(f"{case.label}: {n:,} trials (budget {case.budget_s:.0f} s) ...", file=sys.stderr)
        run = Run(case)
        try:  # a broken peer is reported, and the others still measured
            (run_native if case.via == NATIVE else run_hpo)(run, problem, n)
        except Exception as exc:
            run.error = f"{type(exc).__name__}: {exc}"
        runs.append(run)
    total = time.perf_counter() - start
    section = report(runs, args.problem, command, load_start, os.getloadavg(), total)
    print(section)
    if not args.no_write:
        write_section(HEADING, section)
        print(f"written to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
