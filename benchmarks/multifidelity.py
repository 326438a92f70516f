"""Multi-fidelity searchers: epochs spent and regret reached, against full-budget search.

Run with ``make bench-multifidelity`` or ``python benchmarks/multifidelity.py``
(``--quick`` for a smoke run: 2 tasks, 2 seeds, 30 configurations).

**What runs.** On each of the eight LCBench development tasks (``lcbench-epochs-<task>``:
the surrogate's validation accuracy after each of up to 52 epochs) with every seed, the
same number of configurations :data:`N_CONFIGS` (one trial each), sequentially, in
memory:

* ``random``: random search, every configuration trained for all 52 epochs;
* ``asha``: the same random sampler with the ``asha`` stopper (the ASHA paper's
  algorithm);
* ``tpe-asha``: our ``tpe`` searcher with the ``asha`` stopper (what
  ``create_study(searcher="tpe", stopper="asha")`` runs);
* ``hyperband``: the same random sampler with the ``hyperband`` stopper;
* ``bohb``: our BOHB searcher;
* ``optuna-tpe-hb``: Optuna's ``TPESampler`` with its ``HyperbandPruner`` (1..52
  epochs, reduction factor 3), run directly through Optuna, not hpo's adapter.

Stoppers and BOHB use their defaults (reduction factor 3, smallest budget 1 epoch).
A run's *cost* after each trial is the epochs spent so far (the steps every trial
reported); its *incumbent* the best final (epoch-52) value among its COMPLETE trials;
its regret the problem's normalized regret of the incumbent (0 = the task's best
accuracy, 1 = its worst; 1 before the first complete trial).

On ``torch-digits`` (a real PyTorch MLP on digits, budget 30 epochs), population-based
training (``pbt``: population 8, segments of 3 epochs; it explores ``lr``,
``weight_decay``, ``dropout`` and ``batch_size`` and keeps the donor's hidden size) runs
until every member reached epoch 30 (at most :data:`PBT_TRIALS` segments); random search
then trains as many configurations for 30 epochs as fit into the epochs PBT spent. Each
reports its best validation accuracy after 30 epochs (PBT: among the segments that
reached epoch 30).

**Targets.** (a) For BOHB and ASHA (with either sampler), the epochs they spent until
their regret was at most random search's final regret, as a fraction of random search's
epochs (``52 * N``), median over seeds (and tasks): at most 1/5 (a run that never gets
there counts as infinite). (b) At equal epochs (per task and seed, the least any of the
three spent in total), BOHB's mean regret is lower than Hyperband's and Optuna TPE + Hyperband's.
(c) On torch-digits at equal epochs PBT's mean accuracy beats random search's.

Jobs (one per task and seed, and one per torch-digits seed) run in a process pool
(``--jobs``, default: the number of cores), single-threaded each. The section is
printed and, unless ``--quick`` or another subset option is given, written to
``benchmarks/RESULTS.md`` under "## Multi-fidelity".
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from typing import Any

from _results import RESULTS, write_section

HEADING = "## Multi-fidelity"
LCBENCH_DEV = (3945, 7593, 34539, 126025, 126026, 126029, 146212, 167104)
MAX_EPOCH = 52
N_CONFIGS = 100
N_SEEDS = 10
METHODS = ("random", "asha", "tpe-asha", "hyperband", "bohb", "optuna-tpe-hb")
TORCH_SEEDS = 5
PBT_POPULATION = 8
PBT_TRIALS = 200
#: cumulative epochs, in multiples of one full-budget trial, where the curves are read
CURVE_AT = (2, 5, 10, 20, 50, 100)

#: ``(epochs spent so far, final value or None)`` per trial, in trial order
Run = list[tuple[int, float | None]]


def _quiet() -> None:
    """Silence library chatter (experimental-feature warnings, Optuna logs)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


@dataclass(frozen=True)
class Job:
    """One LCBench task and seed (every method) or, with ``task=None``, one torch seed."""

    task: int | None
    seed: int
    n_configs: int
    methods: tuple[str, ...]
    pbt_trials: int = PBT_TRIALS

    @property
    def label(self) -> str:
        return f"lcbench-epochs-{self.task}" if self.task is not None else "torch-digits"


