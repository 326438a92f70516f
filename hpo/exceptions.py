"""Errors raised across the library, each with a message that says what to do, a stable
``code`` and a ``kind``.

``code`` names the error for programs (``"study_not_found"``); it never changes once
published, so a server can answer with it and a client rebuild the same exception.
``kind`` says what sort of failure it is, which is what a server maps to HTTP:

=============== ====================================================== ==============
kind            meaning                                                HTTP
=============== ====================================================== ==============
``not_found``   the study, trial or comparison does not exist          404
``conflict``    the request clashes with the stored state              409
``invalid``     the request itself is wrong (a bad space, a bad name)  422
``exhausted``   nothing left to propose (a finished grid)              409 / typed
``unavailable`` a dependency cannot serve now (database, schema)       503
``forbidden``   the caller may not do this                             403
=============== ====================================================== ==============

Every subclass of :class:`HPOError` registers itself when defined: it declares ``code``
(else one is derived from its name: ``UnknownStopperError`` -> ``"unknown_stopper"``)
and inherits ``kind`` unless it declares its own. :class:`~hpo.space.SpaceError` (a
``ValueError`` defined with the spaces) carries a code too and is registered here.

>>> exc = StudyNotFoundError("no study named 'a'")
>>> error_code(exc), exc.kind
('study_not_found', 'not_found')
>>> again = error_from_code("study_not_found", "no study named 'a'")
>>> type(again) is StudyNotFoundError and str(again) == str(exc)
True
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from hpo.space import SpaceError

__all__ = [
    "KINDS",
    "ComparisonNotFoundError",
    "DuplicateComparisonError",
    "DuplicateStudyError",
    "HPOError",
    "SearchSpaceExhausted",
    "SearcherError",
    "SpaceError",
    "StudyNotFoundError",
    "StudyOwnedError",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "UnknownSearcherError",
    "UnsupportedSpaceError",
    "error_classes",
    "error_code",
    "error_from_code",
    "error_kind",
]

#: the kinds of error, each mapped to one HTTP answer by a server (see the module docstring)
KINDS = ("not_found", "conflict", "invalid", "exhausted", "unavailable", "forbidden")
#: codes of errors that are not the library's own: plain ``ValueError`` / ``TypeError``
#: (``"invalid"``) and anything else (``"internal"``)
INVALID, INTERNAL = "invalid", "internal"

_REGISTRY: dict[str, type[BaseException]] = {}
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _derived_code(cls: type) -> str:
    """``UnknownStopperError`` -> ``"unknown_stopper"``."""
    name = cls.__name__.removesuffix("Error") or cls.__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _register(cls: type[BaseException]) -> None:
    """Add ``cls`` under its ``code`` (a class attribute set on ``cls`` itself)."""
    code = cls.__dict__.get("code")
    kind = getattr(cls, "kind", None)
    if not isinstance(code, str) or not _CODE_RE.match(code) or code in (INVALID, INTERNAL):
        raise TypeError(f"{cls.__qualname__}.code must be a snake_case name, got {code!r}")
    if kind not in KINDS:
        raise TypeError(f"{cls.__qualname__}.kind must be one of {KINDS}, got {kind!r}")
    known = _REGISTRY.get(code)
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise TypeError(
            f"error code {code!r} of {cls.__module__}.{cls.__qualname__} is already used by "
            f"{known.__module__}.{known.__qualname__}; give the new class its own `code`"
        )
    _REGISTRY[code] = cls  # the same class defined again (a module reload) replaces itself


class HPOError(Exception):
    """Base of the library's own errors (other than invalid spaces, which are ValueErrors).

    Subclasses set ``code`` (stable, snake_case) and ``kind`` (one of :data:`KINDS`), and
    may set ``default_message``, the text of an instance raised without a message.
    """

    code: ClassVar[str] = "hpo_error"
    kind: ClassVar[str] = "invalid"
    default_message: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = _derived_code(cls)
        _register(cls)

    def __str__(self) -> str:
        # one message, as given: KeyError's own __str__ would quote it
        if len(self.args) == 1:
            return str(self.args[0])
        if not self.args:
            return self.default_message
        return super().__str__()


_register(HPOError)


class StudyNotFoundError(HPOError, KeyError):
    """No study of that name in the storage."""

    code = "study_not_found"
    kind = "not_found"
    default_message = "study not found"


class DuplicateStudyError(HPOError):
    """A study of that name already exists (pass load_if_exists=True to reuse it)."""

    code = "duplicate_study"
    kind = "conflict"


class StudyOwnedError(HPOError):
    """The study is driven by a server (its stored ``owner``); this process must not drive
    it too."""

    code = "study_owned"
    kind = "conflict"
    default_message = (
        "the study is driven by a server; connect to it with storage='http://...' instead "
        "of driving it in this process"
    )


class ComparisonNotFoundError(HPOError, KeyError):
    """No comparison of that name (or id) in the storage."""

    code = "comparison_not_found"
    kind = "not_found"
    default_message = "comparison not found"


class DuplicateComparisonError(HPOError):
    """A comparison of that name already exists (pass load_if_exists=True to resume it),
    or it already has a study for that (label, seed)."""

    code = "duplicate_comparison"
    kind = "conflict"


class TrialNotFoundError(HPOError, KeyError):
    """No trial of that number in the study."""

    code = "trial_not_found"
    kind = "not_found"
    default_message = "trial not found"


class TrialFinishedError(HPOError):
    """The trial is already finished; finished trials are immutable."""

    code = "trial_finished"
    kind = "conflict"


class SearcherError(HPOError):
    """A searcher cannot do what was asked (e.g. define-by-run on a grid)."""

    code = "searcher_error"
    kind = "invalid"


class UnknownSearcherError(SearcherError, ValueError):
    """No searcher is registered under that name."""

    code = "unknown_searcher"
    kind = "invalid"


class UnsupportedSpaceError(SearcherError, ValueError):
    """A searcher (or the library behind an adapter) cannot express this space."""

    code = "unsupported_space"
    kind = "invalid"


class SearchSpaceExhausted(HPOError):
    """The searcher has no new point to propose (e.g. every grid point was claimed)."""

    code = "search_space_exhausted"
    kind = "exhausted"


class TrialPruned(HPOError):
    """Raise inside an objective to end the trial as PRUNED (stopped early).

    Its kind is ``conflict``: seen outside an objective, it says the trial was stopped
    and may not go on."""

    code = "trial_pruned"
    kind = "conflict"


# SpaceError is a ValueError defined with the spaces (hpo.space imports nothing of ours);
# its code and kind are class attributes there.
_register(SpaceError)


# --- codes -------------------------------------------------------------------------------
def _registered_class(exc: BaseException) -> type[BaseException] | None:
    """The nearest class of ``exc`` (itself or a base) that is registered under a code."""
    for klass in type(exc).__mro__:
        code = klass.__dict__.get("code")
        if isinstance(code, str) and _REGISTRY.get(code) is klass:
            return klass
    return None


def error_classes() -> dict[str, type[BaseException]]:
    """Every registered error class by its code (a copy), e.g. to document a server's
    answers."""
    return dict(_REGISTRY)


def error_code(exc: BaseException) -> str:
    """The stable code of ``exc``: its class's (or nearest registered base's) ``code``;
    ``"invalid"`` for other ``ValueError`` / ``TypeError``; ``"internal"`` otherwise.

    >>> error_code(ValueError("bad")), error_code(RuntimeError("boom"))
    ('invalid', 'internal')
    """
    klass = _registered_class(exc)
    if klass is not None:
        return str(klass.__dict__["code"])
    if isinstance(exc, ValueError | TypeError):
        return INVALID
    return INTERNAL


def error_kind(exc: BaseException) -> str:
    """The kind of ``exc`` (one of :data:`KINDS`), ``"invalid"`` for other ``ValueError``
    / ``TypeError``, ``"internal"`` for anything else (a server answers 500 only then)."""
    klass = _registered_class(exc)
    if klass is not None:
        return str(klass.kind)  # type: ignore[attr-defined]
    if isinstance(exc, ValueError | TypeError):
        return INVALID
    return INTERNAL


def error_from_code(code: str, message: str) -> Exception:
    """An exception of the class registered under ``code`` whose ``str()`` is
    ``message`` (what a client raises for a server's error answer).

    ``"invalid"`` gives a ``ValueError``; ``"internal"`` and unknown codes an
    :class:`HPOError` (its ``code`` stays the base's; the message is kept).
    """
    if code == INVALID:
        return ValueError(message)
    klass = _REGISTRY.get(code, HPOError)
    if not issubclass(klass, Exception):  # pragma: no cover - only Exceptions are registered
        klass = HPOError
    args = (message,) if message else ()
    try:
        exc = klass(*args)
    except TypeError:  # a constructor with other arguments: bypass it
        exc = klass.__new__(klass)
        Exception.__init__(exc, *args)
    if str(exc) != message:  # e.g. a class whose __str__ quotes (KeyError) or decorates
        exc = klass.__new__(klass)
        Exception.__init__(exc, message)
        if str(exc) != message:
            return HPOError(message)
    return exc
