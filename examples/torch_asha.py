"""Early stopping with ASHA: tune a PyTorch MLP on the digits data set, epoch by epoch.

A multi-fidelity study: ``@hpo.objective(..., budget=hpo.Budget("epoch", 1, 30))``
declares that a trial may train up to 30 epochs. The objective reports the validation
accuracy after each epoch with ``trial.report(epoch, acc)`` and stops when
``trial.should_stop()`` says so; the ``asha`` stopper (asynchronous successive halving)
stops trials that are not among the best ``1/eta`` at 1, 3, 9 and 27 epochs, so most of
the epochs go to the promising configurations. Stopped trials end PRUNED.

    python examples/torch_asha.py --n-trials 40 --searcher tpe
    python examples/torch_asha.py --smoke          # a few seconds

Needs torch (CPU is enough) and scikit-learn (the digits data are bundled: no download).
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hpo

torch.set_num_threads(1)
_X, _y = load_digits(return_X_y=True)
_X_tr, _X_va, _y_tr, _y_va = train_test_split(
    np.asarray(_X, dtype=np.float32) / 16.0, _y, test_size=1 / 3, stratify=_y, random_state=0
)
X_TRAIN, Y_TRAIN = torch.from_numpy(_X_tr), torch.from_numpy(_y_tr)
X_VAL, Y_VAL = torch.from_numpy(_X_va), torch.from_numpy(_y_va)

SPACE = {
    "lr": hpo.Float(1e-3, 1.0, log=True),
    "weight_decay": hpo.Float(1e-6, 1e-1, log=True),
    "hidden": hpo.Int(8, 256, log=True),
    "dropout": hpo.Float(0.0, 0.7),
    "batch_size": hpo.Categorical([16, 32, 64, 128]),
}


def build(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The MLP and its SGD optimizer for ``config``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, config["hidden"]),
        torch.nn.ReLU(),
        torch.nn.Dropout(config["dropout"]),
        torch.nn.Linear(config["hidden"], 10),
    )
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config["lr"],
        momentum=0.9,
        nesterov=True,
        weight_decay=config["weight_decay"],
    )
    return model, optimizer


def train_one_epoch(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch_size: int, epoch: int
) -> float:
    """One pass over the training data; the validation accuracy afterwards."""
    torch.manual_seed(epoch)
    model.train()
    for idx in torch.randperm(len(Y_TRAIN)).split(batch_size):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X_TRAIN[idx]), Y_TRAIN[idx])
        if not torch.isfinite(loss):
            break
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(X_VAL)
    return float((logits.argmax(dim=1) == Y_VAL).float().mean()) if logits.isfinite().all() else 0.0


@hpo.objective(space=SPACE, direction="maximize", budget=hpo.Budget("epoch", 1, 30))
def train(config: dict[str, Any], trial: hpo.Trial) -> float:
    """Validation accuracy of the MLP after up to ``trial.budget`` epochs."""
    model, optimizer = build(config)
    acc = 0.0
    for epoch in range(1, int(trial.budget or 30) + 1):
        acc = train_one_epoch(model, optimizer, config["batch_size"], epoch)
        trial.report(epoch, acc)
        if trial.should_stop():
            break
    return acc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: number of trials, searcher, storage and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40, help="trials to run (default: 40)")
    parser.add_argument("--smoke", action="store_true", help="a quick run: 12 trials")
    parser.add_argument("--searcher", default="random", help="searcher name (default: random)")
    parser.add_argument(
        "--storage", default="memory", help="storage URL, or 'memory' (the default)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study; print the best accuracy, pruned trials and epochs spent."""
    args = parse_args(argv)
    storage = None if args.storage == "memory" else args.storage
    study = hpo.create_study(
        train,
        searcher=args.searcher,
        stopper="asha",
        name=f"torch-asha-{uuid.uuid4().hex[:6]}",
        storage=storage,
        seed=args.seed,
    )
    study.optimize(n_trials=12 if args.smoke else args.n_trials, progress=False)
    pruned = sum(t.state is hpo.TrialState.PRUNED for t in study.trials)
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials, searcher {args.searcher!r} + asha")
    print(f"Best validation accuracy: {study.best_value:.4f}")
    print(f"Pruned trials: {pruned}")
    print(f"Total epochs: {epochs} (without early stopping: {30 * len(study.trials)})")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