def _record(trials: Sequence[Any], max_step: int) -> Run:
    """Cumulative epochs and final values (COMPLETE trials that reached ``max_step``)."""
    out: Run = []
    spent = 0
    for t in sorted(trials, key=lambda t: t.number):
        spent += len(t.intermediate_values)
        state = getattr(t.state, "name", str(t.state))
        reached = bool(t.intermediate_values) and max(t.intermediate_values) >= max_step
        final = t.value if state == "COMPLETE" and reached and t.value is not None else None
        out.append((spent, None if final is None else float(final)))
    return out


def _run_hpo(task: int, method: str, seed: int, n: int) -> Run:
    import hpo
    from hpo.benchmarks import get_problem

    problem = get_problem(f"lcbench-epochs-{task}")
    options: dict[str, Any] = {"searcher": "random"}
    if method in ("asha", "hyperband"):
        options["stopper"] = method
    elif method == "tpe-asha":
        options.update(searcher="tpe", stopper="asha")
    elif method == "bohb":
        options["searcher"] = "bohb"
    study = hpo.create_study(problem.objective, seed=seed, **options)
    study.optimize(n_trials=n, progress=False)
    return _record(study.trials, MAX_EPOCH)


def _run_optuna(task: int, seed: int, n: int) -> Run:
    import optuna

    from hpo.benchmarks import get_problem
    from hpo.benchmarks.lcbench import lcbench_curve
    from hpo.space import Float, Int

    space = get_problem(f"lcbench-{task}").space

    def objective(trial: optuna.Trial) -> float:
        config: dict[str, Any] = {}
        for name, p in space.items():
            if isinstance(p, Int):
                config[name] = trial.suggest_int(name, p.low, p.high, log=p.log)
            else:
                assert isinstance(p, Float)
                config[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        curve = lcbench_curve(task, config)
        for epoch, value in enumerate(curve, start=1):
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return curve[-1]

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=MAX_EPOCH, reduction_factor=3
        ),
    )
    study.optimize(objective, n_trials=n)
    out: Run = []
    spent = 0
    for t in study.trials:
        spent += len(t.intermediate_values)
        done = t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
        out.append((spent, float(t.value) if done and t.value is not None else None))
    return out


def _run_torch(seed: int, pbt_trials: int) -> dict[str, Any]:
    import hpo
    from hpo.benchmarks.torch_digits import MAX_EPOCH as TORCH_EPOCHS
    from hpo.benchmarks.torch_digits import torch_digits

    problem = torch_digits()
    with tempfile.TemporaryDirectory(prefix="hpo-bench-pbt-") as tmp:
        pbt = hpo.create_study(
            problem.objective,
            searcher="pbt",
            searcher_kwargs={
                "population_size": PBT_POPULATION,
                "hyperparams": ["lr", "weight_decay", "dropout", "batch_size"],
            },
            seed=seed,
            artifacts=tmp,
        )
        pbt.optimize(n_trials=pbt_trials, progress=False)
    epochs = sum(len(t.intermediate_values) for t in pbt.trials)
    finals = [
        t.value
        for t in pbt.trials
        if t.value is not None
        and t.intermediate_values
        and max(t.intermediate_values) >= TORCH_EPOCHS
    ]
    n_random = max(1, round(epochs / TORCH_EPOCHS))
    random = hpo.create_study(problem.objective, searcher="random", seed=seed)
    random.optimize(n_trials=n_random, progress=False)
    return {
        "pbt": max(finals) if finals else float("nan"),
        "random": random.best_value,
        "epochs": epochs,
        "random_epochs": sum(len(t.intermediate_values) for t in random.trials),
        "n_random": n_random,
    }


def run_job(job: Job) -> tuple[Job, dict[str, Any], float]:
    """Run every method of ``job``; its runs and wall time in seconds."""
    _quiet()
    start = time.perf_counter()
    if job.task is None:
        return job, _run_torch(job.seed, job.pbt_trials), time.perf_counter() - start
    runs: dict[str, Any] = {}
    for method in job.methods:
        if method == "optuna-tpe-hb":
            runs[method] = _run_optuna(job.task, job.seed, job.n_configs)
        else:
            runs[method] = _run_hpo(job.task, method, job.seed, job.n_configs)
    return job, runs, time.perf_counter() - start


