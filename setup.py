"""Package discovery for the wheel; the rest of the metadata is in pyproject.toml.

Three source folders make up the ``hpo`` package: ``hpo/`` itself, ``adapters/``
(installed as ``hpo.adapters``) and ``server/`` (installed as ``hpo.server``). Static
configuration cannot find packages under a renamed folder, so this file finds them:
every folder below these roots with an ``__init__.py`` is shipped under its installed
name, and a new subpackage needs no edit here. ``tests/test_packaging.py`` builds the
wheel and checks it.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent

#: installed package name -> source folder (relative to this file)
PACKAGE_ROOTS = {"hpo": "hpo", "hpo.adapters": "adapters", "hpo.server": "server"}

#: non-Python files shipped with a package: glob patterns relative to its folder
PACKAGE_DATA = {
    "hpo": ["py.typed"],
    "hpo.storage": [
        "migrations/*.py",
        "migrations/*.mako",
        "migrations/versions/*.py",
    ],
    "hpo.benchmarks": ["data/lcbench/*"],
}

#: folders (relative to a package's folder) whose every non-Python file ships, at any depth
DATA_TREES = {"hpo.server": ["dashboard"]}

_SKIP_DIRS = {"__pycache__", "node_modules", ".git"}
_SKIP_SUFFIXES = {".py", ".pyc", ".pyo"}


def discover_packages() -> list[str]:
    """Every package under the roots, by installed name (server/routes -> hpo.server.routes)."""
    packages: list[str] = []
    for name, folder in PACKAGE_ROOTS.items():
        if not (HERE / folder / "__init__.py").is_file():
            raise SystemExit(f"setup.py: {folder}/__init__.py is missing (package {name})")
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(str(HERE / folder))]
    # a root below another root's folder would be found twice (never the case today)
    return sorted(set(packages))


def discover_package_data() -> dict[str, list[str]]:
    """PACKAGE_DATA plus every non-Python file under each existing DATA_TREES folder."""
    data = {package: list(patterns) for package, patterns in PACKAGE_DATA.items()}
    for package, trees in DATA_TREES.items():
        package_dir = HERE / PACKAGE_ROOTS[package]
        for tree in trees:
            for dirpath, dirnames, filenames in os.walk(package_dir / tree):
                dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
                for filename in sorted(filenames):
                    path = Path(dirpath, filename)
                    if path.suffix not in _SKIP_SUFFIXES:
                        # escaped: setuptools reads package data as glob patterns
                        relative = path.relative_to(package_dir).as_posix()
                        data.setdefault(package, []).append(glob.escape(relative))
    return data


setup(
    package_dir=dict(PACKAGE_ROOTS),
    packages=discover_packages(),
    package_data=discover_package_data(),
    include_package_data=False,
)
