"""LCBench surrogate problems: registry, tags, surrogate values, curves, missing ONNX."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

from hpo.benchmarks import available_problems, get_problem
from hpo.benchmarks.lcbench import (
    LCBENCH_DEFAULT_CONFIG,
    LCBENCH_DEV_TASKS,
    LCBENCH_HELDOUT_TASKS,
    LCBENCH_TASKS,
    MAX_EPOCH,
    lcbench_curve,
    lcbench_evaluate,
    surrogate_calls,
)

needs_onnxruntime = pytest.mark.skipif(
    find_spec("onnxruntime") is None, reason="onnxruntime is not installed"
)

DEV = {3945, 7593, 34539, 126025, 126026, 126029, 146212, 167104}
SOME_TASKS = [3945, 7593, 146212, 167104, 167185, 168329, 189873, 189909]


def test_all_34_tasks_are_registered() -> None:
    assert len(LCBENCH_TASKS) == 34 == len(set(LCBENCH_TASKS))
    names = {n for n in available_problems() if n.removeprefix("lcbench-").isdigit()}
    assert names == {f"lcbench-{t}" for t in LCBENCH_TASKS}


def test_dev_and_heldout_tags_are_exactly_as_listed() -> None:
    assert set(LCBENCH_DEV_TASKS) == DEV
    assert set(LCBENCH_HELDOUT_TASKS) == set(LCBENCH_TASKS) - DEV
    for task in LCBENCH_TASKS:
        problem = get_problem(f"lcbench-{task}")
        expected = "dev" if task in DEV else "heldout"
        assert problem.tags == ("lcbench", expected)
        assert problem.direction == "maximize"
        assert problem.optimum is not None and problem.reference is not None
        assert 0 <= problem.reference < problem.optimum <= 100


def test_space_follows_yahpo_config_space() -> None:
    space = get_problem("lcbench-3945").space
    assert list(space) == [
        "batch_size",
        "learning_rate",
        "momentum",
        "weight_decay",
        "num_layers",
        "max_units",
        "max_dropout",
    ]
    assert (space["batch_size"].low, space["batch_size"].high) == (16, 512)
    assert space["batch_size"].log and space["max_units"].log and space["learning_rate"].log
    assert space.contains(LCBENCH_DEFAULT_CONFIG)


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown LCBench task"):
        lcbench_curve(12345, LCBENCH_DEFAULT_CONFIG)


@needs_onnxruntime
@pytest.mark.parametrize("task", SOME_TASKS)
def test_default_config_lies_within_the_task_statistics(task: int) -> None:
    problem = get_problem(f"lcbench-{task}")
    value = problem(LCBENCH_DEFAULT_CONFIG)
    assert problem.reference is not None and problem.optimum is not None
    assert problem.reference <= value <= problem.optimum
    outputs = lcbench_evaluate(task, LCBENCH_DEFAULT_CONFIG)
    assert outputs["val_accuracy"] == value
    assert outputs["time"] > 0 and 0 <= outputs["val_balanced_accuracy"] <= 1


@needs_onnxruntime
def test_normalized_regret_of_random_configs_is_in_unit_interval() -> None:
    rng = np.random.default_rng(0)
    for task in SOME_TASKS:
        problem = get_problem(f"lcbench-{task}")
        for _ in range(25):
            regret = problem.normalized_regret(problem(problem.space.sample(rng)))
            assert 0 <= regret <= 1.05


@needs_onnxruntime
def test_curve_has_one_value_per_epoch_from_one_batch() -> None:
    before = surrogate_calls()
    curve = lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG)
    assert surrogate_calls() - before == 1
    assert len(curve) == MAX_EPOCH
    assert curve[-1] == pytest.approx(get_problem("lcbench-3945")(LCBENCH_DEFAULT_CONFIG))
    assert curve[-1] > curve[0]  # it learns
    assert lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG, [1, 52]) == pytest.approx(
        [curve[0], curve[-1]]
    )
    with pytest.raises(ValueError, match="epochs"):
        lcbench_curve(3945, LCBENCH_DEFAULT_CONFIG, 53)


def test_missing_onnxruntime_gives_an_install_hint() -> None:
    # A fresh interpreter in which `import onnxruntime` fails (sys.modules entry None).
    script = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from hpo.benchmarks import get_problem\n"
        "from hpo.benchmarks.lcbench import LCBENCH_DEFAULT_CONFIG\n"
        "problem = get_problem('lcbench-3945')\n"
        "try:\n"
        "    problem(LCBENCH_DEFAULT_CONFIG)\n"
        "except ImportError as exc:\n"
        "    print('ERROR:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert "ERROR:" in result.stdout
    assert "pip install 'hpo[bench]'" in result.stdout


@needs_onnxruntime
def test_shared_session_is_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    problem = get_problem("lcbench-7593")
    configs = [problem.space.sample(np.random.default_rng(i)) for i in range(16)]
    serial = [problem(c) for c in configs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(problem, configs)) == serial
