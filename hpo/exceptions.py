"""Errors raised across the library, each with a message that says what to do."""

from __future__ import annotations

from hpo.space import SpaceError

__all__ = [
    "ComparisonNotFoundError",
    "DuplicateComparisonError",
    "DuplicateStudyError",
    "HPOError",
    "SearchSpaceExhausted",
    "SearcherError",
    "SpaceError",
    "StudyNotFoundError",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialPruned",
    "UnknownSearcherError",
    "UnsupportedSpaceError",
]


class HPOError(Exception):
    """Base of the library's own errors (other than invalid spaces, which are ValueErrors)."""


class StudyNotFoundError(HPOError, KeyError):
    """No study of that name in the storage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "study not found"


class DuplicateStudyError(HPOError):
    """A study of that name already exists (pass load_if_exists=True to reuse it)."""


class ComparisonNotFoundError(HPOError, KeyError):
    """No comparison of that name (or id) in the storage."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "comparison not found"


class DuplicateComparisonError(HPOError):
    """A comparison of that name already exists (pass load_if_exists=True to resume it),
    or it already has a study for that (label, seed)."""


class TrialNotFoundError(HPOError, KeyError):
    """No trial of that number in the study."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "trial not found"


class TrialFinishedError(HPOError):
    """The trial is already finished; finished trials are immutable."""


class SearcherError(HPOError):
    """A searcher cannot do what was asked (e.g. define-by-run on a grid)."""


class UnknownSearcherError(SearcherError, ValueError):
    """No searcher is registered under that name."""


class UnsupportedSpaceError(SearcherError, ValueError):
    """A searcher (or the library behind an adapter) cannot express this space."""


class SearchSpaceExhausted(HPOError):
    """The searcher has no new point to propose (e.g. every grid point was claimed)."""


class TrialPruned(HPOError):
    """Raise inside an objective to end the trial as PRUNED (stopped early)."""
