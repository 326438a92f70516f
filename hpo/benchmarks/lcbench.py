"""LCBench surrogate problems: tuning a funnel-shaped MLP on 34 OpenML tasks.

NOTICE: the surrogate model and its metadata in ``hpo/benchmarks/data/lcbench/`` come
from YAHPO Gym (https://github.com/slds-lmu/yahpo_data, scenario ``lcbench``), fitted on
the LCBench learning-curve data (Zimmer et al., https://doi.org/10.6084/m9.figshare.13286105);
they are distributed under the Apache License 2.0 (``data/lcbench/LICENSE-2.0.txt``).

One problem per task, ``lcbench-<OpenML task id>``: seven hyperparameters (``batch_size``,
``learning_rate``, ``momentum``, ``weight_decay``, ``num_layers``, ``max_units``,
``max_dropout``; ranges from YAHPO's ``config_space.json``), **maximize** the surrogate's
validation accuracy (in percent, 0..100) after the final epoch (52). ``optimum`` and
``reference`` are the task's maximum and minimum validation accuracy in YAHPO's
``instance_target_statistics.csv``, so ``normalized_regret = (max - value) / (max - min)``.
The surrogate is smooth and can slightly exceed that band: regret is clipped at 0.

The eight tasks of :data:`LCBENCH_DEV_TASKS` are tagged ``"dev"`` (tune searchers on
them); the other 26 are tagged ``"heldout"`` (report on them). :func:`lcbench_curve`
gives a whole learning curve in one batched call, for multi-fidelity searchers.

Multi-fidelity twins, ``lcbench-epochs-<OpenML task id>``: the same space, direction,
optimum and reference, with ``Budget("epoch", 1, 52)``; their objective reports the
surrogate's validation accuracy after each epoch ``1..trial.budget`` (one batched
surrogate call per trial) and returns the last one, so a trial that runs all 52 epochs
has exactly the value of ``lcbench-<task>``. Tagged ``("lcbench", "epochs", "dev" |
"heldout")``.

The surrogate runs on ONNX Runtime (``pip install 'hpo[bench]'``), imported on the first
evaluation, not at import: building a problem works without it. One
``onnxruntime.InferenceSession`` (CPU, one thread) is shared by the whole process;
``InferenceSession.run`` is thread-safe.

>>> problem = get_problem("lcbench-3945")                     # doctest: +SKIP
>>> problem(LCBENCH_DEFAULT_CONFIG)                            # doctest: +SKIP
93.39...
>>> len(lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG))           # doctest: +SKIP
52
"""

from __future__ import annotations

import csv
import functools
import io
import json
import threading
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from hpo.benchmarks.base import Problem, register_problem
from hpo.budget import Budget
from hpo.space import Float, Int, Param, Space

MAX_EPOCH = 52
#: Surrogate outputs, in the order of the model's single ``output`` tensor (YAHPO Gym).
OUTPUT_NAMES = (
    "time",
    "val_accuracy",
    "val_cross_entropy",
    "val_balanced_accuracy",
    "test_cross_entropy",
    "test_balanced_accuracy",
)
#: Model inputs ``x_cont``, in order (raw, untransformed values).
CONTINUOUS_INPUTS = (
    "epoch",
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "num_layers",
    "max_units",
    "max_dropout",
)
LCBENCH_DEV_TASKS: tuple[int, ...] = (3945, 7593, 34539, 126025, 126026, 126029, 146212, 167104)

_TASK_PARAM = "OpenML_task_id"
_FIDELITY_PARAM = "epoch"


def _read(name: str) -> bytes:
    return resources.files("hpo.benchmarks").joinpath("data", "lcbench", name).read_bytes()


@functools.cache
def _config_space() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_read("config_space.json"))
    return data


@functools.cache
def _encoding() -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(_read("encoding.json"))[_TASK_PARAM].items()}


@functools.cache
def _statistics() -> dict[tuple[int, str, str], float]:
    """``(task, metric, "min" | "max") -> value`` from instance_target_statistics.csv."""
    rows = csv.DictReader(io.StringIO(_read("instance_target_statistics.csv").decode()))
    return {(int(r["instance"]), r["metric"], r["statistic"]): float(r["value"]) for r in rows}


def _hyperparameters() -> list[dict[str, Any]]:
    return list(_config_space()["hyperparameters"])


LCBENCH_TASKS: tuple[int, ...] = tuple(
    int(c) for hp in _hyperparameters() if hp["name"] == _TASK_PARAM for c in hp["choices"]
)
LCBENCH_HELDOUT_TASKS: tuple[int, ...] = tuple(
    t for t in LCBENCH_TASKS if t not in LCBENCH_DEV_TASKS
)


def lcbench_space() -> Space:
    """The seven tuned hyperparameters (task and epoch excluded), from config_space.json."""
    params: dict[str, Param] = {}
    for name in CONTINUOUS_INPUTS:
        if name == _FIDELITY_PARAM:
            continue
        (hp,) = (h for h in _hyperparameters() if h["name"] == name)
        cls = Int if hp["type"] == "uniform_int" else Float
        params[name] = cls(hp["lower"], hp["upper"], log=bool(hp["log"]))
    return Space(params)


