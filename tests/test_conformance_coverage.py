"""Every registered searcher and stopper runs its conformance suite: a new one that is
registered without a conformance spec fails here, naming what is missing."""

from __future__ import annotations

import ast
from pathlib import Path

from hpo import searchers, stoppers

TESTS = Path(__file__).resolve().parent


def _spec_names(call: str, suite: str) -> set[str]:
    """Names given to ``call(...)`` (first argument, a string) in test modules that
    subclass the conformance suite ``suite``."""
    names: set[str] = set()
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        runs_suite = any(
            isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id == suite for b in node.bases)
            for node in ast.walk(tree)
        )
        if not runs_suite:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == call
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names.add(node.args[0].value)
    return names


def _stopper_spec_names() -> set[str]:
    """First elements of the ``(name, kwargs)`` pairs in ``SPECS`` of the modules that run
    the stopper suite."""
    names: set[str] = set()
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if "StopperConformance" not in {
            b.id
            for n in ast.walk(tree)
            if isinstance(n, ast.ClassDef)
            for b in n.bases
            if isinstance(b, ast.Name)
        }:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


def _shipped(registry: dict[str, object]) -> set[str]:
    """The names in a registry that the package ships (a class or lazy target of
    ``hpo``'s own modules); names tests register for themselves are left out."""
    names = set()
    for name, entry in registry.items():
        module = entry if isinstance(entry, str) else getattr(entry, "__module__", "")
        if module.startswith("hpo."):
            names.add(name)
    return names


def test_every_registered_searcher_has_a_conformance_spec() -> None:
    shipped = _shipped(searchers._REGISTRY)  # type: ignore[arg-type]
    assert {"grid", "random", "tpe", "gp", "optuna:tpe"} <= shipped
    missing = sorted(shipped - _spec_names("SearcherSpec", "SearcherConformance"))
    assert not missing, (
        f"searchers registered without a conformance spec: {missing}; add a "
        "SearcherSpec for each to a test module that runs SearcherConformance"
    )


def test_every_registered_stopper_has_a_conformance_spec() -> None:
    shipped = _shipped(stoppers._REGISTRY)  # type: ignore[arg-type]
    assert {"median", "asha", "hyperband"} <= shipped
    missing = sorted(shipped - _stopper_spec_names())
    assert not missing, (
        f"stoppers registered without a conformance spec: {missing}; add them to SPECS in "
        "tests/stoppers/test_conformance.py"
    )
