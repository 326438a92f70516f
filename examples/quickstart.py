"""Quickstart: tune a scikit-learn SVM with 3-fold cross-validation.

Shows the declared-space style: ``@hpo.objective`` binds the function to its search space
and direction, ``hpo.create_study`` stores the study (SQLite by default) and
``study.optimize`` runs it. The space mixes a log-scaled float (``C``, ``gamma``), an
integer (``degree``) and a categorical (``kernel``), with conditional parameters: ``gamma``
exists only for the rbf and poly kernels, ``degree`` only for poly.

    python examples/quickstart.py --n-trials 40 --searcher random
    hpo studies --storage sqlite:///hpo-quickstart.db       # the stored study afterwards

The objective is importable, so the CLI can run it too::

    hpo run examples/quickstart.py:svm_accuracy --n-trials 20 --storage sqlite:///hpo.db
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
    "kernel": hpo.Categorical(["linear", "rbf", "poly"]),
    "C": hpo.Float(1e-3, 1e3, log=True),
    "gamma": hpo.Float(1e-4, 1.0, log=True, when={"kernel": ["rbf", "poly"]}),
    "degree": hpo.Int(2, 5, when={"kernel": "poly"}),
}


@hpo.objective(space=SPACE, direction="maximize")
def svm_accuracy(config: dict[str, Any]) -> float:
    """Mean 3-fold cross-validated accuracy of a standardized SVC with ``config``."""
    model = make_pipeline(StandardScaler(), SVC(**config))
    return float(cross_val_score(model, X, y, cv=3).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storage and searcher."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40, help="trials to run (default: 40)")
    parser.add_argument(
        "--storage",
        default="sqlite:///hpo-quickstart.db",
        help="storage URL, or 'memory' to keep nothing (default: sqlite:///hpo-quickstart.db)",
    )
    parser.add_argument("--searcher", default="random", help="searcher name (default: random)")
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study and print the best configuration and its accuracy."""
    args = parse_args(argv)
    storage = None if args.storage == "memory" else args.storage
    study = hpo.create_study(
        svm_accuracy,
        searcher=args.searcher,
        name=f"quickstart-svm-{uuid.uuid4().hex[:6]}",
        storage=storage,
        seed=args.seed,
    )
    study.optimize(n_trials=args.n_trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher {args.searcher!r}")
    print(f"Best 3-fold CV accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")
    if storage is not None:
        print(f"Inspect the study with: hpo show {study.name} --storage {storage}")


if __name__ == "__main__":
    main()
