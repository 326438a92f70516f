"""``hpo compare``: run (or resume) a comparison of searchers on a benchmark problem and
print its summary table, or summarize a stored one with ``--show``::

    hpo compare branin --searchers random,tpe --seeds 5 --n-trials 30 --storage URL
    hpo compare --show branin-random-tpe-5x30 --storage URL

Without ``--name`` the comparison is named ``<problem>-<searchers>-<seeds>x<n_trials>``,
so running the same command again resumes it (complete studies are skipped) instead of
starting over. Unknown problems or searchers, and a missing comparison, are usage errors
(exit code 2).
"""

from __future__ import annotations

import argparse
import difflib
import math
from typing import TYPE_CHECKING, Any

from hpo.cli._common import (
    EXIT_OK,
    UsageError,
    err,
    first_line,
    open_existing_storage,
    open_storage,
    plural,
    positive_int,
    storage_url,
)
from hpo.cli.report import format_table

if TYPE_CHECKING:
    from hpo.compare import ComparisonResult


def add_parser(sub: Any) -> None:
    """Register ``hpo compare`` on the subcommand parsers."""
    from hpo.searchers import available_searchers

    parser = sub.add_parser(
        "compare",
        help="compare searchers on a benchmark problem (several seeds), or show a stored one",
        description="Run every searcher with every seed on PROBLEM for N trials each (or "
        "resume the comparison of that name), then print one row per searcher: normalized "
        "regret, average rank, final values (median, IQM with 95% CI), a paired Wilcoxon "
        "test against the best searcher, and the time per ask. --show NAME prints the "
        "table of a stored comparison.",
        epilog=f"problems: {problems_text()}. Example: hpo compare branin --searchers "
        "random,tpe --seeds 5 --n-trials 30",
    )
    parser.add_argument(
        "problem", nargs="?", metavar="PROBLEM", help="a benchmark problem name (listed below)"
    )
    parser.add_argument(
        "--searchers",
        metavar="A,B,...",
        help=f"comma-separated searcher names, from: {', '.join(available_searchers())}",
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=5, metavar="K", help="seeds 0..K-1 (default: 5)"
    )
    parser.add_argument("--n-trials", type=positive_int, metavar="N", help="trials per study")
    parser.add_argument("--name", help="the comparison's name (default: from the arguments)")
    parser.add_argument(
        "--n-workers", type=positive_int, default=1, metavar="K", help="trials at once"
    )
    parser.add_argument(
        "--executor", choices=("serial", "thread", "process"), help="where trials run"
    )
    parser.add_argument("--show", metavar="NAME", help="summarize the stored comparison NAME")
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="storage URL (default: $HPO_STORAGE, else sqlite:///hpo.db)",
    )
    parser.set_defaults(handler=cmd_compare)


def problems_text() -> str:
    """The built-in problems, LCBench tasks grouped: ``branin, ..., lcbench-<task> and
    lcbench-epochs-<task> for task in 3945, ...``."""
    from hpo.benchmarks import available_problems

    names = available_problems()
    tasks = sorted(
        {n.rsplit("-", 1)[1] for n in names if n.startswith("lcbench-")},
        key=lambda t: (len(t), t),
    )
    plain = [n for n in names if not n.startswith("lcbench-")]
    lcbench = [f"lcbench-{t}" for t in tasks]
    text = ", ".join(plain)
    if tasks:
        epochs = all(f"lcbench-epochs-{t}" in names for t in tasks)
        both = "lcbench-<task> and lcbench-epochs-<task>" if epochs else "lcbench-<task>"
        text += f"; {both} for task in {', '.join(tasks)}"
        extra = [n for n in names if n.startswith("lcbench-") and n not in lcbench]
        extra = [n for n in extra if not (epochs and n.startswith("lcbench-epochs-"))]
        text += f"; {', '.join(extra)}" if extra else ""
    return text


def cmd_compare(args: argparse.Namespace) -> int:
    """``hpo compare``: run or resume (or, with ``--show``, read) and print the table."""
    if args.show is not None:
        if args.problem is not None or args.searchers is not None:
            raise UsageError("--show NAME takes no PROBLEM or --searchers")
        result = _load(args.storage, args.show)
        try:
            print(describe(result))
        finally:
            result.storage.close()
        return EXIT_OK
    return _run(args)


def _load(storage_arg: str | None, name: str) -> ComparisonResult:
    from hpo.compare import load_comparison
    from hpo.exceptions import ComparisonNotFoundError

    url = storage_url(storage_arg)
    storage = open_existing_storage(url)
    if storage is None:
        raise UsageError(f"no comparison named {name!r}: {url} does not exist")
    try:
        return load_comparison(name, storage)
    except ComparisonNotFoundError:
        names = [c.name for c in storage.list_comparisons()]
        storage.close()
        if not names:
            raise UsageError(f"no comparison named {name!r}: {url} has no comparisons") from None
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"no comparison named {name!r} in {url}.{hint} Existing: {', '.join(names)}"
        ) from None


