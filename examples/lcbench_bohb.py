"""BOHB on an LCBench task: Bayesian optimization with Hyperband budgets, in epochs.

``lcbench-epochs-<task>`` is a surrogate of training a funnel-shaped MLP on an OpenML task
for up to 52 epochs (``hpo.benchmarks``; needs onnxruntime, ``pip install 'hpo[bench]'``).
Its objective reports the validation accuracy after every epoch; ``searcher="bohb"``
runs Hyperband brackets (many configurations for a few epochs, the best of them for
more) and proposes new configurations from a TPE-style model of the results at the
largest budget with enough observations. Trials stopped at a low budget end PRUNED.

    python examples/lcbench_bohb.py --task 3945 --n-trials 100
    python examples/lcbench_bohb.py --smoke          # a few seconds

The same number of configurations trained for all 52 epochs would cost
``52 * n_trials`` epochs; the script prints what BOHB spent.
"""

from __future__ import annotations

import argparse
import uuid

import hpo
from hpo.benchmarks import get_problem
from hpo.benchmarks.lcbench import LCBENCH_DEV_TASKS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: task, number of trials, storage and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task", type=int, default=3945, choices=LCBENCH_DEV_TASKS, help="OpenML task id"
    )
    parser.add_argument("--n-trials", type=int, default=100, help="trials to run (default: 100)")
    parser.add_argument("--smoke", action="store_true", help="a quick run: 30 trials")
    parser.add_argument(
        "--storage", default="memory", help="storage URL, or 'memory' (the default)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study; print the best accuracy, its regret, pruned trials and epochs spent."""
    args = parse_args(argv)
    storage = None if args.storage == "memory" else args.storage
    problem = get_problem(f"lcbench-epochs-{args.task}")
    study = hpo.create_study(
        problem.objective,  # reports each epoch; its budget: hpo.Budget("epoch", 1, 52)
        searcher="bohb",
        name=f"lcbench-bohb-{uuid.uuid4().hex[:6]}",
        storage=storage,
        seed=args.seed,
    )
    study.optimize(n_trials=30 if args.smoke else args.n_trials, progress=False)
    pruned = sum(t.state is hpo.TrialState.PRUNED for t in study.trials)
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher 'bohb'")
    print(f"Best validation accuracy: {study.best_value:.4f}")
    print(f"Normalized regret: {problem.normalized_regret(study.best_value):.4f}")
    print(f"Pruned trials: {pruned}")
    print(f"Total epochs: {epochs} (all trials to 52 epochs: {52 * len(study.trials)})")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
