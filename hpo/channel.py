"""The channel protocol: how a running trial talks to its driver.

A trial's calls (suggest a parameter, report a value, set a user attribute, save or load
a checkpoint) are typed requests; :func:`answer` answers any of them from a
:class:`~hpo.driver.Driver`. Transports only carry requests and replies: in-process the
trial calls the driver (:class:`DriverChannel`); across a pipe, a Ray actor or HTTP the
worker holds a :class:`RequestChannel` over a ``send`` function and the driver's side
calls :func:`reply`. One protocol, several transports.

>>> channel = RequestChannel(send=lambda request: reply(driver, request))   # doctest: +SKIP
>>> Trial(spec, channel).suggest_float("lr", 1e-4, 1e-1, log=True)           # doctest: +SKIP
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo.space import Param, param_from_json
from hpo.trial import Decision, TrialChannel, TrialSpec

if TYPE_CHECKING:
    from hpo.driver import Driver

__all__ = [
    "DriverChannel",
    "LoadCheckpoint",
    "Reply",
    "Report",
    "Request",
    "RequestChannel",
    "SaveCheckpoint",
    "SetUserAttr",
    "Suggest",
    "answer",
    "reply",
    "request_from_json",
    "request_to_json",
]


@dataclass(frozen=True)
class Suggest:
    """The value of define-by-run parameter ``name`` (answered with the value)."""

    number: int
    name: str
    param: Param


@dataclass(frozen=True)
class Report:
    """An intermediate value at ``step`` (answered with a :class:`~hpo.trial.Decision`)."""

    number: int
    step: int
    value: float


@dataclass(frozen=True)
class SetUserAttr:
    """A JSON attribute for the trial (answered with ``None``)."""

    number: int
    key: str
    value: Any


@dataclass(frozen=True)
class SaveCheckpoint:
    """The trial's latest checkpoint, pickled (answered with ``None``)."""

    number: int
    data: bytes


@dataclass(frozen=True)
class LoadCheckpoint:
    """The trial's latest checkpoint, else its parent's (answered with pickled bytes or
    ``None``)."""

    number: int
    parent: int | None = None


Request = Suggest | Report | SetUserAttr | SaveCheckpoint | LoadCheckpoint


@dataclass(frozen=True)
class Reply:
    """The answer to one request: its ``value``, or the ``error`` it raised."""

    value: Any = None
    error: BaseException | None = None

    def unwrap(self) -> Any:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value


def answer(driver: Driver, request: Request) -> Any:
    """Answer ``request`` from ``driver`` (raising what the driver raises)."""
    if isinstance(request, Suggest):
        return driver.suggest(request.number, request.name, request.param)
    if isinstance(request, Report):
        return driver.report(request.number, request.step, request.value)
    if isinstance(request, SetUserAttr):
        driver.set_user_attr(request.number, request.key, request.value)
        return None
    if isinstance(request, SaveCheckpoint):
        driver.save_checkpoint(request.number, request.data)
        return None
    if isinstance(request, LoadCheckpoint):
        return driver.load_checkpoint(request.number, request.parent)
    raise TypeError(f"not a channel request: {request!r}")


def reply(driver: Driver, request: Request) -> Reply:
    """:func:`answer` as a :class:`Reply` that can cross a process boundary: an error is
    kept as is when it pickles, else as a ``RuntimeError`` naming its type."""
    try:
        return Reply(value=answer(driver, request))
    except Exception as exc:
        return Reply(error=portable(exc))


def portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a ``RuntimeError`` with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class DriverChannel(TrialChannel):
    """The in-process channel: the trial calls its driver directly."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def suggest(self, number: int, name: str, param: Param) -> Any:
        return self.driver.suggest(number, name, param)

    def report(self, number: int, step: int, value: float) -> Decision:
        return self.driver.report(number, step, value)

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        self.driver.set_user_attr(number, key, value)


class RequestChannel(TrialChannel):
    """The worker's side of a remote channel: each call becomes a :data:`Request` handed
    to ``send``, which returns the :class:`Reply` (or the bare value).

    Checkpoints go straight to the artifact store named in the trial's spec when it has
    one (a shared directory every worker reaches); without one they travel to the
    driver as :class:`SaveCheckpoint` / :class:`LoadCheckpoint` requests."""

    def __init__(self, send: Callable[[Request], Any]) -> None:
        self._send = send

    def _call(self, request: Request) -> Any:
        result = self._send(request)
        return result.unwrap() if isinstance(result, Reply) else result

    def suggest(self, number: int, name: str, param: Param) -> Any:
        return self._call(Suggest(number, name, param))

    def report(self, number: int, step: int, value: float) -> Decision:
        return Decision(self._call(Report(number, step, value)))

    def set_user_attr(self, number: int, key: str, value: Any) -> None:
        self._call(SetUserAttr(number, key, value))

    def save_checkpoint(self, spec: TrialSpec, obj: Any) -> None:
        if spec.checkpoint_root is not None:
            super().save_checkpoint(spec, obj)
            return
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._call(SaveCheckpoint(spec.number, data))

    def load_checkpoint(self, spec: TrialSpec) -> Any:
        if spec.checkpoint_root is not None:
            return super().load_checkpoint(spec)
        data = self._call(LoadCheckpoint(spec.number, spec.parent))
        return None if data is None else pickle.loads(data)


# --- JSON forms, for transports that carry text (HTTP) ------------------------------------
def request_to_json(request: Request) -> dict[str, Any]:
    """``request`` as JSON: ``{"type": ..., ...fields}`` (checkpoint bytes in base64)."""
    if isinstance(request, Suggest):
        return {
            "type": "suggest",
            "number": request.number,
            "name": request.name,
            "param": request.param.to_json(),
        }
    if isinstance(request, Report):
        return {"type": "report", "number": request.number, "step": request.step,
                "value": request.value}  # fmt: skip
    if isinstance(request, SetUserAttr):
        return {"type": "user_attr", "number": request.number, "key": request.key,
                "value": request.value}  # fmt: skip
    if isinstance(request, SaveCheckpoint):
        data = base64.b64encode(request.data).decode("ascii")
        return {"type": "save_checkpoint", "number": request.number, "data": data}
    if isinstance(request, LoadCheckpoint):
        return {"type": "load_checkpoint", "number": request.number, "parent": request.parent}
    raise TypeError(f"not a channel request: {request!r}")


def request_from_json(data: dict[str, Any]) -> Request:
    """The request :func:`request_to_json` encoded (``ValueError`` when malformed)."""
    try:
        kind = data["type"]
        number = int(data["number"])
        if kind == "suggest":
            return Suggest(number, str(data["name"]), param_from_json(data["param"]))
        if kind == "report":
            return Report(number, int(data["step"]), float(data["value"]))
        if kind == "user_attr":
            return SetUserAttr(number, str(data["key"]), data["value"])
        if kind == "save_checkpoint":
            return SaveCheckpoint(number, base64.b64decode(data["data"]))
        if kind == "load_checkpoint":
            parent = data.get("parent")
            return LoadCheckpoint(number, None if parent is None else int(parent))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed channel request {data!r}: {exc}") from None
    raise ValueError(f"unknown channel request type {data.get('type')!r}")
