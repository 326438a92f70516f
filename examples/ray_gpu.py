"""Tune a PyTorch model on Ray, each trial on the GPU (or the fraction of one) it is given.

Every trial is a Ray task asking for ``--gpus-per-trial`` GPUs (0.25 packs four trials
onto one device). Ray sets ``CUDA_VISIBLE_DEVICES`` to the ids it assigned, which the
objective also reads as ``trial.devices``; it trains on ``cuda:0`` (the first device it
can see) when it has a GPU and PyTorch sees one, and on the CPU otherwise, so the same
script runs on a laptop. ASHA, running in this process, stops poor trials early from
their per-epoch reports; the model's state is checkpointed every epoch, so a trial whose
worker or node dies resumes where it was.

    python examples/ray_gpu.py --n-trials 4 --gpus-per-trial 0.25     # one GPU, 4 at once
    python examples/ray_gpu.py --address auto --n-trials 64 --gpus-per-trial 1 \\
        --storage http://hpo-server:8000 --name resnet-ray               # a cluster + server
    python examples/ray_gpu.py --gpus-per-trial 0 --n-trials 4          # CPU only

Needs torch and scikit-learn (the digits data are bundled: no download) and Ray.
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hpo

SPACE = {
    "lr": hpo.Float(1e-3, 0.3, log=True),
    "weight_decay": hpo.Float(1e-6, 1e-2, log=True),
    "width": hpo.Int(32, 512, log=True),
    "depth": hpo.Int(1, 3),
    "batch_size": hpo.Categorical([32, 64, 128]),
}
MAX_EPOCHS = 20


def load_data(device: torch.device) -> tuple[torch.Tensor, ...]:
    """The digits data set (8x8 images, 10 classes), split and moved to ``device``."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_va, y_tr, y_va = train_test_split(
        np.asarray(X, dtype=np.float32) / 16.0, y, test_size=1 / 3, stratify=y, random_state=0
    )
    return tuple(torch.as_tensor(a).to(device) for a in (X_tr, y_tr.astype(np.int64), X_va, y_va))


def build(config: dict[str, Any], device: torch.device) -> torch.nn.Module:
    """An MLP of ``depth`` hidden layers of ``width`` units."""
    layers: list[torch.nn.Module] = []
    width_in = 64
    for _ in range(config["depth"]):
        layers += [torch.nn.Linear(width_in, config["width"]), torch.nn.ReLU()]
        width_in = config["width"]
    layers.append(torch.nn.Linear(width_in, 10))
    return torch.nn.Sequential(*layers).to(device)


def pick_device(trial: hpo.Trial) -> torch.device:
    """``cuda:0`` when the trial was given a GPU and PyTorch sees one, else the CPU."""
    if trial.devices and torch.cuda.is_available():
        return torch.device("cuda", 0)  # CUDA_VISIBLE_DEVICES holds just the trial's GPUs
    return torch.device("cpu")


@hpo.objective(space=SPACE, direction="maximize", budget=hpo.Budget("epoch", 1, MAX_EPOCHS))
def train(config: dict[str, Any], trial: hpo.Trial) -> float:
    """Validation accuracy after up to ``trial.budget`` epochs, on the trial's device."""
    device = pick_device(trial)
    torch.manual_seed(trial.number)
    if device.type == "cpu":
        torch.set_num_threads(1)  # several trials share the CPUs
    X_tr, y_tr, X_va, y_va = load_data(device)
    model = build(config, device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
    )
    state = trial.load_checkpoint()  # after a lost worker: resume where it was
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"]
    trial.set_user_attr("device", device.type)
    trial.set_user_attr("devices", list(trial.devices))
    trial.set_user_attr("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES"))
    if device.type == "cuda":
        trial.set_user_attr("gpu_name", torch.cuda.get_device_name(device))
    acc = 0.0
    for epoch in range(start + 1, int(trial.budget or MAX_EPOCHS) + 1):
        model.train()
        for idx in torch.randperm(len(y_tr), device=device).split(config["batch_size"]):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(X_tr[idx]), y_tr[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(X_va).argmax(dim=1) == y_va).float().mean())
        trial.save_checkpoint(
            {
                "epoch": epoch,
                "model": {k: v.cpu() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
            }
        )
        trial.report(epoch, acc)
        if trial.should_stop():
            break
    return acc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=8, help="trials to run (default: 8)")
    parser.add_argument(
        "--gpus-per-trial", type=float, default=0.25, help="GPUs per trial (default: 0.25)"
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1, help="default: 1")
    parser.add_argument(
        "--epochs", type=int, default=MAX_EPOCHS, help=f"most epochs (default: {MAX_EPOCHS})"
    )
    parser.add_argument(
        "--address", default=None, help="Ray cluster (default: $RAY_ADDRESS, else a local one)"
    )
    parser.add_argument(
        "--storage",
        default=os.environ.get("HPO_STORAGE"),
        help="storage URL, e.g. the hpo server's (default: $HPO_STORAGE, else in memory)",
    )
    parser.add_argument("--name", default=None, help="the study's name (default: generated)")
    parser.add_argument("--searcher", default="tpe", help="searcher (default: tpe)")
    parser.add_argument("--seed", type=int, default=0, help="the searcher's seed (default: 0)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> hpo.Study:
    """Run the study on Ray; print one line per trial and the best configuration."""
    args = parse_args(argv)
    objective = train
    if args.epochs != MAX_EPOCHS:
        objective = hpo.objective(
            space=SPACE,
            direction="maximize",
            budget=hpo.Budget("epoch", 1, args.epochs),
        )(train.func)
    study = hpo.create_study(
        objective,
        searcher=args.searcher,
        stopper="asha",
        name=args.name or f"ray-gpu-{uuid.uuid4().hex[:6]}",
        storage=args.storage,
        seed=args.seed,
        load_if_exists=args.name is not None,
    )
    executor = hpo.RayExecutor(
        address=args.address,
        resources={"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial},
    )
    study.optimize(n_trials=args.n_trials, executor=executor, progress=False)
    for t in study.trials:
        attrs = t.user_attrs
        where = attrs.get("gpu_name") or attrs.get("device", "?")
        print(
            f"trial {t.number:3d} {t.state.value:8s} epochs={len(t.intermediate_values):3d} "
            f"acc={t.value if t.value is not None else float('nan'):.4f} "
            f"devices={attrs.get('devices')} "
            f"CUDA_VISIBLE_DEVICES={attrs.get('cuda_visible_devices')} on {where}"
        )
    print(f"Study {study.name!r}: {len(study.trials)} trials on Ray")
    print(f"Best validation accuracy: {study.best_value:.4f}")
    print(f"Best configuration: {study.best_params}")
    return study


if __name__ == "__main__":
    main()
