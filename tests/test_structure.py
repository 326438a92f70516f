"""The import structure DESIGN.md asks for, checked on the source: no import cycle inside
``hpo`` (module-level imports), executors that know nothing of the study, and no module
but ``hpo/study.py`` reaching into a study's private members."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hpo"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        base = ROOT / folder
        if base.is_dir():
            yield from sorted(base.rglob("*.py"))


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules among ``modules`` that ``path`` imports when it is imported (not inside
    functions or ``if TYPE_CHECKING:`` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    name = f"{base}.{node.module}" if node.module else base
                else:
                    name = node.module or ""
                subs = {f"{name}.{a.name}" for a in node.names} & modules
                found.update(subs)
                # `from pkg import sub` loads pkg.sub; pkg itself is an edge only when a
                # name other than a submodule is taken from it (a parent package is always
                # initialised first, whatever imports it)
                if len(subs) < len(node.names):
                    found.add(name)
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return found & modules


def test_hpo_has_no_import_cycle() -> None:
    modules = {_module_name(p): p for p in _sources("hpo") if "migrations" not in p.parts}
    graph = {
        name: _top_level_imports(path, set(modules)) - {name} for name, path in modules.items()
    }
    # a package imports its submodules by design; cycles through an __init__ re-export
    # are still cycles, so nothing is exempt
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_executors_import_nothing_from_the_study() -> None:
    for path in _sources("hpo/executors"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert "hpo.study" not in imported, f"{path.relative_to(ROOT)} imports hpo.study"


def test_no_module_but_study_touches_a_studys_private_members() -> None:
    offenders = []
    for path in _sources("hpo", "adapters", "server"):
        if path == PACKAGE / "study.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__"):
                continue
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if name in ("study", "_study"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    # the Optuna adapter's `_study` is an optuna.Study, whose privates are Optuna's affair
    offenders = [o for o in offenders if not o.startswith("adapters/_optuna")]
    assert not offenders, "private members of a Study used outside study.py:\n" + "\n".join(
        offenders
    )