# --- summary -------------------------------------------------------------------------------
def regret_curve(run: Run, task: int) -> list[tuple[int, float]]:
    """``(epochs so far, normalized regret of the incumbent)`` after each trial."""
    from hpo.benchmarks import get_problem

    problem = get_problem(f"lcbench-{task}")
    best: float | None = None
    out = []
    for spent, value in run:
        if value is not None and (best is None or value > best):
            best = value
        out.append((spent, 1.0 if best is None else problem.normalized_regret(best)))
    return out


def regret_at(curve: list[tuple[int, float]], epochs: float) -> float:
    """The incumbent's regret once ``epochs`` were spent (the last one if fewer were)."""
    regret = 1.0
    for spent, r in curve:
        if spent > epochs:
            break
        regret = r
    return regret


def epochs_to_reach(curve: list[tuple[int, float]], target: float) -> float:
    """Epochs spent when the regret first was ``<= target`` (``inf`` if never)."""
    for spent, r in curve:
        if r <= target + 1e-12:
            return float(spent)
    return math.inf


def _fmt_frac(x: float) -> str:
    return "never" if math.isinf(x) else f"{x:.3f}"


def _half_section(
    curves: dict[int, dict[int, dict[str, list[tuple[int, float]]]]],
    methods: Sequence[str],
    n_configs: int,
) -> list[str]:
    """Targets (a) and (b), epochs, curves and per-task regret for one half's tasks."""
    tasks = sorted(curves)
    seeds = sorted({s for t in tasks for s in curves[t]})
    full = MAX_EPOCH * n_configs
    lines: list[str] = []
    have = set(methods)
    fractions: dict[str, dict[int, list[float]]] = {}
    for m in ("bohb", "asha", "tpe-asha"):
        if {"random", m} <= have:
            fractions[m] = {}
            for t in tasks:
                fractions[m][t] = [
                    epochs_to_reach(
                        curves[t][s][m], curves[t][s]["random"][-1][1]
                    )  # random's final regret
                    / full
                    for s in seeds
                ]
            allf = [f for t in tasks for f in fractions[m][t]]
            med = statistics.median(allf)
            reached = sum(not math.isinf(f) for f in allf)
            met = med <= 0.2
            lines.append(
                f"- (a) {m} reaches full-budget random search's final regret with at most 1/5 "
                f"of its epochs (median over tasks x seeds): **{'met' if met else 'NOT MET'}** "
                f"(median fraction {_fmt_frac(med)}; reached in {reached}/{len(allf)} runs; "
                "per-task medians "
                + ", ".join(f"{t}: {_fmt_frac(statistics.median(fractions[m][t]))}" for t in tasks)
                + ")."
            )
    rivals = [m for m in ("hyperband", "optuna-tpe-hb") if m in have]
    if "bohb" in have and rivals:
        eq: dict[str, list[float]] = {m: [] for m in ["bohb", *rivals]}
        budgets = []
        for t in tasks:
            for s in seeds:
                budget = min(curves[t][s][m][-1][0] for m in eq)
                budgets.append(budget)
                for m in eq:
                    eq[m].append(regret_at(curves[t][s][m], budget))
        mean = {m: statistics.fmean(v) for m, v in eq.items()}
        wins = {
            m: sum(b < r for b, r in zip(eq["bohb"], eq[m], strict=True))
            - sum(b > r for b, r in zip(eq["bohb"], eq[m], strict=True))
            for m in rivals
        }
        met = all(mean["bohb"] < mean[m] for m in rivals)
        lines.append(
            "- (b) At equal epochs, BOHB's mean regret is lower than "
            + " and ".join(rivals)
            + f"'s: **{'met' if met else 'NOT MET'}** (BOHB {mean['bohb']:.4f}; "
            + "; ".join(
                f"{m} {mean[m]:.4f}, BOHB wins minus losses {wins[m]:+d}/{len(eq['bohb'])}"
                for m in rivals
            )
            + f"; equal budget per run: the least total of the three, median "
            f"{statistics.median(budgets):.0f} epochs)."
        )
    lines.append("")

    # totals and final regret
    lines.append(f"Epochs and final regret after {n_configs} configurations:")
    lines.append("")
    lines.append(
        "| method | epochs (mean, fraction of random's) | final regret (mean) | "
        "final regret minus random's (mean) |"
    )
    lines.append("|---|---|---|---|")
    rnd = [curves[t][s]["random"][-1][1] for t in tasks for s in seeds] if "random" in have else []
    for m in methods:
        totals = [curves[t][s][m][-1][0] for t in tasks for s in seeds]
        finals = [curves[t][s][m][-1][1] for t in tasks for s in seeds]
        diff = (
            f"{statistics.fmean(f - r for f, r in zip(finals, rnd, strict=True)):+.4f}"
            if rnd
            else "-"
        )
        lines.append(
            f"| {m} | {statistics.fmean(totals):.0f} ({statistics.fmean(totals) / full:.3f}) | "
            f"{statistics.fmean(finals):.4f} | {diff} |"
        )
    lines.append("")

    # curves
    points = [k * MAX_EPOCH for k in CURVE_AT if k * MAX_EPOCH <= full]
    lines.append("Mean normalized regret vs cumulative epochs (the half's tasks and seeds):")
    lines.append("")
    lines.append("| method | " + " | ".join(f"{p} ep" for p in points) + " |")
    lines.append("|---" * (1 + len(points)) + "|")
    for m in methods:
        cells = []
        for p in points:
            vals = [regret_at(curves[t][s][m], p) for t in tasks for s in seeds]
            short = sum(curves[t][s][m][-1][0] < p for t in tasks for s in seeds)
            cells.append(f"{statistics.fmean(vals):.4f}" + ("*" if short else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append("")

    if "bohb" in fractions or "asha" in fractions:
        lines.append("Per task: mean final regret:")
        lines.append("")
        lines.append("| task | " + " | ".join(methods) + " |")
        lines.append("|---" * (1 + len(methods)) + "|")
        for t in tasks:
            cells = [
                f"{statistics.fmean(curves[t][s][m][-1][1] for s in seeds):.4f}" for m in methods
            ]
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def render(
    curves: dict[int, dict[int, dict[str, list[tuple[int, float]]]]],
    torch_results: list[dict[str, Any]],
    methods: Sequence[str],
    n_configs: int,
    elapsed: float,
    jobs: int,
    busy: float,
) -> str:
    """The markdown section: per half (checking first) targets (a) and (b), epochs,
    regret-vs-epochs curves and per-task regret; then PBT's target (c)."""
    from hpo.benchmarks.suite import LCBENCH_CHECKING, LCBENCH_TUNING

    tasks = sorted(curves)
    seeds = sorted({s for t in tasks for s in curves[t]})
    lines = [
        HEADING,
        "",
        f"{datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `make bench-multifidelity`: "
        f"{len(tasks)} LCBench dev tasks (`lcbench-epochs-*`, up to {MAX_EPOCH} epochs) x "
        f"{len(seeds)} seeds, {n_configs} configurations per run, sequential, in memory; "
        f"torch-digits: {len(torch_results)} seed(s). Regret: normalized (0 = the task's best "
        "accuracy, 1 = its worst), of the best COMPLETE trial's epoch-52 value. The tasks are "
        "split as in `make bench-quality` (`hpo/benchmarks/suite.py`): defaults are chosen on "
        f"the tuning half ({', '.join(map(str, LCBENCH_TUNING))}) and judged on the checking "
        f"half ({', '.join(map(str, LCBENCH_CHECKING))}).",
        "",
    ]
    halves = [
        ("Checking half (decides the targets)", LCBENCH_CHECKING),
        ("Tuning half", LCBENCH_TUNING),
        ("Other tasks", tuple(t for t in tasks if t not in LCBENCH_CHECKING + LCBENCH_TUNING)),
    ]
    for title, members in halves:
        part = {t: curves[t] for t in tasks if t in members}
        if part:
            lines += [f"### {title}", ""]
            lines += _half_section(part, methods, n_configs)
    if torch_results:
        pbt_epochs = statistics.fmean(r["epochs"] for r in torch_results)
        pbt = [r["pbt"] for r in torch_results]
        rnd = [r["random"] for r in torch_results]
        met = statistics.fmean(pbt) > statistics.fmean(rnd)
        lines += ["### Population-based training", ""]
        lines.append(
            f"- (c) On torch-digits at equal epochs PBT beats random search: "
            f"**{'met' if met else 'NOT MET'}** (mean validation accuracy PBT "
            f"{statistics.fmean(pbt):.4f} vs random {statistics.fmean(rnd):.4f}; "
            f"PBT better in {sum(p > r for p, r in zip(pbt, rnd, strict=True))}/{len(pbt)} "
            f"seeds; epochs per seed: PBT {pbt_epochs:.0f}, "
            f"random {statistics.fmean(r['random_epochs'] for r in torch_results):.0f} "
            f"({torch_results[0]['n_random']} configurations x 30))."
        )
        lines.append("")
    lines.append(
        "\\* some runs had finished all their configurations with fewer epochs; their final "
        "regret is carried forward."
    )
    lines.append("")
    lines.append(
        f"Wall time: {elapsed / 60:.1f} min elapsed with {jobs} parallel jobs "
        f"({busy / 60:.1f} min of job time)."
    )
    return "\n".join(lines) + "\n"


# --- main ----------------------------------------------------------------------------------
def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 tasks, 2 seeds, 30 configs")
    parser.add_argument("--tasks", type=int, nargs="+", help="LCBench dev tasks (default: all)")
    parser.add_argument(
        "--half", choices=("tuning", "checking"), help="only the tasks of one half of the split"
    )
    parser.add_argument("--seeds", type=int, help=f"seeds per task (default: {N_SEEDS})")
    parser.add_argument("--n-configs", type=int, help=f"configurations (default: {N_CONFIGS})")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: all")
    parser.add_argument("--torch-seeds", type=int, help=f"default: {TORCH_SEEDS}")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    from hpo.benchmarks.suite import LCBENCH_CHECKING, LCBENCH_TUNING

    halves = {"tuning": LCBENCH_TUNING, "checking": LCBENCH_CHECKING}
    tasks = args.tasks or (
        halves[args.half] if args.half else (LCBENCH_DEV[:2] if args.quick else LCBENCH_DEV)
    )
    seeds = args.seeds or (2 if args.quick else N_SEEDS)
    n = args.n_configs or (30 if args.quick else N_CONFIGS)
    methods = tuple(args.methods or METHODS)
    torch_seeds = TORCH_SEEDS if args.torch_seeds is None else args.torch_seeds
    if args.quick and args.torch_seeds is None:
        torch_seeds = 1
    pbt_trials = PBT_TRIALS
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    jobs = [Job(None, s, n, methods, pbt_trials) for s in range(torch_seeds)]
    jobs += [Job(t, s, n, methods) for t in tasks for s in range(seeds)]
    curves: dict[int, dict[int, dict[str, list[tuple[int, float]]]]] = {}
    torch_results: list[dict[str, Any]] = []
    busy = 0.0
    start = time.perf_counter()
    print(f"{len(jobs)} jobs, {args.jobs} parallel", file=sys.stderr, flush=True)
    _quiet()
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        pending: dict[Future[tuple[Job, dict[str, Any], float]], Job] = {
            pool.submit(run_job, j): j for j in jobs
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.pop(fut)
                job, runs, seconds = fut.result()
                busy += seconds
                if job.task is None:
                    torch_results.append(runs)
                else:
                    curves.setdefault(job.task, {})[job.seed] = {
                        m: regret_curve(r, job.task) for m, r in runs.items()
                    }
                print(
                    f"  {job.label} seed {job.seed}: {seconds:.0f} s ({len(pending)} left, "
                    f"{(time.perf_counter() - start) / 60:.1f} min elapsed)",
                    file=sys.stderr,
                    flush=True,
                )
    elapsed = time.perf_counter() - start
    section = render(curves, torch_results, methods, n, elapsed, args.jobs, busy)
    print(section)
    subset = args.quick or args.tasks or args.half or args.seeds or args.n_configs or args.methods
    if subset or args.torch_seeds is not None:
        print(f"(quick or subset run: not written to {RESULTS.name})", file=sys.stderr)
    else:
        write_section(HEADING, section)
        print(f"written to {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
