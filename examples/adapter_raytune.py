"""Run an hpo study through Ray Tune with the ASHA scheduler.

The objective is a deterministic toy learning curve: accuracy rises with the epochs at a
speed set by the learning rate and levels off at a ceiling that is best near lr = 0.01.
It reports every epoch and checkpoints its state, so ASHA stops poor trials early (they
are stored as PRUNED with their reports) and the rest run to the end (COMPLETE).

    python examples/adapter_raytune.py --n-trials 12 --storage sqlite:///hpo.db
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import hpo

EPOCHS = 20


def toy_accuracy(lr: float, epoch: int) -> float:
    """A smooth learning curve: ceiling best at lr = 1e-2, speed growing with lr."""
    ceiling = 0.95 - 0.15 * (math.log10(lr) + 2.0) ** 2
    return ceiling * (1.0 - math.exp(-epoch * lr * 30.0))


@hpo.objective(space={"lr": hpo.Float(1e-4, 1e-1, log=True)}, direction="maximize")
def train(config: dict[str, Any], trial: hpo.Trial) -> float:
    state = trial.load_checkpoint()
    start = state["epoch"] if state else 0
    acc = state["acc"] if state else 0.0
    for epoch in range(start + 1, EPOCHS + 1):
        acc = toy_accuracy(config["lr"], epoch)
        trial.report(epoch, acc)
        trial.save_checkpoint({"epoch": epoch, "acc": acc})
        if trial.should_stop():
            break
    return acc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=12)
    parser.add_argument("--storage", default=None, help="a SQL URL; in memory by default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import ray
    from ray.tune.schedulers import ASHAScheduler

    from hpo.adapters.raytune import run_with_tune

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        study = hpo.create_study(train, storage=args.storage, seed=args.seed)
        scheduler = ASHAScheduler(max_t=EPOCHS, grace_period=2, reduction_factor=3)
        run_with_tune(study, args.n_trials, scheduler=scheduler, verbose=0)
    finally:
        ray.shutdown()
    states = [t.state.value for t in study.trials]
    print(
        f"{len(states)} trials: {states.count('COMPLETE')} complete, "
        f"{states.count('PRUNED')} stopped early by ASHA"
    )
    print(f"Best accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
