"""Failed trials are logged (logger "hpo") with a summary at the end of optimize, and the
level is the user's to set."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import hpo

SPACE = {"x": hpo.Float(0.0, 1.0)}


def fails_when_large(config):  # type: ignore[no-untyped-def]
    if config["x"] > 0.5:
        raise ZeroDivisionError("the model diverged")
    return config["x"]


@pytest.fixture(autouse=True)
def default_verbosity() -> object:
    yield
    logger = logging.getLogger("hpo")
    logger.setLevel(logging.NOTSET)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def test_each_failed_trial_is_a_warning_naming_where_the_traceback_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    study = hpo.create_study(space=SPACE, searcher="random", seed=0, name="diverging")
    with caplog.at_level(logging.WARNING, logger="hpo"):
        study.optimize(fails_when_large, n_trials=8, progress=False)
    failed = [t for t in study.trials if t.state is hpo.TrialState.FAILED]
    assert failed, "the seed should give failures"
    warnings = [r for r in caplog.records if r.name == "hpo" and r.levelno == logging.WARNING]
    per_trial = [r.getMessage() for r in warnings[:-1]]
    assert len(per_trial) == len(failed)
    for trial, message in zip(failed, per_trial, strict=True):
        assert f"Trial {trial.number} of study 'diverging' failed" in message
        assert "ZeroDivisionError: the model diverged" in message
        assert f"study.trials[{trial.number}].error" in message and "hpo show diverging" in message
    summary = warnings[-1].getMessage()
    assert f"8 trials finished ({8 - len(failed)} COMPLETE, {len(failed)} FAILED)" in summary
    assert "Last error (trial" in summary


def test_a_run_whose_every_trial_fails_says_so_without_any_logging_setup() -> None:
    code = (
        "import hpo\n"
        "study = hpo.create_study(space={'x': hpo.Float(0, 1)})\n"
        "study.optimize(lambda config: 1 / 0, n_trials=3, progress=False)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sum("failed: ZeroDivisionError: division by zero" in line for line in lines) == 3
    assert "3 trials finished (3 FAILED)" in lines[-1] and "Every trial failed" in lines[-1]


def test_set_verbosity_shows_every_trial_or_nothing(caplog: pytest.LogCaptureFixture) -> None:
    hpo.set_verbosity(logging.INFO)
    assert hpo.get_verbosity() == logging.INFO
    study = hpo.create_study(space=SPACE, searcher="random", seed=0)
    study.optimize(fails_when_large, n_trials=4, progress=False)
    messages = [r.getMessage() for r in caplog.records if r.name == "hpo"]
    complete = [t for t in study.trials if t.state is hpo.TrialState.COMPLETE]
    assert sum("finished with value" in m for m in messages) == len(complete) > 0
    assert "trials finished" in messages[-1]
    caplog.clear()
    hpo.set_verbosity(logging.ERROR)
    study.optimize(fails_when_large, n_trials=4, progress=False)
    assert [r for r in caplog.records if r.name == "hpo"] == []


def test_set_verbosity_adds_a_handler_only_without_logging_setup() -> None:
    code = (
        "import logging, hpo\n"
        "hpo.set_verbosity(logging.INFO)\n"
        "study = hpo.create_study(space={'x': hpo.Float(0, 1)})\n"
        "study.optimize(lambda config: config['x'], n_trials=2, progress=False)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("finished with value") == 2
