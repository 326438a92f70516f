"""HPOSearchCV: a drop-in for scikit-learn's GridSearchCV driven by any hpo searcher.

Tunes a standardized SVC in a pipeline on the breast-cancer dataset with 3-fold
cross-validation. The space uses the pipeline's nested parameter names (``svc__C``) and a
conditional parameter (``svc__gamma`` only for the rbf kernel). The search is an ordinary
scikit-learn estimator (``best_params_``, ``cv_results_``, ``predict``); its trials are an
hpo study (``search.study_``), stored in SQLite so ``hpo show`` can display them.

    python examples/adapter_sklearn.py --n-trials 20 --searcher random
    hpo studies --storage sqlite:///hpo-sklearn.db
"""

from __future__ import annotations

import argparse
import uuid

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpo
from hpo.adapters.sklearn import HPOSearchCV

SPACE = {
    "svc__kernel": hpo.Categorical(["linear", "rbf"]),
    "svc__C": hpo.Float(1e-2, 1e3, log=True),
    "svc__gamma": hpo.Float(1e-4, 1.0, log=True, when={"svc__kernel": "rbf"}),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budget, storage, searcher and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=20, help="candidates (default: 20)")
    parser.add_argument(
        "--storage",
        default="sqlite:///hpo-sklearn.db",
        help="storage URL, or 'memory' to keep nothing (default: sqlite:///hpo-sklearn.db)",
    )
    parser.add_argument("--searcher", default=None, help="searcher name (default: hpo's)")
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the search, then print the best configuration, its CV and held-out accuracy."""
    args = parse_args(argv)
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    search = HPOSearchCV(
        Pipeline([("scale", StandardScaler()), ("svc", SVC())]),
        SPACE,
        searcher=args.searcher,
        n_trials=args.n_trials,
        cv=3,
        storage=None if args.storage == "memory" else args.storage,
        study_name=f"sklearn-svc-{uuid.uuid4().hex[:6]}",
        seed=args.seed,
    )
    search.fit(X_train, y_train)
    study = search.study_
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher {study.searcher_name!r}")
    print(f"Best 3-fold CV accuracy: {search.best_score_:.4f}")
    print(f"Best configuration: {search.best_params_}")
    print(f"Held-out accuracy of the refit pipeline: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
