"""Objectives the server tests run in worker processes and server jobs (importable by
name under ``spawn`` and by ``hpo worker tests.server.objectives:...``)."""

from __future__ import annotations

import os
import time
from typing import Any

import hpo

SPACE = {"x": hpo.Float(-5.0, 5.0), "n": hpo.Int(1, 10), "kind": hpo.Categorical(["a", "b"])}
#: 8 x 10 x 10 = 800 points: 16 workers x 50 trials cover the grid exactly
GRID_SPACE = {"a": hpo.Int(0, 7), "b": hpo.Int(0, 9), "c": hpo.Categorical(list(range(10)))}


@hpo.objective(space=SPACE)
def quadratic(config: dict[str, Any]) -> float:
    return float(config["x"] ** 2 + config["n"] + (config["kind"] == "b"))


@hpo.objective(space=GRID_SPACE)
def grid_value(config: dict[str, Any]) -> float:
    return float(config["a"] * 100 + config["b"] * 10 + config["c"])


@hpo.objective(space=SPACE)
def slow_quadratic(config: dict[str, Any], trial: hpo.Trial) -> float:
    trial.set_user_attr("pid", os.getpid())
    time.sleep(float(os.environ.get("HPO_TEST_SLEEP", "0.05")))
    return float(config["x"] ** 2 + config["n"])


@hpo.objective(space=SPACE)
def hang(config: dict[str, Any]) -> float:
    """Never returns (its worker is killed by the test)."""
    time.sleep(3600)
    return 0.0


def define_by_run(trial: hpo.Trial) -> float:
    model = trial.suggest_categorical("model", ["ridge", "tree"])
    if model == "tree":
        return float(trial.suggest_int("depth", 1, 8))
    return trial.suggest_float("alpha", 1e-3, 1.0, log=True)


@hpo.objective(space={"lr": hpo.Float(1e-3, 1.0, log=True)}, budget=hpo.Budget("epoch", 1, 9))
def curve(config: dict[str, Any], trial: hpo.Trial) -> float:
    """A learning curve with checkpoints: resumes from its own (or its parent's)."""
    state = trial.load_checkpoint()
    start = state["epoch"] if state else 0
    value = 1.0
    for epoch in range(start + 1, int(trial.budget or 9) + 1):
        value = config["lr"] / epoch
        trial.report(epoch, value)
        trial.save_checkpoint({"epoch": epoch})
        if trial.should_stop():
            break
    return value


def ask_tell_workers(
    url: str, study: str, n_threads: int, per_thread: int, seed: int, combined: bool = False
) -> list[tuple[int, dict[str, Any], float]]:
    """``n_threads`` workers in this process, each asking and telling ``per_thread``
    trials of ``study`` through the server (``combined``: each tell but the last opens the
    next trial in the same request, ``driver.finish_and_start``); returns every tell the
    server acknowledged as ``(number, params, value)``."""
    import threading

    from hpo.objective import TrialOutcome
    from hpo.storage.http import HTTPStorage

    storage = HTTPStorage(url, retry_timeout=120)
    driver = hpo.load_study(study, storage).driver
    acked: list[tuple[int, dict[str, Any], float]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            following = driver.start_trial() if combined else None
            for k in range(per_thread):
                spec = following or driver.start_trial()
                value = float(seed * 1_000_000 + i * 1000 + k)
                outcome = TrialOutcome(hpo.TrialState.COMPLETE, value)
                if combined and k < per_thread - 1:
                    _, following = driver.finish_and_start(spec.number, outcome)
                    assert following is not None
                else:
                    driver.finish_trial(spec.number, outcome)
                with lock:
                    acked.append((spec.number, dict(spec.params), value))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    storage.close()
    if errors:
        raise errors[0]
    return acked
