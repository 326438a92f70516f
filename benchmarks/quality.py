"""Searcher quality: normalized regret and average rank, ours against the peer libraries,
on a development suite split into a tuning half and a checking half.

Run with ``make bench-quality`` (both halves) or ``python benchmarks/quality.py --half
tuning`` (one half), ``--problems ...``, ``--searchers ...``, ``--seeds N``,
``--n-trials N``.

**What runs.** Every searcher of :data:`SEARCHERS` (ours: ``gp``, ``tpe``, ``genetic``,
``portfolio``, ``random``; the peers through hpo's adapters: ``optuna:tpe``,
``optuna:gp``, ``hyperopt:tpe``, ``skopt:gp``, each with its library's default options)
runs :data:`N_TRIALS` sequential trials with every seed on every problem of the suite
(:mod:`hpo.benchmarks.suite`: 29 problems, synthetic and LCBench ones with 10 seeds,
scikit-learn ones with 5). The suite is split **by family** into a *tuning* half (the
problems searchers may be tuned on) and a *checking* half (functions and models no one
tuned on): a change is adopted only if it helps on the checking half too. The eight
LCBench development tasks are split four and four; the held-out tasks are never run.

**Storage and reuse.** Each (problem, searcher) is one stored comparison (``hpo.compare``,
every seed; SQLite, ``benchmarks/.cache/quality.db``), named after a *fingerprint* of
what decides its trials: for ours, the searcher's options and the source of
``hpo/searchers`` and of the study machinery (``space``, ``study``, ``driver``,
``trial``); for a peer, its options and its library's version. A run reuses every stored
comparison whose fingerprint matches (an interrupted run continues where it stopped), so
the peers' runs, which cost most, are made once per library version, and ours are re-run
whenever their code changes. ``--fresh`` discards the database first.

**Ablations.** ``--variant LABEL=NAME`` or ``--variant 'LABEL=NAME:{"option": value}'``
adds a searcher under its own label (e.g. ``gp-ucb=gp:{"acquisition": "ucb"}``); its rank
is computed in the field with it in place of the searcher ``NAME`` (so a variant of
``gp`` ranks against the peers and our other searchers exactly as ``gp`` would).

**What is reported**, per half, at 50 and at 100 trials: the *normalized regret* (0 = the
problem's optimum or best known value, 1 = its reference: the median random
configuration for synthetic problems, the majority-class accuracy for scikit-learn tasks,
the task's worst accuracy for LCBench) of the best configuration found so far, averaged
over seeds, per problem, then over the problems of the half (each problem weighs the
same); on noisy problems the best *observed* configuration is scored by its noise-free
value. The *average rank* (1 = best; per problem and seed the searchers are ranked by
best value so far, ties share ranks), averaged the same way. The searcher's own time per
ask+tell (``searcher_time``), median over its trials, beside them. Targets (the checking
half decides): one searcher of ours has a lower mean regret and a better average rank
than every peer, at 50 and at 100 trials; ``portfolio``'s mean regret is never worse
than the median of its members' (each run alone) on any problem.

**Parallelism.** (problem, searcher) jobs run in a process pool (``--jobs``, default: the
number of cores), longest first, each single-threaded (BLAS/OpenMP limited to one thread).

The section is printed and, for a full run (no ``--half``/``--problems``/``--seeds``/
``--searchers``/``--variant``/``--n-trials`` override), written to
``benchmarks/RESULTS.md`` under "## Searcher quality".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from _results import RESULTS, write_section

HEADING = "## Searcher quality"
N_TRIALS = 100
CHECKPOINTS = (50, 100)
OURS = ("gp", "tpe", "genetic", "portfolio", "random")
PEERS = ("optuna:tpe", "optuna:gp", "hyperopt:tpe", "skopt:gp")
SEARCHERS = OURS + PEERS
#: the portfolio's members when run with its defaults (compared with their median)
PORTFOLIO_MEMBERS = ("tpe", "gp", "random")
CACHE = Path(__file__).with_name(".cache")
ROOT = Path(__file__).resolve().parents[1]
#: besides a searcher's own modules, what decides our searchers' trials (hashed into
#: their fingerprint)
OUR_SOURCES = (
    "hpo/searchers/base.py",
    "hpo/space.py",
    "hpo/study.py",
    "hpo/driver.py",
    "hpo/trial.py",
)
#: the library behind each peer (its version goes into the fingerprint)
PEER_LIBRARY = {"optuna": "optuna", "hyperopt": "hyperopt", "skopt": "skopt"}
#: rough relative cost of one study, to schedule the longest jobs first
COST = {"skopt:gp": 8.0, "optuna:gp": 4.0, "gp": 2.0, "portfolio": 1.5}


@dataclass(frozen=True)
class Entry:
    """A searcher under a label: ``(label, registered name, options)``."""

    label: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        return ":" not in self.name

    def fingerprint(self, pin: str | None = None) -> str:
        if self.ours and pin:
            basis = f"pinned:{pin}"
        elif self.ours:
            basis = _source_digest(self.name, tuple(sorted(self.kwargs.get("members") or ())))
        else:
            basis = _library_version(self.name.split(":")[0])
        text = json.dumps([self.name, self.kwargs, basis], sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _modules(name: str, members: tuple[str, ...] = ()) -> list[Path]:
    """The source files of our searcher ``name``: its module and the ``hpo.searchers``
    modules it imports, transitively (a portfolio: its members' too)."""
    import re

    from hpo.searchers import searcher_class
    from hpo.searchers.portfolio import DEFAULT_MEMBERS

    pattern = re.compile(r"from hpo\.searchers(?:\.(\w+)| import (\w+))")
    module = searcher_class(name).__module__.rsplit(".", 1)[-1]
    todo, seen = [module], set()
    if name == "portfolio":
        for member in members or DEFAULT_MEMBERS:
            member_name = member if isinstance(member, str) else member[0]
            todo.append(searcher_class(member_name).__module__.rsplit(".", 1)[-1])
    while todo:
        mod = todo.pop()
        if mod in seen or not (ROOT / "hpo" / "searchers" / f"{mod}.py").exists():
            continue
        seen.add(mod)
        text = (ROOT / "hpo" / "searchers" / f"{mod}.py").read_text()
        todo += [a or b for a, b in pattern.findall(text)]
    return [ROOT / "hpo" / "searchers" / f"{m}.py" for m in sorted(seen)]


def _source_digest(name: str, members: tuple[str, ...] = ()) -> str:
    digest = hashlib.blake2b(digest_size=8)
    files = [ROOT / s for s in OUR_SOURCES] + _modules(name, members)
    for f in sorted(set(files)):
        digest.update(str(f.relative_to(ROOT)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _library_version(prefix: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    module = PEER_LIBRARY.get(prefix, prefix)
    name = {"skopt": "scikit-optimize"}.get(module, module)
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:  # pragma: no cover - the adapter will say what is missing
        return f"{name}==?"


@dataclass(frozen=True)
class Job:
    """One searcher on one problem, every seed (one stored comparison per seed, so a run
    with fewer seeds reuses what a run with more stored, and the other way round)."""

    problem: str
    half: str
    entry: Entry
    seeds: int
    n_trials: int
    storage: str
    fingerprint: str

    def comparison(self, seed: int) -> str:
        fp = self.fingerprint
        return f"quality/{self.entry.label}/{fp}/{self.problem}/t{self.n_trials}/seed{seed}"


def _quiet() -> None:
    """Silence library chatter (experimental-feature and convergence warnings, Optuna logs)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


def run_job(job: Job) -> float:
    """Run (or continue) one job's comparison; returns its wall time in seconds."""
    _quiet()
    import hpo

    start = time.perf_counter()
    for seed in range(job.seeds):
        hpo.compare(
            job.problem,
            [(job.entry.label, job.entry.name, job.entry.kwargs)],
            seeds=[seed],
            n_trials=job.n_trials,
            storage=job.storage,
            name=job.comparison(seed),
            load_if_exists=True,
        )
    return time.perf_counter() - start


# --- scores ------------------------------------------------------------------------------
@dataclass
class Runs:
    """One job's results: per seed, the loss of the incumbent at each checkpoint (noise-free
    on noisy problems), and the searcher's time per ask."""

    losses: dict[int, dict[int, float]]  # checkpoint -> seed -> loss (inf: nothing yet)
    ask_ms: list[float]
    n_failed: int


def load_runs(job: Job, checkpoints: Sequence[int]) -> Runs:
    import math

    from hpo.benchmarks import get_problem
    from hpo.exceptions import ComparisonNotFoundError
    from hpo.storage import get_storage
    from hpo.trial import TrialState

    problem = get_problem(job.problem)
    clean = problem.noise_free
    sign = 1.0 if problem.direction == "minimize" else -1.0
    store = get_storage(job.storage)
    members = []
    for seed in range(job.seeds):
        try:
            members += store.get_comparison(job.comparison(seed)).members
        except ComparisonNotFoundError:
            continue
    losses: dict[int, dict[int, float]] = {k: {} for k in checkpoints}
    ask_ms: list[float] = []
    n_failed = 0
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED)
    for member in members:
        trials = [t for t in store.get_trials(member.study_id).trials if t.state in finished]
        trials = sorted(trials, key=lambda t: t.number)[: job.n_trials]
        if len(trials) < max(checkpoints):
            continue  # unfinished: left out
        n_failed += sum(t.state is TrialState.FAILED for t in trials)
        ask_ms += [1e3 * t.searcher_time for t in trials if t.searcher_time is not None]
        for k in checkpoints:
            best, best_params = math.inf, None
            for t in trials[:k]:
                ok = t.state is TrialState.COMPLETE and t.value is not None
                if ok and math.isfinite(t.value) and sign * t.value < best:
                    best, best_params = sign * t.value, dict(t.params)
            if clean is not None and best_params is not None:
                best = sign * clean(best_params)
            losses[k][member.seed] = best
    return Runs(losses, ask_ms, n_failed)


@dataclass
class ProblemScores:
    """Mean normalized regret and mean rank per label and checkpoint, for one problem."""

    problem: str
    half: str
    shape: str
    regret: dict[int, dict[str, float]]
    rank: dict[int, dict[str, float]]
    ask_ms: dict[str, float]
    n_seeds: int
    n_failed: int


def score_problem(
    name: str,
    half: str,
    shape: str,
    runs: dict[str, Runs],
    bases: dict[str, str],
    field_labels: Sequence[str],
    checkpoints: Sequence[int],
) -> ProblemScores:
    """Regret and ranks on one problem. ``bases`` maps a variant's label to the label it
    stands in for; a variant is ranked in ``field_labels`` with it in its base's place."""
    import numpy as np
    from scipy.stats import rankdata

    from hpo._stats import normalized_regret, to_loss
    from hpo.benchmarks import get_problem

    problem = get_problem(name)
    assert problem.optimum is not None and problem.reference is not None
    optimum = float(to_loss([problem.optimum], problem.direction)[0])
    reference = float(to_loss([problem.reference], problem.direction)[0])
    labels = list(runs)
    seeds = sorted(set.intersection(*(set(r.losses[checkpoints[0]]) for r in runs.values())))
    regret: dict[int, dict[str, float]] = {}
    rank: dict[int, dict[str, float]] = {}
    for k in checkpoints:
        regret[k] = {
            lab: float(
                np.mean(
                    normalized_regret([runs[lab].losses[k][s] for s in seeds], optimum, reference)
                )
            )
            for lab in labels
        }
        rank[k] = {}
        for lab in labels:
            base = bases.get(lab, lab)
            field_now = [lab if other == base else other for other in field_labels]
            if lab not in field_now:
                field_now.append(lab)
            field_now = [f for f in field_now if f in runs]
            table = np.array([[runs[f].losses[k][s] for s in seeds] for f in field_now])
            ranks = rankdata(table, axis=0)
            rank[k][lab] = float(np.mean(ranks[field_now.index(lab)]))
    ask_ms = {
        lab: float(np.median(r.ask_ms)) if r.ask_ms else float("nan") for lab, r in runs.items()
    }
    failed = sum(r.n_failed for r in runs.values())
    return ProblemScores(name, half, shape, regret, rank, ask_ms, len(seeds), failed)


# --- rendering -----------------------------------------------------------------------------
def _mean(scores: Sequence[ProblemScores], what: str, k: int, label: str) -> float:
    return statistics.fmean(getattr(s, what)[k][label] for s in scores)


def _fmt(x: float) -> str:
    return f"{x:.4f}" if x < 10 else f"{x:.1f}"


def _ms(x: float) -> str:
    return "-" if x != x else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def _summary(
    scores: list[ProblemScores], labels: Sequence[str], checkpoints: Sequence[int]
) -> list[str]:
    cols = [f"regret@{k}" for k in checkpoints] + [f"rank@{k}" for k in checkpoints]
    lines = ["| searcher | " + " | ".join(cols) + " | ms per ask (median) |"]
    lines.append("|---" * (len(cols) + 2) + "|")
    top = max(checkpoints)
    for lab in sorted(labels, key=lambda lab: _mean(scores, "regret", top, lab)):
        cells = [_fmt(_mean(scores, "regret", k, lab)) for k in checkpoints]
        cells += [f"{_mean(scores, 'rank', k, lab):.2f}" for k in checkpoints]
        ms = statistics.median(s.ask_ms[lab] for s in scores)
        name = f"**{lab}**" if lab.split("-")[0] in OURS or lab in OURS else lab
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_ms(ms)} |")
    return lines


def _targets(
    scores: list[ProblemScores],
    labels: Sequence[str],
    checkpoints: Sequence[int],
    ours: Sequence[str],
) -> list[str]:
    lines = []
    peers = [lab for lab in labels if lab in PEERS]
    mine = [lab for lab in labels if lab in ours]
    ahead_at: dict[int, list[str]] = {}
    for k in checkpoints:
        regrets = {lab: _mean(scores, "regret", k, lab) for lab in labels}
        ranks = {lab: _mean(scores, "rank", k, lab) for lab in labels}
        best_regret = min(regrets, key=lambda lab: regrets[lab])
        best_rank = min(ranks, key=lambda lab: ranks[lab])
        detail = (
            f"lowest regret: {best_regret} ({regrets[best_regret]:.4f}); best rank: "
            f"{best_rank} ({ranks[best_rank]:.2f})"
        )
        ahead: list[str] = []
        if mine and peers:
            best_peer = min(peers, key=lambda lab: regrets[lab])
            best_peer_rank = min(peers, key=lambda lab: ranks[lab])
            ahead = [
                lab
                for lab in mine
                if regrets[lab] < regrets[best_peer] and ranks[lab] < ranks[best_peer_rank]
            ]
            shown = ahead or [min(mine, key=lambda lab: (regrets[lab], ranks[lab]))]
            ours_text = ", ".join(
                f"{lab} {regrets[lab]:.4f} / rank {ranks[lab]:.2f}" for lab in shown
            )
            detail += (
                f"; {'ahead' if ahead else 'our lowest regret'}: {ours_text}"
                f" vs best peers {best_peer} {regrets[best_peer]:.4f} (regret), "
                f"{best_peer_rank} {ranks[best_peer_rank]:.2f} (rank)"
            )
        ahead_at[k] = ahead
        lines.append(
            f"- At {k} trials, a searcher of ours has a lower regret and a better rank than "
            f"every peer: **{'met' if ahead else 'NOT MET'}** ({detail})."
        )
    if mine and peers and len(checkpoints) > 1:
        same = [lab for lab in mine if all(lab in ahead_at[k] for k in checkpoints)]
        per_budget = "; ".join(f"{k}: {', '.join(ahead_at[k]) or 'none'}" for k in checkpoints)
        lines.append(
            f"- One searcher of ours ahead of every peer on both measures at every budget: "
            f"**{'met (' + ', '.join(same) + ')' if same else 'NOT MET'}** ({per_budget})."
        )
    members = [m for m in PORTFOLIO_MEMBERS if m in labels]
    if "portfolio" in labels and len(members) == len(PORTFOLIO_MEMBERS):
        for k in checkpoints:
            worse = []
            for s in scores:
                median = statistics.median(s.regret[k][m] for m in members)
                if s.regret[k]["portfolio"] > median:
                    worse.append(f"{s.problem} ({s.regret[k]['portfolio']:.4f} > {median:.4f})")
            verdict = "met" if not worse else "NOT MET"
            tail = f"; worse on {', '.join(worse)}" if worse else ""
            lines.append(
                f"- At {k} trials, portfolio is never worse than the median of its members "
                f"({', '.join(members)}): **{verdict}** ({len(scores) - len(worse)}/"
                f"{len(scores)} problems{tail})."
            )
    return lines


def _per_problem(
    scores: list[ProblemScores], labels: Sequence[str], checkpoints: Sequence[int]
) -> list[str]:
    lines = ["| problem | shape | " + " | ".join(labels) + " |"]
    lines.append("|---" * (2 + len(labels)) + "|")
    for s in scores:
        best = {k: min(s.regret[k].values()) for k in checkpoints}
        cells = []
        for lab in labels:
            if lab not in s.regret[checkpoints[0]]:
                cells.append("-")
                continue
            vals = [
                f"**{_fmt(s.regret[k][lab])}**"
                if s.regret[k][lab] == best[k]
                else _fmt(s.regret[k][lab])
                for k in checkpoints
            ]
            cells.append(" / ".join(vals))
        fail = f" ({s.n_failed} failed trials)" if s.n_failed else ""
        lines.append(f"| {s.problem}{fail} | {s.shape} | " + " | ".join(cells) + " |")
    return lines


def render(
    scores: list[ProblemScores],
    labels: Sequence[str],
    checkpoints: Sequence[int],
    timing: dict[str, float],
    elapsed: float,
    jobs: int,
    reused: int,
    ran: int,
    extra: Sequence[ProblemScores] = (),
) -> str:
    """The markdown section: per half, a summary, the targets and per-problem regrets
    (``extra``: problems some searcher has not finished, in the per-problem tables only)."""
    halves = [h for h in ("checking", "tuning") if any(s.half == h for s in [*scores, *extra])]
    field_labels = [lab for lab in labels if lab in SEARCHERS]
    sizes = "; ".join(f"{h} half: {sum(s.half == h for s in scores)} problems" for h in halves)
    seeds = sorted({s.n_seeds for s in scores})
    lines = [
        HEADING,
        "",
        f"{datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `make bench-quality` ({sizes}; "
        f"{' or '.join(map(str, seeds))} seeds per problem, {max(checkpoints)} trials per "
        "study, sequential). Mean normalized regret (0 = optimum or best known, 1 = "
        "reference; lower is better) and average rank (1 = best of "
        f"{len(field_labels)}), each problem weighing the same; ms per ask: the searcher's "
        "own time per ask+tell, median over every trial of the half. The split is by family "
        "(`hpo/benchmarks/suite.py`): searchers were tuned on the tuning half only, and the "
        "checking half holds functions and models no one tuned on.",
        "",
    ]
    for half in halves:
        part = [s for s in scores if s.half == half]
        title = "Checking half (decides the targets)" if half == "checking" else "Tuning half"
        lines += [f"### {title}", ""]
        if part:
            lines += _summary(part, labels, checkpoints)
            lines += [
                "",
                "Bold: ours. Peers run through hpo's adapters with their libraries' defaults.",
                "",
            ]
            ours = [lab for lab in labels if lab in OURS]
            lines += _targets(part, field_labels, checkpoints, ours)
        lines += [
            "",
            f"Per problem: mean normalized regret at {' / '.join(map(str, checkpoints))} "
            "trials (bold: the lowest on that problem at that budget).",
            "",
        ]
        lines += _per_problem(part + [s for s in extra if s.half == half], labels, checkpoints)
        lines.append("")
    lines.append(
        "Job time per half (sum of its jobs' wall times, i.e. on one core, for the jobs run "
        "now): "
        + ", ".join(f"{h} {timing.get(h, 0.0) / 60:.1f} min" for h in halves)
        + f"; {ran} (problem, searcher) jobs run and {reused} reused from "
        f"`benchmarks/.cache/quality.db` (same fingerprint); {elapsed / 60:.1f} min elapsed "
        f"with {jobs} parallel jobs."
    )
    return "\n".join(lines) + "\n"


# --- main --------------------------------------------------------------------------------
def _entry(text: str) -> Entry:
    """``LABEL=NAME`` or ``LABEL=NAME:{json}`` (a variant), or a plain registered name."""
    if "=" not in text:
        return Entry(text, text)
    label, _, spec = text.partition("=")
    name, brace, rest = spec.partition(":{")
    if not brace and spec.count(":") and "{" not in spec:
        name = spec  # a peer's name such as optuna:gp
    kwargs = json.loads("{" + rest) if brace else {}
    if not label or not name:
        raise argparse.ArgumentTypeError(f"--variant wants LABEL=NAME[:JSON], got {text!r}")
    return Entry(label, name, kwargs)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", action="append", choices=("tuning", "checking"))
    parser.add_argument("--problems", nargs="+", help="only these problems of the suite")
    parser.add_argument("--searchers", nargs="+", help=f"default: {' '.join(SEARCHERS)}")
    parser.add_argument(
        "--variant", action="append", type=_entry, default=[], help="LABEL=NAME[:JSON]"
    )
    parser.add_argument("--seeds", type=int, help="seeds per problem (default: the suite's)")
    parser.add_argument("--n-trials", type=int, default=N_TRIALS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the database goes")
    parser.add_argument("--fresh", action="store_true", help="discard every stored run first")
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)  # the default
    parser.add_argument("--no-run", action="store_true", help="score stored runs only")
    parser.add_argument(
        "--run-only", nargs="+", help="run only these labels; score the others from storage"
    )
    parser.add_argument(
        "--pin",
        help="for ablations whose edits keep the defaults' trials (check with "
        "tests/test_seeded_runs.py): fingerprint our searchers by this tag, not their source",
    )
    args = parser.parse_args(argv)
    if args.n_trials < 1:
        parser.error("--n-trials must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    from hpo.benchmarks.suite import suite_problems

    problems = [
        p
        for p in suite_problems()
        if (not args.half or p.half in args.half) and (not args.problems or p.name in args.problems)
    ]
    unknown = set(args.problems or ()) - {p.name for p in suite_problems()}
    if unknown:
        print(f"not in the suite: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if not problems:
        print("no problems selected", file=sys.stderr)
        return 2
    entries = [Entry(n, n) for n in (args.searchers or SEARCHERS)] + list(args.variant)
    labels = [e.label for e in entries]
    if len(set(labels)) != len(labels):
        print(f"labels must be distinct, got {labels}", file=sys.stderr)
        return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    db = args.cache / "quality.db"
    if args.fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    storage = f"sqlite:///{db}"
    fingerprints = {e.label: e.fingerprint(args.pin) for e in entries}
    jobs = [
        Job(p.name, p.half, e, args.seeds or p.seeds, args.n_trials, storage, fingerprints[e.label])
        for p in problems
        for e in entries
    ]
    # single-threaded numerics in every worker (inherited by spawned processes)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    _quiet()
    todo = [
        j
        for j in jobs
        if (not args.run_only or j.entry.label in args.run_only) and not _complete(j)
    ]
    timing: dict[str, float] = {}
    start = time.perf_counter()
    if todo and not args.no_run:
        order = sorted(todo, key=lambda j: -COST.get(j.entry.name, 0.5) * j.seeds)
        print(
            f"{len(order)} jobs to run ({len(jobs) - len(todo)} stored), {args.jobs} parallel",
            file=sys.stderr,
            flush=True,
        )
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            pending: dict[Future[float], Job] = {pool.submit(run_job, j): j for j in order}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = pending.pop(fut)
                    seconds = fut.result()
                    timing[job.half] = timing.get(job.half, 0.0) + seconds
                    print(
                        f"  [{job.half}] {job.problem} {job.entry.label}: {seconds / 60:.1f} min "
                        f"({len(pending)} left, "
                        f"{(time.perf_counter() - start) / 60:.1f} min elapsed)",
                        file=sys.stderr,
                        flush=True,
                    )
    elapsed = time.perf_counter() - start
    checkpoints = [k for k in CHECKPOINTS if k <= args.n_trials] or [args.n_trials]
    bases = {e.label: e.name for e in entries if e.label != e.name}
    field_labels = [e.label for e in entries if e.label == e.name]
    scores = []
    for p in problems:
        runs = {j.entry.label: load_runs(j, checkpoints) for j in jobs if j.problem == p.name}
        runs = {lab: r for lab, r in runs.items() if r.losses[checkpoints[0]]}
        if runs:
            scores.append(
                score_problem(p.name, p.half, p.shape, runs, bases, field_labels, checkpoints)
            )
    present = [lab for lab in labels if any(lab in s.regret[checkpoints[0]] for s in scores)]
    complete = [s for s in scores if all(lab in s.regret[checkpoints[0]] for lab in present)]
    if len(complete) < len(scores):
        print(
            f"summaries over the {len(complete)} problems every searcher has finished; "
            f"per-problem tables show all {len(scores)}",
            file=sys.stderr,
        )
    section = render(
        complete,
        present,
        checkpoints,
        timing,
        elapsed,
        args.jobs,
        len(jobs) - len(todo),
        len(todo),
        extra=[s for s in scores if s not in complete],
    )
    print(section)
    subset = args.half or args.problems or args.seeds or args.searchers or args.variant
    if subset or args.n_trials != N_TRIALS or args.no_run or args.pin or args.run_only:
        print(f"(subset run: not written to {RESULTS.name})", file=sys.stderr)
    else:
        write_section(HEADING, section)
        print(f"written to {RESULTS}", file=sys.stderr)
    return 0


def _complete(job: Job) -> bool:
    """Whether every seed of the job is stored with all its trials."""
    from hpo.comparison_result import FINISHED
    from hpo.exceptions import ComparisonNotFoundError
    from hpo.storage import get_storage

    store = get_storage(job.storage)
    for seed in range(job.seeds):
        try:
            members = store.get_comparison(job.comparison(seed)).members
        except ComparisonNotFoundError:
            return False
        if not members or store.count_trials(members[0].study_id, FINISHED) < job.n_trials:
            return False
    return True


if __name__ == "__main__":
    sys.exit(main())
