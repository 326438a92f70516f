"""What the searcher and stopper registries share: the error for an unknown name, lazy
imports of ``"module:Class"`` targets, and the check of keyword options."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Iterable, Mapping
from typing import Any


def unknown_name_message(kind: str, name: object, names: Iterable[str]) -> str:
    """``unknown <kind> 'x'. Did you mean ...? Available: ...`` (close matches first)."""
    known = sorted(names)
    close = difflib.get_close_matches(str(name), known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Available: {', '.join(known)}"


def import_target(target: str) -> Any:
    """The attribute ``"module:attr"`` names (``ImportError`` if the module is missing)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def unknown_options_message(
    kind: str, name: str, cls: type, kwargs: Mapping[str, Any], fixed: tuple[str, ...]
) -> str | None:
    """Why ``cls(...)`` cannot take ``kwargs`` as options, or ``None`` when it can.

    ``fixed`` are the constructor arguments the registry passes itself (the space or the
    budget, ``direction``, ``seed``): never options, and left out of the list shown."""
    accepted = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        return None
    unknown = [k for k in kwargs if k not in accepted or k in ("self", *fixed[:1])]
    if not unknown:
        return None
    options = [k for k in accepted if k not in ("self", *fixed)]
    return (
        f"{kind} {name!r} does not take {', '.join(map(repr, unknown))}; "
        f"its options are: {', '.join(options) or 'none'}"
    )
