"""AutoGluon adapter: tune LightGBM with an hpo searcher, then record a full AutoGluon run
in the same storage and compare the best validation scores.

Both studies score on the same AutoGluon hold-out split (``holdout_frac``) of the
breast-cancer dataset, so their values are comparable: the first study is one trial per
LightGBM configuration proposed by the searcher; the second is one trial per model of
AutoGluon's own leaderboard (weighted ensemble included).

    python examples/adapter_autogluon.py --n-trials 8 --time-limit 20
    hpo studies --storage sqlite:///hpo-autogluon.db
"""

from __future__ import annotations

import argparse
import uuid

from sklearn.datasets import load_breast_cancer

import hpo
from hpo.adapters.autogluon import autogluon_objective, record_autogluon

HOLDOUT_FRAC = 0.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: budgets, storage, searcher and the AutoGluon models."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=8, help="LightGBM trials (default: 8)")
    parser.add_argument(
        "--time-limit", type=float, default=20.0, help="seconds per trial (default: 20)"
    )
    parser.add_argument(
        "--automl-time-limit", type=float, default=60.0, help="AutoGluon run (default: 60)"
    )
    parser.add_argument(
        "--automl-models",
        default=None,
        help="comma-separated model families for the AutoGluon run, e.g. GBM,RF "
        "(default: AutoGluon's presets)",
    )
    parser.add_argument(
        "--storage",
        default="sqlite:///hpo-autogluon.db",
        help="storage URL (default: sqlite:///hpo-autogluon.db)",
    )
    parser.add_argument("--searcher", default="random", help="searcher name (default: random)")
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Tune LightGBM, record AutoGluon, print both best validation scores."""
    args = parse_args(argv)
    data = load_breast_cancer(as_frame=True).frame
    tag = uuid.uuid4().hex[:6]
    objective = autogluon_objective(
        data, "target", model="GBM", time_limit=args.time_limit, holdout_frac=HOLDOUT_FRAC
    )
    tuned = hpo.create_study(
        objective,
        searcher=args.searcher,
        name=f"autogluon-lightgbm-{tag}",
        storage=args.storage,
        seed=args.seed,
    )
    tuned.optimize(n_trials=args.n_trials, progress=False)
    automl = hpo.create_study(
        direction="maximize", name=f"autogluon-automl-{tag}", storage=args.storage
    )
    models = args.automl_models
    record_autogluon(
        automl,
        data,
        "target",
        time_limit=args.automl_time_limit,
        presets="medium_quality",
        holdout_frac=HOLDOUT_FRAC,
        hyperparameters={m.strip(): {} for m in models.split(",")} if models else None,
    )
    best = automl.best_trial
    print(f"Studies {tuned.name!r} and {automl.name!r} in {args.storage}")
    print(f"LightGBM tuned by {args.searcher!r}: {len(tuned.trials)} trials")
    print(f"Best LightGBM validation accuracy: {tuned.best_value:.4f}")
    print(f"Best LightGBM configuration: {tuned.best_params}")
    print(f"AutoGluon run: {len(automl.trials)} models")
    print(f"Best AutoGluon validation accuracy: {best.value:.4f}")
    print(f"Best AutoGluon model: {best.params['model']}")


if __name__ == "__main__":
    main()
