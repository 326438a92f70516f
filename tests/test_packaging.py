"""The built wheel: every package and data file, and a study run from a non-editable install.

The source tree is copied before building, so stale ``build/`` output in the checkout can
neither hide a missing package nor leak into the wheel. Nothing is downloaded: the wheel
is built without build isolation (setuptools comes from this environment) and installed
with ``--no-deps --no-index`` into a fresh virtual environment, which sees this
environment's site-packages (for numpy, scipy, ...) through a ``.pth`` file appended
after its own, so the installed ``hpo`` wins over the editable one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

#: installed package name -> source folder, as setup.py maps them
SOURCE_ROOTS = {"hpo": "hpo", "hpo.adapters": "adapters", "hpo.server": "server"}

#: what the build needs from the checkout (missing optional ones are skipped)
BUILD_INPUTS = ["pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in", "README.md", "LICENSE"]

_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build", "dist", ".*cache"
)


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    return proc


def _source_tree_files(folder: Path) -> list[Path]:
    """Files below folder, skipping caches and hidden folders."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        out += [Path(dirpath, f) for f in filenames if not f.endswith((".pyc", ".pyo"))]
    return out


def _installed_path(source: Path) -> str:
    """A source file's path inside the wheel (adapters/x.py -> hpo/adapters/x.py)."""
    rel = source.relative_to(REPO)
    for package, folder in SOURCE_ROOTS.items():
        if rel.parts[0] == folder:
            return "/".join([*package.split("."), *rel.parts[1:]])
    raise AssertionError(f"{rel} is outside the package folders")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    for folder in SOURCE_ROOTS.values():
        shutil.copytree(REPO / folder, src / folder, ignore=_IGNORE)
    out = tmp_path_factory.mktemp("wheelhouse")
    _run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--no-index", "--disable-pip-version-check", "-q", "-w", str(out), str(src),
        ],
        cwd=src,
    )  # fmt: skip
    (built,) = out.glob("hpo-*.whl")
    return built


def test_wheel_ships_every_package_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())

    inits = [
        path
        for folder in SOURCE_ROOTS.values()
        for path in _source_tree_files(REPO / folder)
        if path.name == "__init__.py"
    ]
    expected_packages = {_installed_path(p) for p in inits}
    assert "hpo/stoppers/__init__.py" in expected_packages  # the one once forgotten
    missing = sorted(expected_packages - names)
    assert missing == [], f"packages missing from the wheel (see setup.py): {missing}"

    data = [REPO / "hpo/py.typed"]
    data += _source_tree_files(REPO / "hpo/storage/migrations")
    data += _source_tree_files(REPO / "hpo/benchmarks/data/lcbench")
    if (REPO / "server/dashboard").is_dir():
        data += [p for p in _source_tree_files(REPO / "server/dashboard") if p.suffix != ".py"]
    expected_data = {_installed_path(p) for p in data}
    assert {
        "hpo/storage/migrations/env.py",
        "hpo/storage/migrations/script.py.mako",
        "hpo/storage/migrations/versions/0001_initial.py",
        "hpo/benchmarks/data/lcbench/model.onnx",
        "hpo/benchmarks/data/lcbench/config_space.json",
    } <= expected_data
    missing = sorted(expected_data - names)
    assert missing == [], f"data files missing from the wheel (see setup.py): {missing}"

    metadata = zipfile.ZipFile(wheel).read("hpo-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in metadata


SMOKE = """
import sys

import hpo

print("HPO_FILE", hpo.__file__)

@hpo.objective(
    space={"x": hpo.Float(-5.0, 5.0), "y": hpo.Int(0, 3)},
    direction="minimize",
    budget=hpo.Budget("epoch", 1, 9),
)
def train(config, trial):
    value = float("inf")
    for step in range(1, int(trial.budget) + 1):
        value = (config["x"] - 1.0) ** 2 + config["y"] + 1.0 / step
        trial.report(step, value)
        if trial.should_stop():
            break
    return value

for searcher, stopper in (("bohb", None), ("random", "asha")):
    study = hpo.create_study(train, searcher=searcher, stopper=stopper, seed=0)
    study.optimize(n_trials=12, progress=False)
    states = [t.state.name for t in study.trials]
    print("STUDY", searcher, stopper, len(states), states.count("COMPLETE"),
          states.count("PRUNED"))

for name, module in sorted(sys.modules.items()):
    if name == "hpo" or name.startswith("hpo."):
        print("MODULE", name, getattr(module, "__file__", None))
"""


def test_installed_wheel_runs_bohb_and_asha(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }
    env["PYTHONNOUSERSITE"] = "1"
    # installed before the .pth below exists, so pip sees no other hpo
    _run(
        [
            str(python), "-m", "pip", "install", "--no-deps", "--no-index",
            "--disable-pip-version-check", "-q", str(wheel),
        ],
        cwd=tmp_path, env=env,
    )  # fmt: skip

    site_packages = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
        env=env,
    ).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    # plain directory lines: appended to sys.path after the venv's own site-packages, and
    # the .pth files there (the editable install's finder among them) are not run
    (Path(site_packages) / "_project_site.pth").write_text("".join(f"{p}\n" for p in ours))

    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "smoke.py").write_text(textwrap.dedent(SMOKE))
    proc = _run([str(python), "smoke.py"], cwd=workdir, env=env, timeout=120)
    output = proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()

    venv_root = str(venv.resolve())
    (hpo_file,) = [line.split(" ", 1)[1] for line in lines if line.startswith("HPO_FILE ")]
    assert str(Path(hpo_file).resolve()).startswith(venv_root), output
    modules = [line.split(" ") for line in lines if line.startswith("MODULE ")]
    for _, name, file in modules:
        assert file == "None" or str(Path(file).resolve()).startswith(venv_root), (name, output)
    loaded = {name for _, name, _ in modules}
    assert {"hpo.stoppers", "hpo.stoppers.asha", "hpo.searchers.bohb"} <= loaded, output

    studies = {
        (words[1], words[2]): tuple(map(int, words[3:]))
        for words in (line.split() for line in lines if line.startswith("STUDY "))
    }
    assert set(studies) == {("bohb", "None"), ("random", "asha")}, output
    for (searcher, _), (n_trials, complete, pruned) in studies.items():
        assert n_trials == 12, (searcher, output)
        assert complete + pruned == 12, (searcher, output)
        assert pruned >= 1, (searcher, output)  # the stopping side did stop something

    version = _run([str(venv / "bin" / "hpo"), "--version"], cwd=workdir, env=env)
    assert "0.1.0" in version.stdout + version.stderr
