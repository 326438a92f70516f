"""The ``hpo`` command end to end against SQLite files: in process through ``main`` and as
a real subprocess (``python -m hpo`` and the installed console script)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import hpo
from hpo.cli import main
from hpo.storage import get_storage

REPO = Path(__file__).resolve().parents[1]
OBJECTIVES = Path(__file__).with_name("cli_objectives.py")


def obj(name: str) -> str:
    """``path/to/cli_objectives.py:name``, the objective as ``hpo run`` takes it."""
    return f"{OBJECTIVES}:{name}"


def hpo_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``hpo ARGS`` in process; return the exit code, stdout and stderr."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def hpo_run(
    capsys: pytest.CaptureFixture[str], target: str, **options: object
) -> tuple[int, str, str]:
    """``hpo run`` in process: ``target`` is a name in cli_objectives.py or ``module:attr``;
    each option becomes ``--kebab-case VALUE`` (``True``: a bare flag)."""
    argv = ["run", target if ":" in target else obj(target)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return hpo_cli(capsys, *argv)


def stored(url: str, name: str) -> list[hpo.FrozenTrial]:
    """The trials of study ``name`` as stored at ``url``."""
    storage = get_storage(url)
    try:
        return hpo.load_study(name, storage).trials
    finally:
        storage.close()


def study_names(url: str) -> list[str]:
    storage = get_storage(url)
    try:
        return [r.name for r in storage.list_studies()]
    finally:
        storage.close()


def states(trials: list[hpo.FrozenTrial]) -> list[str]:
    return [t.state.value for t in trials]


def best_configuration(out: str) -> dict[str, object]:
    """The JSON after ``Best configuration:`` in ``hpo run``'s output."""
    line = next(ln for ln in out.splitlines() if ln.startswith("Best configuration: "))
    config: dict[str, object] = json.loads(line.removeprefix("Best configuration: "))
    return config


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def odd_study(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A stored study ``odd`` of 6 trials: 3 COMPLETE (even numbers), 3 FAILED (odd)."""
    code, _, _ = hpo_run(capsys, "odd_trials_fail", n_trials=6, name="odd", seed=1, storage=url)
    assert code == 0
    return url


# --- hpo run -------------------------------------------------------------------------
def test_run_stores_exactly_n_trials_and_prints_the_best(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = hpo_run(capsys, "quadratic", n_trials=7, seed=3, name="bowl", storage=url)
    assert code == 0, err
    trials = stored(url, "bowl")
    assert states(trials) == ["COMPLETE"] * 7
    assert "Study 'bowl': 7 trials" in out and "(7 COMPLETE)" in out
    best = min(trials, key=lambda t: t.value or 0.0)
    assert f"Best value: {best.value:.6g} (trial {best.number})" in out
    assert best_configuration(out) == best.params
    assert "tpe, minimize" in err and "Traceback" not in err


def test_run_counts_failed_trials_and_goes_on(
    odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    trials = stored(odd_study, "odd")
    assert states(trials) == ["COMPLETE", "FAILED"] * 3
    assert "RuntimeError: trial 1 is odd" in (trials[1].error or "")
    code, out, _ = hpo_run(
        capsys, "odd_trials_fail", n_trials=4, name="odd", load_if_exists=True, storage=odd_study
    )
    assert code == 0
    assert "4 trials" in out and "2 COMPLETE, 2 FAILED" in out
    assert "Last error (trial 9): RuntimeError: trial 9 is odd" in out
    assert len(stored(odd_study, "odd")) == 10


def test_run_where_every_trial_fails_exits_1_without_a_traceback(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = hpo_run(capsys, "always_fails", n_trials=3, name="doomed", storage=url)
    assert code == 1
    assert "(3 FAILED)" in out and "No trial has completed" in out
    assert "ZeroDivisionError: no value for you" in out
    assert "Traceback" not in out + err
    assert states(stored(url, "doomed")) == ["FAILED"] * 3


def test_continuing_a_study_with_a_broken_objective_exits_1_and_keeps_its_best(
    odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(odd_study, "odd")
    code, out, _ = hpo_run(
        capsys, "always_fails", n_trials=2, name="odd", load_if_exists=True, storage=odd_study
    )
    assert code == 1
    assert "Study 'odd': 2 trials" in out and "(2 FAILED)" in out
    best = max((t for t in before if t.value is not None), key=lambda t: t.value or 0.0)
    assert f"Best value: {best.value:.6g} (trial {best.number})" in out
    after = stored(odd_study, "odd")
    assert after[:6] == before and states(after[6:]) == ["FAILED", "FAILED"]


def test_run_define_by_run_objective_by_module_name_with_threads(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, out, _ = hpo_run(
        capsys,
        "tests.cli_objectives:define_by_run",
        n_trials=6,
        n_workers=2,
        executor="thread",
        name="dbr",
        storage=url,
    )
    assert code == 0
    trials = stored(url, "dbr")
    assert states(trials) == ["COMPLETE"] * 6
    assert all("model" in t.params for t in trials)
    assert best_configuration(out)["model"] in ("linear", "tree")


def test_run_with_the_process_executor(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = hpo_run(
        capsys, "quadratic", n_trials=3, n_workers=2, executor="process", name="procs", storage=url
    )
    assert code == 0, err
    assert states(stored(url, "procs")) == ["COMPLETE"] * 3


def test_searcher_kwargs_reach_the_searcher_and_a_continued_study_keeps_its_searcher(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # resolution 2 gives a grid of 2 x values times 2 kinds = 4 points
    code, _, _ = hpo_run(
        capsys,
        "quadratic",
        searcher="grid",
        searcher_kwargs='{"resolution": 2}',
        n_trials=3,
        name="grid",
        storage=url,
    )
    assert code == 0
    code, out, _ = hpo_run(
        capsys, "quadratic", n_trials=10, name="grid", load_if_exists=True, storage=url
    )
    assert code == 0
    assert "Study 'grid': 1 trial " in out
    trials = stored(url, "grid")
    assert len(trials) == 4
    assert {t.params["x"] for t in trials} == {-5.0, 5.0}


def test_timeout_alone_bounds_the_run(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    code, _, _ = hpo_run(capsys, "quadratic", timeout=0.3, name="t", storage=url)
    assert code == 0
    assert time.monotonic() - t0 < 30  # generous: only that the timeout ends the run
    assert len(stored(url, "t")) >= 1


def test_storage_comes_from_hpo_storage_then_the_default_file(
    url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HPO_STORAGE", url)
    assert hpo_run(capsys, "quadratic", n_trials=2, name="env")[0] == 0
    assert study_names(url) == ["env"]
    monkeypatch.delenv("HPO_STORAGE")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    assert hpo_run(capsys, "quadratic", n_trials=2, name="dflt")[0] == 0
    assert (workdir / "hpo.db").is_file()
    code, out, _ = hpo_cli(capsys, "studies")
    assert code == 0 and "dflt" in out and "env" not in out


# --- hpo studies / show / export -------------------------------------------------------
def test_studies_lists_counts_by_state_and_best(
    odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hpo_run(capsys, "quadratic", n_trials=2, name="q", storage=odd_study)
    code, out, _ = hpo_cli(capsys, "studies", "--storage", odd_study)
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.split() == [
        "NAME",
        "DIRECTION",
        "SEARCHER",
        "TRIALS",
        "COMPLETE",
        "PRUNED",
        "FAILED",
        "RUNNING",
        "WAITING",
        "BEST",
        "CREATED",
    ]
    by_name = {row.split()[0]: row.split() for row in rows}
    assert set(by_name) == {"odd", "q"}
    assert by_name["odd"][1:9] == ["maximize", "tpe", "6", "3", "0", "3", "0", "0"]
    best = max(t.value for t in stored(odd_study, "odd") if t.value is not None)
    assert by_name["odd"][9] == f"{best:.6g}"
    assert by_name["q"][1:5] == ["minimize", "tpe", "2", "2"]


def test_studies_on_a_missing_file_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    code, out, _ = hpo_cli(capsys, "studies", "--storage", f"sqlite:///{missing}")
    assert code == 0 and "No studies" in out
    assert not missing.exists()


def test_show_prints_definition_counts_best_and_last_trials(
    odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = hpo_cli(capsys, "show", "odd", "--last", "2", "--storage", odd_study)
    assert code == 0
    assert "Study 'odd'" in out
    assert "direction:  maximize" in out and "searcher:   tpe" in out
    assert "seed:       1" in out and "metric:     accuracy" in out
    assert "x: Float(low=0.0, high=1.0" in out
    assert "Trials: 6 (3 COMPLETE, 3 FAILED)" in out
    complete = [t for t in stored(odd_study, "odd") if t.value is not None]
    best = max(complete, key=lambda t: t.value or 0.0)
    assert f"Best trial: {best.number}, value {best.value:.6g}" in out
    table = out[out.index("Last 2 trials:") :].splitlines()[1:]
    assert table[0].split()[:3] == ["NUMBER", "STATE", "VALUE"]
    assert [row.split()[:2] for row in table[1:]] == [["4", "COMPLETE"], ["5", "FAILED"]]
    assert "RuntimeError: trial 5 is odd" in table[2]


def test_show_a_define_by_run_study_lists_the_parameters_seen(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hpo_run(
        capsys, "define_by_run", n_trials=8, seed=0, name="dbr", searcher_kwargs="{}", storage=url
    )
    code, out, _ = hpo_cli(capsys, "show", "dbr", "--storage", url)
    assert code == 0
    assert "define-by-run" in out and "model: Categorical(choices=['linear', 'tree'])" in out


def test_export_csv_parses_back_with_every_trial(
    odd_study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trials = stored(odd_study, "odd")
    code, out, _ = hpo_cli(capsys, "export", "odd", "--format", "csv", "--storage", odd_study)
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert frame["number"].tolist() == list(range(6))
    assert frame["state"].tolist() == states(trials)
    assert frame["params_x"].tolist() == pytest.approx([t.params["x"] for t in trials])
    assert frame["user_attrs_parity"].tolist() == [0, 1] * 3
    assert frame["error"].tolist()[1] == "RuntimeError: trial 1 is odd"
    target = tmp_path / "odd.csv"
    code, out, err = hpo_cli(
        capsys, "export", "odd", "--format", "csv", "--output", str(target), "--storage", odd_study
    )
    assert code == 0 and out == "" and "Wrote 6 trials" in err
    assert pd.read_csv(target).equals(frame)


def test_export_json_holds_the_full_records(
    odd_study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "odd.json"
    code, _, _ = hpo_cli(
        capsys, "export", "odd", "--format", "json", "-o", str(target), "--storage", odd_study
    )
    assert code == 0
    data = json.loads(target.read_text())
    assert data["study"]["name"] == "odd" and data["study"]["direction"] == "maximize"
    assert data["study"]["metric"] == "accuracy" and data["study"]["seed"] == 1
    assert hpo.Space.from_json(data["study"]["space"]) == hpo.Space({"x": hpo.Float(0, 1)})
    trials = stored(odd_study, "odd")
    assert len(data["trials"]) == len(trials) == 6
    for record, trial in zip(data["trials"], trials, strict=True):
        assert record["number"] == trial.number and record["state"] == trial.state.value
        assert record["params"] == trial.params and record["value"] == trial.value
        assert record["metrics"] == trial.metrics
        assert record["intermediate_values"] == {"0": trial.intermediate_values[0]}
        assert record["user_attrs"] == {"parity": trial.number % 2}
        assert datetime.fromisoformat(record["datetime_start"]) == trial.datetime_start
        assert record["error"] == trial.error
    assert data["trials"][0]["metrics"]["loss"] == pytest.approx(1 - trials[0].params["x"])
    assert "Traceback" in data["trials"][1]["error"]


# --- bad arguments: exit 2, one line on stderr, nothing stored changes ----------------------
BAD_ARGUMENTS = {
    "unknown searcher": (
        ["run", obj("quadratic"), "--n-trials", "1", "--searcher", "nope"],
        ["unknown searcher 'nope'", "grid", "random"],
    ),
    "unknown searcher option": (
        ["run", obj("quadratic"), "--n-trials", "1", "--searcher-kwargs", '{"foo": 1}'],
        ["does not take 'foo'"],
    ),
    "no colon": (["run", str(OBJECTIVES), "--n-trials", "1"], ["malformed objective"]),
    "empty attribute": (["run", "cli_objectives:", "--n-trials", "1"], ["malformed objective"]),
    "empty module": (["run", ":quadratic", "--n-trials", "1"], ["malformed objective"]),
    "module not found": (
        ["run", "no_such_module_xyz:f", "--n-trials", "1"],
        ["no module named 'no_such_module_xyz'"],
    ),
    "file not found": (["run", "missing/objective.py:f", "--n-trials", "1"], ["no such file"]),
    "attribute not found": (
        ["run", obj("nope"), "--n-trials", "1"],
        ["has no attribute 'nope'", "quadratic"],
    ),
    "not callable": (["run", obj("NOT_CALLABLE"), "--n-trials", "1"], ["not callable", "42"]),
    "bad JSON": (
        ["run", obj("quadratic"), "--n-trials", "1", "--searcher-kwargs", "{bad"],
        ["--searcher-kwargs is not valid JSON"],
    ),
    "JSON not an object": (
        ["run", obj("quadratic"), "--n-trials", "1", "--searcher-kwargs", "[1, 2]"],
        ["--searcher-kwargs must be a JSON object"],
    ),
    "zero trials": (["run", obj("quadratic"), "--n-trials", "0"], ["--n-trials", "'0'"]),
    "negative trials": (["run", obj("quadratic"), "--n-trials", "-3"], ["--n-trials"]),
    "non-numeric trials": (["run", obj("quadratic"), "--n-trials", "many"], ["--n-trials"]),
    "no budget": (["run", obj("quadratic")], ["--n-trials", "--timeout"]),
    "serial with workers": (
        ["run", obj("quadratic"), "--n-trials", "1", "--executor", "serial", "--n-workers", "2"],
        ["serial executor"],
    ),
    "direction conflict": (
        ["run", obj("quadratic"), "--n-trials", "1", "--direction", "maximize"],
        ["direction"],
    ),
    "duplicate study": (
        ["run", obj("odd_trials_fail"), "--n-trials", "1", "--name", "odd"],
        ["'odd' already exists", "--load-if-exists"],
    ),
    "continued study with another searcher": (
        [
            "run",
            obj("odd_trials_fail"),
            "--n-trials",
            "1",
            "--name",
            "odd",
            "--load-if-exists",
            "--searcher",
            "grid",
        ],
        ["searcher 'tpe'"],
    ),
    "unknown study (show)": (["show", "nope"], ["no study named 'nope'", "odd"]),
    "unknown study (export)": (
        ["export", "od", "--format", "csv"],
        ["no study named 'od'", "Did you mean 'odd'"],
    ),
    "unknown format": (["export", "odd", "--format", "xml"], ["--format", "xml"]),
    "unknown command": (["frobnicate"], ["frobnicate"]),
}

BAD_STORAGE = {
    "not a URL": ("cli.db", ["invalid storage URL", "not a URL"]),
    "unknown dialect": ("nosuchdb://host/x", ["invalid storage URL", "nosuchdb"]),
    "missing directory": ("sqlite:////no/such/dir/x.db", ["invalid storage URL", "/no/such/dir"]),
}


def _assert_usage_error(code: int, err: str, fragments: list[str]) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hpo") and ": error: " in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_argument_exits_2_with_one_line_and_loses_nothing(
    case: str, odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(odd_study, "odd")
    argv, fragments = BAD_ARGUMENTS[case]
    code, out, err = hpo_cli(capsys, *argv, "--storage", odd_study)
    _assert_usage_error(code, err, fragments)
    assert out == ""
    assert study_names(odd_study) == ["odd"]
    assert stored(odd_study, "odd") == before


@pytest.mark.parametrize("case", BAD_STORAGE)
def test_invalid_storage_url_exits_2(
    case: str, odd_study: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored(odd_study, "odd")
    bad, fragments = BAD_STORAGE[case]
    for argv in (["run", obj("quadratic"), "--n-trials", "1"], ["studies"]):
        code, _, err = hpo_cli(capsys, *argv, "--storage", bad)
        _assert_usage_error(code, err, fragments)
    assert stored(odd_study, "odd") == before


def test_unwritable_export_output_exits_2(
    odd_study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "dir.csv"
    code, _, err = hpo_cli(
        capsys, "export", "odd", "--format", "csv", "-o", str(target), "--storage", odd_study
    )
    _assert_usage_error(code, err, ["cannot write", "dir.csv"])


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = hpo_cli(capsys, "run", "--help")
    assert code == 0 and "--searcher-kwargs" in out and "--load-if-exists" in out
    code, out, _ = hpo_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"hpo {hpo.__version__}"


# --- real processes ----------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HPO_STORAGE", None)
    return env


def test_python_dash_m_hpo_runs_and_rejects_bad_arguments(url: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpo",
            "run",
            obj("odd_trials_fail"),
            "--n-trials",
            "4",
            "--name",
            "sub",
            "--storage",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_env(),
    )
    assert run.returncode == 0, run.stderr
    assert "2 COMPLETE, 2 FAILED" in run.stdout
    assert "\r" not in run.stderr  # no progress bar when stderr is not a terminal
    assert states(stored(url, "sub")) == ["COMPLETE", "FAILED"] * 2
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpo",
            "export",
            "sub",
            "--format",
            "csv",
            "--storage",
            url,
            "--output",
            str(tmp_path / "x.csv"),
            "--n-trials",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_env(),
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "unrecognized arguments" in bad.stderr


def test_installed_console_script_lists_studies(odd_study: str, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("hpo")
    if not script.exists():
        pytest.skip(f"no console script at {script} (the package is not installed)")
    result = subprocess.run(
        [str(script), "studies", "--storage", odd_study],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[:4] == ["odd", "maximize", "tpe", "6"]


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")],
)
def test_ctrl_c_or_sigterm_fails_the_running_trial_then_exits(
    sig: signal.Signals, code: int, word: str, url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "running"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hpo",
            "run",
            obj("slow"),
            "--n-trials",
            "3",
            "--name",
            "slow",
            "--storage",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**_env(), "HPO_TEST_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the trial never started"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert word in err and "Traceback" not in err
    assert "(1 FAILED)" in out
    trials = stored(url, "slow")
    assert states(trials) == ["FAILED"]
    # the stored reason names the signal (SIGTERM used to read "KeyboardInterrupt")
    expected = "KeyboardInterrupt (Ctrl-C)" if sig == signal.SIGINT else "terminated by SIGTERM"
    assert expected in (trials[0].error or "")


def test_progress_bar_is_drawn_on_a_terminal(url: str, tmp_path: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hpo",
                "run",
                obj("quadratic"),
                "--n-trials",
                "3",
                "--name",
                "tty",
                "--storage",
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            cwd=tmp_path,
            env=_env(),
        )
        os.close(terminal)
        out, _ = proc.communicate(timeout=120)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal side is closed once the process exits
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert proc.returncode == 0
    assert "3/3" in drawn.decode() and "[####" in drawn.decode()
    assert "3/3" not in out


# --- issue 14: delete, --stopper, compare --help, pipes, CSV, storage errors ---------------
def test_delete_asks_or_takes_yes_and_a_missing_study_is_a_usage_error(
    odd_study: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = hpo_cli(capsys, "delete", "odd", "--storage", odd_study)
    assert code == 2 and "without --yes (no terminal to ask)" in err  # stdin is not a tty
    assert study_names(odd_study) == ["odd"]
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    code, _, err = hpo_cli(capsys, "delete", "odd", "--storage", odd_study)
    assert code == 0 and "Nothing deleted." in err and study_names(odd_study) == ["odd"]
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = hpo_cli(capsys, "delete", "odd", "--storage", odd_study)
    assert code == 0 and out.strip() == f"Deleted study 'odd' (6 trials) from {odd_study}."
    assert study_names(odd_study) == []
    code, _, err = hpo_cli(capsys, "delete", "odd", "--yes", "--storage", odd_study)
    assert code == 2 and "no study named 'odd'" in err and "Traceback" not in err


def test_delete_never_creates_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    code, _, err = hpo_cli(capsys, "delete", "x", "--yes", "--storage", url)
    assert code == 2 and "no study named 'x'" in err
    assert not (tmp_path / "none.db").exists()


def test_run_with_a_stopper(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = hpo_run(
        capsys,
        "curve",
        n_trials=8,
        seed=0,
        name="asha",
        searcher="random",
        stopper="asha",
        stopper_kwargs='{"reduction_factor": 3}',
        storage=url,
    )
    assert code == 0, err
    study = hpo.load_study("asha", url)
    assert study.stopper_name == "asha" and study.stopper_kwargs == {"reduction_factor": 3}
    assert "PRUNED" in {t.state.value for t in study.trials}
    code, _, err = hpo_run(capsys, "quadratic", n_trials=2, stopper="asha", storage=url)
    assert code == 2 and "needs the trials' budget" in err
    code, _, err = hpo_run(capsys, "curve", n_trials=2, stopper="ashaa", storage=url)
    assert code == 2 and "Did you mean 'asha'" in err
    code, _, err = hpo_run(capsys, "curve", n_trials=2, stopper_kwargs="{}", storage=url)
    assert code == 2 and "--stopper-kwargs needs --stopper" in err


def test_run_load_if_exists_keeps_the_stored_searcher_options(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = hpo_run(
        capsys, "quadratic", n_trials=2, name="kw", searcher="tpe",
        searcher_kwargs='{"n_startup": 3}', storage=url,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = hpo_run(
        capsys, "quadratic", n_trials=2, name="kw", load_if_exists=True, storage=url
    )
    assert code == 0, err
    assert hpo.load_study("kw", url).searcher_kwargs == {"n_startup": 3}


def test_compare_help_lists_the_built_in_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = hpo_cli(capsys, "compare", "--help")
    text = " ".join(out.split())
    assert code == 0
    for problem in ("branin", "hartmann6", "svm_wine", "mixed"):
        assert problem in text
    assert "lcbench-<task> and lcbench-epochs-<task> for task in 3945, 7593" in text


def test_compare_within_a_start_up_phase_calls_the_tie_a_tie(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", "branin", "--searchers", "random,tpe", "--seeds", "2", "--n-trials", "4"]
    code, out, err = hpo_cli(capsys, *args, "--storage", url)
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[2:4]}
    assert "tied" in rows["random"] and "tied" in rows["tpe"] and " best " not in out
    assert "Note: random, tpe tie (equal median final value): no winner among them." in out
    assert "Note: tpe spends its first 10 trials on its start-up design, so at 4 trials" in out


def test_show_into_a_closed_pipe_ends_quietly(odd_study: str) -> None:
    shell = f"{sys.executable} -m hpo.cli show odd --storage {odd_study} | head -2"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120,
        env=_env(),
    )  # fmt: skip
    assert result.stdout.splitlines()[0] == "Study 'odd'"
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.returncode in (0, 141)  # 141 = 128 + SIGPIPE, when the pipe closed first


def test_csv_export_keeps_integer_parameters_integers(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = hpo_run(
        capsys, "conditional_int", n_trials=8, seed=2, name="ints", searcher="random", storage=url
    )
    assert code == 0, err
    code, out, _ = hpo_cli(capsys, "export", "ints", "--format", "csv", "--storage", url)
    frame = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    values = [v for v in frame["params_n"] if v]
    assert values and all(v.isdigit() for v in values), values  # "4", not "4.0"
    assert "" in set(frame["params_n"])


def test_a_storage_that_cannot_be_created_says_where_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    code, _, err = hpo_run(capsys, "quadratic", n_trials=1, storage=url)
    assert code == 2 and "does not exist" in err and str(tmp_path / "no") in err
