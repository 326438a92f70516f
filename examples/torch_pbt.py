"""Population-based training: a PyTorch MLP on digits whose learning rate changes while
it trains.

``searcher="pbt"`` trains a population of configurations in segments of epochs: each
trial gets ``trial.budget`` = the end of its segment. At each segment's end the worst
members copy a better member's weights (the trial's parent) and perturb its
hyperparameters; the objective continues the parent's training from
``trial.load_checkpoint()`` with the *new* learning rate and weight decay, so the
population discovers a learning-rate schedule. The checkpoint holds the epoch, the
model's and the optimizer's state.

    python examples/torch_pbt.py --n-trials 60
    python examples/torch_pbt.py --smoke           # a few seconds

Needs torch (CPU is enough) and scikit-learn (the digits data are bundled: no download).
"""

from __future__ import annotations

import argparse
import tempfile
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
HIDDEN = 64  # fixed: a child continues its parent's weights, so the shapes must agree

SPACE = {
    "lr": hpo.Float(1e-3, 1.0, log=True),
    "weight_decay": hpo.Float(1e-6, 1e-1, log=True),
    "dropout": hpo.Float(0.0, 0.7),
    "batch_size": hpo.Categorical([16, 32, 64, 128]),
}


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
    """Validation accuracy after training up to epoch ``trial.budget``, continuing the
    parent's checkpoint when there is one."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Dropout(config["dropout"]),
        torch.nn.Linear(HIDDEN, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, nesterov=True)
    state = trial.load_checkpoint()  # None on a fresh trial
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    for group in optimizer.param_groups:  # this trial's values, not the checkpoint's
        group["lr"] = config["lr"]
        group["weight_decay"] = config["weight_decay"]
    acc = 0.0
    for epoch in range(start + 1, int(trial.budget or 30) + 1):
        acc = train_one_epoch(model, optimizer, config["batch_size"], epoch)
        trial.report(epoch, acc)
        trial.save_checkpoint(
            {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
        )
        if trial.should_stop():
            break
    return acc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The example's options: number of trials, storage and seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=60, help="trials to run (default: 60)")
    parser.add_argument("--smoke", action="store_true", help="a quick run: 16 trials")
    parser.add_argument(
        "--storage", default="memory", help="storage URL, or 'memory' (the default)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the study; print the best accuracy, pruned trials and epochs spent."""
    args = parse_args(argv)
    storage = None if args.storage == "memory" else args.storage
    with tempfile.TemporaryDirectory(prefix="hpo-pbt-") as checkpoints:
        study = hpo.create_study(
            train,
            searcher="pbt",
            name=f"torch-pbt-{uuid.uuid4().hex[:6]}",
            storage=storage,
            seed=args.seed,
            artifacts=checkpoints,  # where trials keep their checkpoints
        )
        study.optimize(n_trials=16 if args.smoke else args.n_trials, progress=False)
    pruned = sum(t.state is hpo.TrialState.PRUNED for t in study.trials)
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    continued = sum(t.parent is not None for t in study.trials)
    print(f"Study {study.name!r}: {len(study.trials)} trials with searcher 'pbt'")
    print(f"Best validation accuracy: {study.best_value:.4f}")
    print(f"Pruned trials: {pruned}")
    print(f"Total epochs: {epochs}")
    print(f"Trials continuing a parent: {continued}")
    print(f"Best configuration: {study.best_params}")


if __name__ == "__main__":
    main()
