"""Stable error codes: every error class has a unique code and a kind, and a (code,
message) pair rebuilds the same exception, as a client does with a server's answer."""

from __future__ import annotations

import inspect
import pickle

import pytest

import hpo.exceptions as exc_module
from hpo.exceptions import (
    KINDS,
    ComparisonNotFoundError,
    DuplicateStudyError,
    HPOError,
    SearchSpaceExhausted,
    SpaceError,
    StudyNotFoundError,
    StudyOwnedError,
    TrialNotFoundError,
    TrialPruned,
    UnknownSearcherError,
    error_classes,
    error_code,
    error_from_code,
    error_kind,
)


def _exported_classes() -> list[type[BaseException]]:
    return [
        obj
        for name in exc_module.__all__
        if inspect.isclass(obj := getattr(exc_module, name)) and issubclass(obj, BaseException)
    ]


def test_every_exported_class_has_a_unique_code_and_a_known_kind() -> None:
    classes = _exported_classes()
    assert SpaceError in classes and TrialPruned in classes and StudyOwnedError in classes
    codes = [cls.code for cls in classes]  # type: ignore[attr-defined]
    assert len(set(codes)) == len(codes), codes
    for cls in classes:
        assert cls.kind in KINDS, cls  # type: ignore[attr-defined]
        assert error_classes()[cls.code] is cls  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", _exported_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("message", ["no study named 'a'", "", "ünïcode: «x» ∑"])
def test_code_and_message_rebuild_the_same_exception(
    cls: type[BaseException], message: str
) -> None:
    original = cls(message) if message else cls()
    rebuilt = error_from_code(error_code(original), str(original))
    assert type(rebuilt) is cls
    assert str(rebuilt) == str(original)
    assert error_kind(rebuilt) == cls.kind  # type: ignore[attr-defined]


def test_table_of_codes_and_kinds() -> None:
    expected = {
        "study_not_found": "not_found",
        "trial_not_found": "not_found",
        "comparison_not_found": "not_found",
        "duplicate_study": "conflict",
        "duplicate_comparison": "conflict",
        "trial_finished": "conflict",
        "study_owned": "conflict",
        "trial_pruned": "conflict",
        "search_space_exhausted": "exhausted",
        "unknown_searcher": "invalid",
        "unsupported_space": "invalid",
        "searcher_error": "invalid",
        "invalid_space": "invalid",
        "hpo_error": "invalid",
    }
    registry = error_classes()
    assert {code: registry[code].kind for code in expected} == expected  # type: ignore[attr-defined]


def test_key_error_subclasses_keep_their_message_unquoted() -> None:
    for cls in (StudyNotFoundError, TrialNotFoundError, ComparisonNotFoundError):
        e = cls("no study named 'x'")
        assert isinstance(e, KeyError) and str(e) == "no study named 'x'"
        assert str(error_from_code(cls.code, str(e))) == "no study named 'x'"
    assert str(StudyNotFoundError()) == "study not found"
    rebuilt = error_from_code("study_not_found", "study not found")
    assert type(rebuilt) is StudyNotFoundError and str(rebuilt) == "study not found"


def test_study_owned_error_says_what_to_do() -> None:
    e = StudyOwnedError()
    assert e.kind == "conflict" and isinstance(e, HPOError)
    assert "storage='http://...'" in str(e)
    assert str(StudyOwnedError("study 'a' is driven by server x")) == (
        "study 'a' is driven by server x"
    )


def test_errors_that_are_not_ours() -> None:
    assert (error_code(ValueError("v")), error_kind(ValueError("v"))) == ("invalid", "invalid")
    assert (error_code(TypeError("t")), error_kind(TypeError("t"))) == ("invalid", "invalid")
    assert (error_code(RuntimeError("r")), error_kind(RuntimeError("r"))) == (
        "internal",
        "internal",
    )
    assert error_code(KeyError("k")) == "internal"
    rebuilt = error_from_code("invalid", "bad value")
    assert type(rebuilt) is ValueError and str(rebuilt) == "bad value"
    for code in ("internal", "no_such_code"):
        rebuilt = error_from_code(code, "boom")
        assert type(rebuilt) is HPOError and str(rebuilt) == "boom"


def test_subclasses_register_themselves_and_inherit_the_kind() -> None:
    class ShardGoneError(SearchSpaceExhausted):
        pass

    class PlainSubclass(UnknownSearcherError):
        code = "test_plain_subclass"

    assert ShardGoneError.code == "shard_gone" and ShardGoneError.kind == "exhausted"
    assert error_from_code("shard_gone", "x").__class__ is ShardGoneError
    assert error_code(PlainSubclass("y")) == "test_plain_subclass"
    assert error_kind(PlainSubclass("y")) == "invalid"

    class SubSpace(SpaceError):  # not an HPOError: takes its base's code
        pass

    assert error_code(SubSpace("z")) == "invalid_space"
    with pytest.raises(TypeError, match="already used"):

        class Clash(HPOError):
            code = "study_not_found"

    with pytest.raises(TypeError, match="kind must be one of"):

        class BadKind(HPOError):
            code = "test_bad_kind"
            kind = "teapot"


def test_codes_survive_pickling() -> None:
    e = pickle.loads(pickle.dumps(StudyNotFoundError("no study named 'a'")))
    assert type(e) is StudyNotFoundError and str(e) == "no study named 'a'"
    d = pickle.loads(pickle.dumps(DuplicateStudyError("dup")))
    assert error_code(d) == "duplicate_study"
