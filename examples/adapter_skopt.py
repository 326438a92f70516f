"""Tune a scikit-learn SVM with scikit-optimize's Bayesian optimization, driven by hpo.

``skopt:gp`` fits a Gaussian process to the trials so far and proposes the point with the
best expected improvement; ``skopt:rf``, ``skopt:et`` and ``skopt:gbrt`` use tree
ensembles instead. The space has two log-scaled floats and a boolean choice; skopt sees
the boolean as a categorical over its indices, and hpo hands back ``True``/``False``.

    python examples/adapter_skopt.py --n-trials 25 --searcher skopt:gp
    python examples/adapter_skopt.py --searcher skopt:rf --storage sqlite:///skopt.db

Needs the adapters extra: ``pip install 'hpo[adapters]'``.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpo

X, y = load_breast_cancer(return_X_y=True)

SPACE = {
    "C": hpo.Float(1e-2, 1e3, log=True),
    "gamma": hpo.Float(1e-5, 1e-1, log=True),
    "shrinking": hpo.Categorical([True, False]),
}


@hpo.objective(space=SPACE, direction="maximize")
def svm_accuracy(config: dict[str, Any]) -> float:
    """Mean 3-fold cross-validated accuracy of a standardized RBF SVC with ``config``."""
    model = make_pipeline(StandardScaler(), SVC(kernel="rbf", **config))
    return float(cross_val_score(model, X, y, cv=3).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storage, searcher and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=20, help="trials to run (default: 20)")
    parser.add_argument(
        "--storage", default="memory", help="storage URL, or 'memory' (the default)"
    )
    parser.add_argument(
        "--searcher",
        default="skopt:gp",
        choices=["skopt:gp", "skopt:rf", "skopt:et", "skopt:gbrt"],
        help="skopt surrogate model (default: skopt:gp)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study and print the best configuration and its accuracy."""
    args = parse_args(argv)
    study = hpo.create_study(
        svm_accuracy,
        searcher=args.searcher,
        searcher_kwargs={"n_initial_points": 8, "acq_func": "EI"},
        name=f"skopt-svm-{uuid.uuid4().hex[:6]}",
        storage=None if args.storage == "memory" else args.storage,
        seed=args.seed,
    )
    study.optimize(n_trials=args.n_trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher {args.searcher!r}")
    print(f"Best 3-fold CV accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
