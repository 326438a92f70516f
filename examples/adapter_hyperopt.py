"""Tune a scikit-learn classifier with hyperopt's TPE, driven by hpo.

The space is conditional: ``model`` picks a logistic regression or a random forest, and
each model has its own parameters (``C`` only for the regression; ``n_estimators``,
``max_depth`` and ``max_features`` only for the forest). The ``hyperopt:*`` searchers
translate it into nested ``hp.choice`` branches, so TPE models each branch separately.

    python examples/adapter_hyperopt.py --n-trials 30 --searcher hyperopt:tpe
    python examples/adapter_hyperopt.py --searcher hyperopt:anneal --storage memory

Needs the adapters extra: ``pip install 'hpo[adapters]'``.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hpo

X, y = load_wine(return_X_y=True)

SPACE = {
    "model": hpo.Categorical(["logistic", "forest"]),
    "C": hpo.Float(1e-3, 1e2, log=True, when={"model": "logistic"}),
    "n_estimators": hpo.Int(10, 60, step=10, when={"model": "forest"}),
    "max_depth": hpo.Int(2, 12, when={"model": "forest"}),
    "max_features": hpo.Categorical(["sqrt", "log2", None], when={"model": "forest"}),
}


@hpo.objective(space=SPACE, direction="maximize")
def wine_accuracy(config: dict[str, Any]) -> float:
    """Mean 3-fold cross-validated accuracy of the model ``config`` describes."""
    params = {k: v for k, v in config.items() if k != "model"}
    if config["model"] == "logistic":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, **params))
    else:
        model = RandomForestClassifier(random_state=0, **params)
    return float(cross_val_score(model, X, y, cv=3).mean())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storage, searcher and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=30, help="trials to run (default: 30)")
    parser.add_argument(
        "--storage", default="memory", help="storage URL, or 'memory' (the default)"
    )
    parser.add_argument(
        "--searcher",
        default="hyperopt:tpe",
        choices=["hyperopt:tpe", "hyperopt:anneal", "hyperopt:rand"],
        help="hyperopt algorithm (default: hyperopt:tpe)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study and print the best configuration and its accuracy."""
    args = parse_args(argv)
    kwargs = {"n_startup_jobs": 10} if args.searcher == "hyperopt:tpe" else {}
    study = hpo.create_study(
        wine_accuracy,
        searcher=args.searcher,
        searcher_kwargs=kwargs,
        name=f"hyperopt-wine-{uuid.uuid4().hex[:6]}",
        storage=None if args.storage == "memory" else args.storage,
        seed=args.seed,
    )
    study.optimize(n_trials=args.n_trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher {args.searcher!r}")
    print(f"Best 3-fold CV accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