#: YAHPO's default configuration (the centre of the space).
LCBENCH_DEFAULT_CONFIG: dict[str, Any] = {
    name: hp["default"]
    for name in CONTINUOUS_INPUTS
    for hp in _hyperparameters()
    if hp["name"] == name and name != _FIDELITY_PARAM
}


# --- the shared ONNX session ----------------------------------------------------------------
_session: Any = None
_session_lock = threading.Lock()
_n_calls = 0


def _get_session() -> Any:
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                try:
                    import onnxruntime
                except ImportError as exc:
                    raise ImportError(
                        "the LCBench problems evaluate an ONNX surrogate and need onnxruntime; "
                        "install it with pip install 'hpo[bench]'"
                    ) from exc
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                _session = onnxruntime.InferenceSession(
                    _read("model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
                )
    return _session


def surrogate_calls() -> int:
    """How many batched surrogate calls this process has made (a diagnostic)."""
    return _n_calls


def _task_code(task_id: int | str) -> int:
    key = str(task_id)
    if not key.isdigit() or int(key) not in LCBENCH_TASKS:
        raise ValueError(
            f"unknown LCBench task {task_id!r}; available: {', '.join(map(str, LCBENCH_TASKS))}"
        )
    return _encoding()[key]


def _predict(task_id: int | str, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Surrogate outputs, shape ``(len(rows), 6)``; each row holds every continuous input."""
    global _n_calls
    missing = [n for n in CONTINUOUS_INPUTS if any(n not in r for r in rows)]
    if missing:
        raise ValueError(f"LCBench configurations must set {', '.join(missing)}")
    x_cat = np.full((len(rows), 1), _task_code(task_id), dtype=np.int32)
    x_cont = np.array([[float(r[n]) for n in CONTINUOUS_INPUTS] for r in rows], dtype=np.float32)
    session = _get_session()
    out = session.run(None, {"x_cat": x_cat, "x_cont": x_cont})[0]
    with _session_lock:
        _n_calls += 1
    return np.asarray(out, dtype=float)


def lcbench_evaluate(
    task_id: int | str, config: Mapping[str, Any], epoch: int = MAX_EPOCH
) -> dict[str, float]:
    """Every surrogate output (:data:`OUTPUT_NAMES`) for ``config`` after ``epoch`` epochs."""
    out = _predict(task_id, [{**config, _FIDELITY_PARAM: epoch}])[0]
    return dict(zip(OUTPUT_NAMES, map(float, out), strict=True))


def lcbench_curve(
    task_id: int | str, config: Mapping[str, Any], epochs: int | Sequence[int] = MAX_EPOCH
) -> list[float]:
    """Validation accuracy (%) after each epoch ``1..epochs`` (or at each listed epoch),
    computed in one batched surrogate call.

    >>> lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG, 3)         # doctest: +SKIP
    [..., ..., ...]
    """
    steps = list(range(1, epochs + 1)) if isinstance(epochs, int) else [int(e) for e in epochs]
    bad = [e for e in steps if not 1 <= e <= MAX_EPOCH]
    if not steps or bad:
        raise ValueError(f"epochs must lie in 1..{MAX_EPOCH}, got {epochs!r}")
    out = _predict(task_id, [{**config, _FIDELITY_PARAM: e} for e in steps])
    return [float(v) for v in out[:, OUTPUT_NAMES.index("val_accuracy")]]


def lcbench_problem(task_id: int) -> Problem:
    """The problem ``lcbench-<task_id>``: validation accuracy (%) at epoch 52, maximized."""
    _task_code(task_id)
    task_id = int(task_id)
    stats = _statistics()

    def evaluate(config: dict[str, Any]) -> float:
        return lcbench_evaluate(task_id, config)["val_accuracy"]

    tag = "dev" if task_id in LCBENCH_DEV_TASKS else "heldout"
    return Problem(
        f"lcbench-{task_id}",
        lcbench_space(),
        "maximize",
        evaluate,
        optimum=stats[(task_id, "val_accuracy", "max")],
        reference=stats[(task_id, "val_accuracy", "min")],
        tags=("lcbench", tag),
    )


#: The fidelity of the ``lcbench-epochs-*`` problems: epochs 1..52.
LCBENCH_EPOCH_BUDGET = Budget("epoch", 1, MAX_EPOCH)


def lcbench_epochs_problem(task_id: int) -> Problem:
    """The problem ``lcbench-epochs-<task_id>``: ``lcbench-<task_id>`` with a budget of
    epochs, reporting the validation accuracy (%) after each epoch."""
    base = lcbench_problem(task_id)
    task = int(task_id)

    def curve(config: dict[str, Any], epochs: int) -> list[float]:
        return lcbench_curve(task, config, int(epochs))

    tag = "dev" if task in LCBENCH_DEV_TASKS else "heldout"
    return Problem(
        f"lcbench-epochs-{task}",
        base.space,
        base.direction,
        base.function,
        optimum=base.optimum,
        reference=base.reference,
        tags=("lcbench", "epochs", tag),
        budget=LCBENCH_EPOCH_BUDGET,
        curve=curve,
    )


for _task in LCBENCH_TASKS:
    register_problem(f"lcbench-{_task}")(functools.partial(lcbench_problem, _task))
    register_problem(f"lcbench-epochs-{_task}")(functools.partial(lcbench_epochs_problem, _task))
