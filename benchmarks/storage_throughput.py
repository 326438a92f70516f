"""Ask+tell throughput of hpo's SQL storage against Optuna's RDB storage, both on SQLite.

Run with ``make bench-storage`` (or ``python benchmarks/storage_throughput.py``). One
process, a fresh SQLite file per library, random search over the same three parameters,
a trivial objective; every ask and tell goes through the storage. Each library runs
10,000 trials; throughput at 1,000 is over its first 1,000. Optuna gets a time budget
(``--optuna-budget``, 360 s by default): if it has not reached 10,000 trials by then, its
row reports the trials it did finish, and says so. The table is printed and written to
``benchmarks/RESULTS.md`` under "## Storage throughput" (that section only is replaced).

Each library runs with its own default SQLite settings: hpo uses WAL with
``synchronous=NORMAL``; Optuna uses SQLAlchemy's defaults (rollback journal, FULL sync).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from _results import RESULTS, write_section

N_SMALL = 1_000
N_LARGE = 10_000
HEADING = "## Storage throughput"
T = TypeVar("T")


@dataclass
class Run:
    """Per-trial ask+tell latencies (seconds) of one library, in trial order."""

    name: str
    latencies: list[float]
    budget_hit: bool = False

    def trials_per_s(self, n: int) -> float | None:
        """Throughput over the first ``n`` trials, or ``None`` if fewer ran."""
        if len(self.latencies) < n:
            return None
        return n / sum(self.latencies[:n])

    def median_ms(self, start: int, stop: int) -> float | None:
        window = self.latencies[start:stop]
        return statistics.median(window) * 1e3 if len(window) == stop - start else None


def run_hpo(path: Path, n: int) -> Run:
    """hpo: ``create_study(storage="sqlite:///...")`` then ask/tell ``n`` times."""
    import hpo

    space = {
        "x": hpo.Float(-5.0, 5.0),
        "n": hpo.Int(1, 100, log=True),
        "kind": hpo.Categorical(["a", "b", "c"]),
    }
    study = hpo.create_study(space=space, storage=f"sqlite:///{path}", name="bench", seed=0)
    return Run("hpo SQLStorage", _loop(n, study.ask, lambda t: study.tell(t, t.params["x"] ** 2)))


def run_optuna(path: Path, n: int, budget_s: float) -> Run:
    """Optuna: ``RDBStorage`` on SQLite, ``RandomSampler``, ``ask(fixed_distributions)``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {
        "x": optuna.distributions.FloatDistribution(-5.0, 5.0),
        "n": optuna.distributions.IntDistribution(1, 100, log=True),
        "kind": optuna.distributions.CategoricalDistribution(["a", "b", "c"]),
    }
    study = optuna.create_study(
        storage=f"sqlite:///{path}", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    latencies = _loop(
        n,
        lambda: study.ask(distributions),
        lambda t: study.tell(t, t.params["x"] ** 2),
        budget_s=budget_s,
    )
    return Run("Optuna RDBStorage", latencies, budget_hit=len(latencies) < n)


def _loop(
    n: int,
    ask: Callable[[], T],
    tell: Callable[[T], object],
    budget_s: float | None = None,
) -> list[float]:
    latencies: list[float] = []
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    for i in range(n):
        t0 = time.perf_counter()
        tell(ask())
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        if i % 1000 == 999:
            print(f"  ... {i + 1:,} trials", file=sys.stderr, flush=True)
        if deadline is not None and t1 > deadline:
            break
    return latencies


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else format(value, spec) + unit


def report(ours: Run, optuna: Run, budget_s: float) -> str:
    """The results as Markdown (printed and written to RESULTS.md)."""
    lines = [
        HEADING,
        "",
        f"- Date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- Machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
        "- Workload: one process, ask+tell through the storage, random search over 3 "
        "parameters (float, log-int, categorical), trivial objective, fresh SQLite file",
        "- Command: `make bench-storage` (`python benchmarks/storage_throughput.py`)",
        "",
        "| trials | hpo SQLStorage (trials/s) | Optuna RDBStorage (trials/s) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for n in (N_SMALL, N_LARGE):
        ours_rate = ours.trials_per_s(n)
        theirs = optuna.trials_per_s(n)
        label = f"{n:,}"
        if theirs is None:  # Optuna ran out of budget: compare over what it finished
            done = len(optuna.latencies)
            theirs = optuna.trials_per_s(done)
            label = f"{n:,} (Optuna: first {done:,} only)"
        ratio = None if ours_rate is None or theirs is None else ours_rate / theirs
        lines.append(
            f"| {label} | {_fmt(ours_rate, ',.0f')} | {_fmt(theirs, ',.1f')} | "
            f"{_fmt(ratio, '.1f', 'x')} |"
        )
    early, late = ours.median_ms(0, N_SMALL), ours.median_ms(N_LARGE - N_SMALL, N_LARGE)
    flat = None if early is None or late is None else late / early
    lines += [
        "",
        "Per-trial ask+tell latency of hpo SQLStorage (median):",
        "",
        "| trials 1-1,000 | trials 9,001-10,000 | ratio (late / early) |",
        "|---:|---:|---:|",
        f"| {_fmt(early, '.2f', ' ms')} | {_fmt(late, '.2f', ' ms')} | {_fmt(flat, '.2f')} |",
        "",
    ]
    done = len(optuna.latencies)
    if done >= 2 * N_SMALL:
        o_early, o_late = optuna.median_ms(0, N_SMALL), optuna.median_ms(done - N_SMALL, done)
        lines.append(
            f"For reference, Optuna's median latency: {_fmt(o_early, '.2f', ' ms')} over "
            f"trials 1-1,000, {_fmt(o_late, '.2f', ' ms')} over trials "
            f"{done - N_SMALL + 1:,}-{done:,}."
        )
    if optuna.budget_hit:
        lines.append(
            f"Optuna was stopped by the {budget_s:.0f} s time budget after {done:,} trials; "
            "its 10,000-trial row is its throughput over those trials, not extrapolated."
        )
    lines.append(
        "Both use their default SQLite settings: hpo WAL + `synchronous=NORMAL`, Optuna "
        "SQLAlchemy's defaults (rollback journal, `synchronous=FULL`)."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=N_LARGE, help=argparse.SUPPRESS)
    parser.add_argument("--optuna-budget", type=float, default=360.0, metavar="SECONDS")
    parser.add_argument("--no-write", action="store_true", help="only print the table")
    args = parser.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        print(f"hpo: {args.trials:,} trials ...", file=sys.stderr)
        ours = run_hpo(Path(tmp) / "hpo.db", args.trials)
        print(
            f"Optuna: {args.trials:,} trials (budget {args.optuna_budget:.0f} s) ...",
            file=sys.stderr,
        )
        theirs = run_optuna(Path(tmp) / "optuna.db", args.trials, args.optuna_budget)
    section = report(ours, theirs, args.optuna_budget)
    print(section)
    if not args.no_write:
        write_section(HEADING, section)
        print(f"written to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
