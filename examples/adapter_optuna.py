"""Tune a scikit-learn extra-trees classifier with Optuna's TPE, then hand the study to
Optuna.

``searcher="optuna:tpe"`` runs Optuna's TPESampler behind hpo's API: the study is stored by
hpo (in memory here, or ``--storage``), and the conditional space (``max_depth`` only for
depth-limited trees, ``max_leaf_nodes`` only for leaf-limited ones) is driven define-by-run
inside Optuna. The finished study is then exported to an Optuna storage, where Optuna's own
tools (``optuna.load_study``, optuna-dashboard, its plots) can read it.

    python examples/adapter_optuna.py --n-trials 30 --optuna-storage sqlite:///optuna.db
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from sklearn.datasets import load_wine
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.model_selection import cross_val_score

import hpo
from hpo.adapters.optuna import export_optuna_study

X, y = load_wine(return_X_y=True)

SPACE = {
    "n_estimators": hpo.Int(10, 60, step=10),
    "max_features": hpo.Float(0.1, 1.0, step=0.1),
    "criterion": hpo.Categorical(["gini", "entropy"]),
    "limit": hpo.Categorical(["depth", "leaves"]),
    "max_depth": hpo.Int(2, 12, when={"limit": "depth"}),
    "max_leaf_nodes": hpo.Int(4, 64, log=True, when={"limit": "leaves"}),
    "min_samples_leaf": hpo.Int(1, 16, log=True),
}


@hpo.objective(space=SPACE, direction="maximize")
def boosting_accuracy(config: dict[str, Any]) -> float:
    """Mean 3-fold cross-validated accuracy of an extra-trees classifier with ``config``."""
    params = {k: v for k, v in config.items() if k != "limit"}
    model = ExtraTreesClassifier(random_state=0, n_jobs=1, **params)
    return float(cross_val_score(model, X, y, cv=3).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storages and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=30, help="trials to run (default: 30)")
    parser.add_argument("--storage", default=None, help="hpo storage URL (default: in memory)")
    parser.add_argument(
        "--optuna-storage",
        default="sqlite:///optuna-example.db",
        help="Optuna storage URL to export to (default: sqlite:///optuna-example.db)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study with optuna:tpe, print the best trial, export it to Optuna."""
    args = parse_args(argv)
    study = hpo.create_study(
        boosting_accuracy,
        searcher="optuna:tpe",
        searcher_kwargs={"n_startup_trials": 5},
        name=f"optuna-example-{uuid.uuid4().hex[:6]}",
        storage=args.storage,
        seed=args.seed,
    )
    study.optimize(n_trials=args.n_trials, progress=False)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher 'optuna:tpe'")
    print(f"Best 3-fold CV accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")
    name = export_optuna_study(study, args.optuna_storage)
    print(f"Exported to Optuna: study {name!r} in {args.optuna_storage}")


if __name__ == "__main__":
    main()