def _run(args: argparse.Namespace) -> int:
    from hpo.benchmarks import available_problems
    from hpo.compare import compare
    from hpo.searchers import available_searchers

    if args.problem is None:
        raise UsageError("give a PROBLEM to run, or --show NAME to summarize a stored comparison")
    if args.problem not in available_problems():
        close = difflib.get_close_matches(args.problem, available_problems(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"unknown problem {args.problem!r}.{hint} Available: {', '.join(available_problems())}"
        )
    if not args.searchers:
        raise UsageError("--searchers is required, e.g. --searchers random,tpe")
    if args.n_trials is None:
        raise UsageError("--n-trials is required")
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    for name in searchers:
        if name not in available_searchers():
            close = difflib.get_close_matches(name, available_searchers(), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"unknown searcher {name!r}.{hint} Available: {', '.join(available_searchers())}"
            )
    if len(set(searchers)) != len(searchers):
        raise UsageError(f"--searchers lists a searcher twice: {args.searchers!r}")
    name = args.name or f"{args.problem}-{'-'.join(searchers)}-{args.seeds}x{args.n_trials}"
    url = storage_url(args.storage)
    storage = open_storage(url)
    err(
        f"Comparison {name!r}: {args.problem}, {', '.join(searchers)} x "
        f"{plural(args.seeds, 'seed')} x {plural(args.n_trials, 'trial')}, in {url}"
    )
    try:
        result = compare(
            args.problem,
            searchers,
            seeds=args.seeds,
            n_trials=args.n_trials,
            storage=storage,
            name=name,
            executor=args.executor,
            n_workers=args.n_workers,
            load_if_exists=True,
        )
    except ValueError as exc:  # a stored comparison of that name with another definition
        raise UsageError(first_line(exc)) from None
    finally:
        storage.close()
    print(describe(result))
    return EXIT_OK


def describe(result: ComparisonResult) -> str:
    """The text ``hpo compare`` prints: a header line and one row per searcher."""
    rec = result.record
    basis = (
        "0 = optimum, 1 = reference"
        if result.regret_basis == "optimum"
        else "0 = best value seen, 1 = median first value"
    )
    lines = [
        f"Comparison {rec.name!r}: {rec.problem} ({rec.direction}), "
        f"{plural(len(result.labels), 'searcher')} x {plural(len(result.seeds), 'seed')} x "
        f"{plural(rec.n_trials, 'trial')}; regret: {basis}",
    ]
    records: list[dict[Any, Any]] = result.table().to_dict("records")
    tied = set(result.tied_with_best)
    best = result.best_searcher if records else None

    def verdict(label: str, p: Any) -> Any:  # never call a tie a win
        if label == best:
            return "tied" if tied else "best"
        return "tied" if label in tied else _num(p)

    rows = [
        [
            r["searcher"],
            _num(r["normalized_regret"]),
            _num(r["average_rank"]),
            _num(r["final_median"]),
            _num(r["final_iqm"]),
            f"[{_fmt(r['final_iqm_ci_low'])}, {_fmt(r['final_iqm_ci_high'])}]",
            verdict(r["searcher"], r["wilcoxon_p"]),
            _num(r["searcher_time_mean"] * 1000),
            f"{r['n_trials']} ({r['n_failed']} failed)" if r["n_failed"] else r["n_trials"],
        ]
        for r in records
    ]
    headers = [
        "SEARCHER",
        "REGRET",
        "RANK",
        "MEDIAN",
        "IQM",
        "IQM 95% CI",
        "WILCOXON P",
        "ASK MS",
        "TRIALS",
    ]
    lines.append(format_table(headers, rows))
    if tied:
        names = ", ".join(sorted({best, *tied} - {None}))  # type: ignore[arg-type]
        lines.append(f"Note: {names} tie (equal median final value): no winner among them.")
    lines += startup_notes(result)
    return "\n".join(lines)


def startup_notes(result: ComparisonResult) -> list[str]:
    """A line per searcher whose start-up phase (random or space-filling trials before its
    model is used) covers the comparison's budget: such a comparison measures start-up
    designs, not searchers (``tpe`` and ``random`` then draw the same points)."""
    from hpo.benchmarks import available_problems, get_problem
    from hpo.searchers import make_searcher

    rec = result.record
    if rec.problem not in available_problems():
        return []
    space = get_problem(rec.problem).space
    notes = []
    for entry in rec.spec.get("searchers", []):
        try:
            searcher = make_searcher(entry["searcher"], space, **entry.get("kwargs", {}))
        except Exception:  # a searcher that needs more (a budget, a library): say nothing
            continue
        startup = searcher.startup_trials
        if startup >= rec.n_trials:
            notes.append(
                f"Note: {entry['label']} spends its first {plural(startup, 'trial')} on its "
                f"start-up design, so at {plural(rec.n_trials, 'trial')} it has not used its "
                "model yet: raise --n-trials to compare the searcher itself."
            )
    return notes


def _num(value: Any) -> float | None:
    """A finite number, or ``None`` (printed as ``-``)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _fmt(value: Any) -> str:
    return "-" if not math.isfinite(value) else f"{value:.4g}"
