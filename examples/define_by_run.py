"""Define-by-run: choose a model *and* its hyperparameters with ``trial.suggest_*``.

Shows the Optuna style: no space is declared up front; the objective asks the trial for
each value as it needs it, and conditional parameters are plain Python ``if`` branches
(an SVC's ``C`` exists only when the classifier is an SVC). The study records the
parameters it has seen, so ``hpo show`` prints the space afterwards.

    python examples/define_by_run.py --n-trials 30
"""

from __future__ import annotations

import argparse
import uuid

from sklearn.base import BaseEstimator
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpo

X, y = load_wine(return_X_y=True)


def build_model(trial: hpo.Trial) -> BaseEstimator:
    """A classifier whose kind and hyperparameters the trial chooses."""
    classifier = trial.suggest_categorical("classifier", ["svc", "knn", "random_forest"])
    if classifier == "svc":
        c = trial.suggest_float("svc_C", 1e-3, 1e3, log=True)
        kernel = trial.suggest_categorical("svc_kernel", ["linear", "rbf"])
        return make_pipeline(StandardScaler(), SVC(C=c, kernel=kernel))
    if classifier == "knn":
        k = trial.suggest_int("knn_n_neighbors", 1, 30)
        weights = trial.suggest_categorical("knn_weights", ["uniform", "distance"])
        return make_pipeline(StandardScaler(), KNeighborsClassifier(k, weights=weights))
    n_estimators = trial.suggest_int("rf_n_estimators", 10, 100, log=True)
    max_depth = trial.suggest_int("rf_max_depth", 2, 16, log=True)
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)


def objective(trial: hpo.Trial) -> float:
    """Mean 3-fold cross-validated accuracy of the model the trial builds."""
    return float(cross_val_score(build_model(trial), X, y, cv=3).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storage and searcher."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=30, help="trials to run (default: 30)")
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
        objective,
        direction="maximize",
        searcher=args.searcher,
        name=f"define-by-run-{uuid.uuid4().hex[:6]}",
        storage=storage,
        seed=args.seed,
    )
    study.optimize(n_trials=args.n_trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher {args.searcher!r}")
    print(f"Parameters seen: {', '.join(study.space)}")
    print(f"Best 3-fold CV accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")
    if storage is not None:
        print(f"Inspect the study with: hpo show {study.name} --storage {storage}")


if __name__ == "__main__":
    main()
