"""A real PyTorch multi-fidelity task: an MLP on scikit-learn's digits, budget = epochs.

``torch-digits`` **maximizes the validation accuracy** (0..1) of a one-hidden-layer MLP
(64 -> ``hidden`` -> 10, ReLU, ``dropout``) trained with SGD (Nesterov momentum 0.9,
``lr``, ``weight_decay``) and mini-batches of ``batch_size`` on digits (1797 x 64, 10
classes, bundled with scikit-learn: no download), split 2/3 train, 1/3 validation
(stratified, with the problem's seed). The budget is ``Budget("epoch", 1, 30)``; one
epoch takes a few milliseconds on one CPU thread.

Training is deterministic for a configuration and seed: the initial weights come from
the seed, each epoch's shuffling and dropout masks from ``(seed, epoch)``, and torch runs
single-threaded (``torch.set_num_threads(1)``). So a run resumed from its checkpoint after
epoch ``k`` ends exactly where an uninterrupted run ends.

The objective is the canonical training loop: it resumes from ``trial.load_checkpoint()``
(``{"epoch", "hidden", "model", "optimizer"}``; its own, else its parent's), trains epochs
``start + 1 .. trial.budget``, reports the validation accuracy after each, saves a
checkpoint after each and stops when ``trial.should_stop()``. On resumption the optimizer
keeps its momentum but takes the *current* configuration's ``lr`` and ``weight_decay``
(population-based training changes them during training); ``dropout`` and ``batch_size``
apply from the next epoch on. A checkpoint whose ``hidden`` differs from the
configuration's cannot be continued: the trial then trains from scratch.

``reference`` is the majority-class accuracy on the validation split; the optimum is
unknown (``None``). torch is imported when the problem is evaluated, not at import
(``pip install torch``); scikit-learn provides the data.

>>> problem = get_problem("torch-digits")                                  # doctest: +SKIP
>>> problem({"lr": 0.1, "weight_decay": 1e-4, "hidden": 64, "dropout": 0.1,
...          "batch_size": 32})                                            # doctest: +SKIP
0.97...
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from hpo.benchmarks.base import Problem, register_problem
from hpo.budget import Budget
from hpo.space import Categorical, Float, Int, Space
from hpo.trial import Trial

DEFAULT_SEED = 0
MAX_EPOCH = 30
TORCH_DIGITS_BUDGET = Budget("epoch", 1, MAX_EPOCH)
#: A reasonable hand-picked configuration (validation accuracy about 0.97).
TORCH_DIGITS_DEFAULT_CONFIG: dict[str, Any] = {
    "lr": 0.05,
    "weight_decay": 1e-4,
    "hidden": 64,
    "dropout": 0.1,
    "batch_size": 32,
}


def torch_digits_space() -> Space:
    """Learning rate and weight decay (log), hidden units (log int), dropout, batch size."""
    return Space(
        {
            "lr": Float(1e-3, 1.0, log=True),
            "weight_decay": Float(1e-6, 1e-1, log=True),
            "hidden": Int(8, 256, log=True),
            "dropout": Float(0.0, 0.7),
            "batch_size": Categorical([16, 32, 64, 128]),
        }
    )


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError(
            "the torch-digits problem trains a PyTorch model; install it with pip install torch"
        ) from exc
    torch.set_num_threads(1)
    return torch


@functools.cache
def _split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split 2/3 train and 1/3 validation (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float32) / 16.0
    X_tr, X_va, y_tr, y_va = train_test_split(
        X, np.asarray(y, dtype=np.int64), test_size=1 / 3, stratify=y, random_state=seed
    )
    return X_tr, X_va, y_tr, y_va


class DigitsTrainer:
    """Trains the MLP of one configuration epoch by epoch (deterministic given ``seed``)."""

    def __init__(self, config: dict[str, Any], seed: int = DEFAULT_SEED) -> None:
        torch = _torch()
        self.torch = torch
        self.seed = int(seed)
        X_tr, X_va, y_tr, y_va = _split(self.seed)
        self.X_tr, self.y_tr = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
        self.X_va, self.y_va = torch.from_numpy(X_va), torch.from_numpy(y_va)
        self.hidden = int(config["hidden"])
        torch.manual_seed(self.seed)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(X_tr.shape[1], self.hidden),
            torch.nn.ReLU(),
            torch.nn.Dropout(float(config["dropout"])),
            torch.nn.Linear(self.hidden, 10),
        )
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=float(config["lr"]),
            momentum=0.9,
            nesterov=True,
            weight_decay=float(config["weight_decay"]),
        )
        self.config = dict(config)
        self.epoch = 0

    def restore(self, state: dict[str, Any]) -> bool:
        """Continue from a checkpoint (the current config's lr, weight decay, dropout and
        batch size apply); ``False`` (nothing restored) if its hidden size differs."""
        if int(state.get("hidden", -1)) != self.hidden:
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # the state dict brought the old values
            group["lr"] = float(self.config["lr"])
            group["weight_decay"] = float(self.config["weight_decay"])
        self.epoch = int(state["epoch"])
        return True

    def state(self) -> dict[str, Any]:
        """A checkpoint of the training so far."""
        return {
            "epoch": self.epoch,
            "hidden": self.hidden,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def train_epoch(self) -> float:
        """Train one more epoch; the validation accuracy after it."""
        torch = self.torch
        self.epoch += 1
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        torch.manual_seed(self.seed * 100_003 + self.epoch)  # dropout masks
        order = torch.randperm(len(self.y_tr), generator=generator)
        batch = int(self.config["batch_size"])
        loss_fn = torch.nn.functional.cross_entropy
        self.model.train()
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            self.optimizer.zero_grad()
            loss = loss_fn(self.model(self.X_tr[idx]), self.y_tr[idx])
            if not torch.isfinite(loss):  # diverged: the weights are no use any more
                break
            loss.backward()
            self.optimizer.step()
        return self.accuracy()

    def accuracy(self) -> float:
        """Validation accuracy of the current weights."""
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            logits = self.model(self.X_va)
        if not bool(torch.isfinite(logits).all()):
            return 0.0
        return float((logits.argmax(dim=1) == self.y_va).float().mean())


def torch_digits_curve(
    config: dict[str, Any], epochs: int, seed: int = DEFAULT_SEED
) -> list[float]:
    """Validation accuracy after each epoch ``1..epochs`` of one uninterrupted run."""
    trainer = DigitsTrainer(config, seed)
    return [trainer.train_epoch() for _ in range(int(epochs))]


def torch_digits_train(config: dict[str, Any], trial: Trial, seed: int = DEFAULT_SEED) -> float:
    """The budget-aware objective: train up to ``trial.budget`` epochs, resuming from the
    trial's (or its parent's) checkpoint, reporting after each epoch."""
    trainer = DigitsTrainer(config, seed)
    state = trial.load_checkpoint()
    if isinstance(state, dict) and not trainer.restore(state):
        state = None
    budget = int(TORCH_DIGITS_BUDGET.clip(MAX_EPOCH if trial.budget is None else trial.budget))
    acc = trainer.accuracy()
    for _ in range(trainer.epoch + 1, budget + 1):
        acc = trainer.train_epoch()
        trial.report(trainer.epoch, acc)
        trial.save_checkpoint(trainer.state())
        if trial.should_stop():
            break
    return acc


def _majority_accuracy(seed: int) -> float:
    _, _, y_tr, y_va = _split(seed)
    majority = np.bincount(y_tr).argmax()
    return float(np.mean(y_va == majority))


def torch_digits(*, seed: int = DEFAULT_SEED) -> Problem:
    """The ``torch-digits`` problem (see the module docstring) for ``seed``."""
    return Problem(
        "torch-digits",
        torch_digits_space(),
        "maximize",
        functools.partial(_final_accuracy, seed=seed),
        optimum=None,
        reference=_majority_accuracy(seed),
        tags=("torch", "epochs"),
        budget=TORCH_DIGITS_BUDGET,
        curve=functools.partial(torch_digits_curve, seed=seed),
        trainer=functools.partial(torch_digits_train, seed=seed),
    )


def _final_accuracy(config: dict[str, Any], seed: int = DEFAULT_SEED) -> float:
    return torch_digits_curve(config, MAX_EPOCH, seed)[-1]


register_problem("torch-digits")(torch_digits)
