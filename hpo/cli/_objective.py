"""Finding the objective that ``hpo run`` optimizes: ``module:attr`` or
``path/to/file.py:attr`` turned into the callable it names, with a one-line
:class:`~hpo.cli._common.UsageError` for every way that can go wrong (a malformed target,
a missing module or file, an import that raises, an attribute that is absent or not
callable), so that a typo never ends in a traceback."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpo.cli._common import UsageError


def load_objective(target: str) -> Callable[..., Any]:
    """Import ``module:attr`` or ``path/to/file.py:attr`` and return the callable.

    A file is imported as a module named after it, with its directory put first on
    ``sys.path`` (so the process executor can import it again in its workers); a module
    name is looked up from the current directory too, as ``python -m`` does."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr or not _is_dotted_name(attr):
        raise UsageError(
            f"malformed objective {target!r}: expected module:function or path/to/file.py:function"
        )
    if module_part.endswith(".py") or "/" in module_part or os.sep in module_part:
        module = _import_file(Path(module_part))
    else:
        module = _import_module(module_part)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(
                f"{module_part!r} has no attribute {attr!r}; it defines: "
                f"{', '.join(_callables_in(module)) or 'no functions'}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(
            f"{target!r} is not callable (it is the {type(obj).__name__} {obj!r}); name a "
            "function or an @hpo.objective"
        )
    return obj


def _is_dotted_name(text: str) -> bool:
    return all(part.isidentifier() for part in text.split("."))


def _import_module(name: str) -> Any:
    if not _is_dotted_name(name):
        raise UsageError(f"malformed module name {name!r}; expected e.g. package.module")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UsageError(
                f"no module named {name!r}; check the name or give a file path "
                "(path/to/file.py:function)"
            ) from None
        raise UsageError(f"importing {name!r} failed: {exc}") from None
    except (Exception, SystemExit) as exc:
        raise UsageError(f"importing {name!r} failed: {_describe(exc)}") from None


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UsageError(f"no such file {str(path)!r}")
    if path.suffix != ".py" or not path.stem.isidentifier():
        raise UsageError(f"{str(path)!r} is not an importable Python file (name.py)")
    resolved = path.resolve()
    loaded = sys.modules.get(path.stem)
    loaded_file = getattr(loaded, "__file__", None)
    if loaded is not None and (loaded_file is None or Path(loaded_file).resolve() != resolved):
        raise UsageError(
            f"cannot import {str(path)!r} as module {path.stem!r}: another module of that "
            f"name is already loaded ({loaded_file or 'built in'}); rename the file"
        )
    directory = str(resolved.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        return importlib.import_module(path.stem)
    except (Exception, SystemExit) as exc:  # SystemExit: a script without a __main__ guard
        raise UsageError(f"importing {str(path)!r} failed: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)``, the line being the innermost frame."""
    if isinstance(exc, SyntaxError):  # its message names the file and line already
        return f"SyntaxError: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "<frozen" not in f.filename]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _callables_in(module: Any) -> list[str]:
    """Public functions and objectives defined in ``module`` (for error messages)."""
    from hpo.objective import Objective

    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (callable(value) or isinstance(value, Objective))
        and getattr(value, "__module__", None) == module.__name__
    )
