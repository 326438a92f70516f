"""The workers' hot path: ask, tell and tell-and-ask without FastAPI's per-request layers.

A worker's round trips are what a server spends its time on, and FastAPI's machinery
(route matching across routers, dependency resolution, body parsing through generated
field validators, its outer middlewares) costs more per request than the driver's ask
itself. :class:`FastPath` answers the well-formed requests of three routes itself::

    POST /api/v1/studies/{id}/ask
    POST /api/v1/studies/{id}/trials/{number}/tell
    POST /api/v1/studies/{id}/trials/{number}/tell-and-ask

:func:`hpo.server.app.create_app` puts it in front of the application, behind the same
:class:`~hpo.server.auth.Guard` (and CORS, when configured): auth and size limits apply
unchanged.

**Same answers by construction.** It handles only the happy path: a canonical path (ids
without signs or leading zeros, within the 32-bit range), ``Content-Type:
application/json``, a JSON object body that the route's own pydantic model accepts. Then
it calls the very function the FastAPI route calls (:mod:`hpo.server.routes.trials`) and
turns an exception into the same error body (:func:`hpo.server.errors.exception_response`).
Anything else (a malformed body, another content type, an odd path) goes on to FastAPI
with the body replayed, so every validation error, every 422 and every OpenAPI promise
stays FastAPI's. The routes stay declared there: the OpenAPI schema, ``/docs`` and the
fuzz tests see them as before (``tests/server/test_hot_path.py`` compares the answers of
both paths).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from hpo.server.errors import JSON_TYPE, dumps, exception_response
from hpo.server.schemas import INT32, AskBody, TellAndAskBody, TellBody
from hpo.server.state import ServerState
from hpo.storage.http import API_PREFIX

Scope = dict[str, Any]
_ID = r"(0|[1-9][0-9]{0,9})"
_HOT = re.compile(
    rf"^{re.escape(API_PREFIX)}/studies/{_ID}/(?:(ask)|trials/{_ID}/(tell|tell-and-ask))$"
)
_HEADERS = [(b"content-type", JSON_TYPE.encode())]


class FastPath:
    """The ASGI application described in the module docstring; ``app`` answers what it
    does not."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = _HOT.match(scope["path"]) if is_hot(scope) else None
        if match is None or not _json_content(scope):
            await self.app(scope, receive, send)
            return
        study, is_ask, number, what = match.groups()
        study_id = int(study)
        trial = 0 if number is None else int(number)
        if study_id > INT32 or trial > INT32:
            await self.app(scope, receive, send)
            return
        model: type[BaseModel] = (
            AskBody if is_ask else TellBody if what == "tell" else TellAndAskBody
        )
        try:
            body = await _read_body(receive)
        except Exception as exc:  # a body over the limit (Guard), a broken stream
            await _send(send, exception_response(exc))
            return
        parsed = _parse(model, body)
        if parsed is None:  # FastAPI answers (422 naming the field, ...) from the same bytes
            await self.app(scope, _replay(body, receive), send)
            return
        call = _handler(self.state, study_id, trial, parsed)
        try:
            data = await call()
        except Exception as exc:
            await _send(send, exception_response(exc))
            return
        payload = dumps(data)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(payload)).encode()), *_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def is_hot(scope: Scope) -> bool:
    """Whether ``scope`` is a request of the hot path (a ``POST`` to one of its routes)."""
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and _HOT.match(scope["path"]) is not None
    )


def _handler(
    state: ServerState, study_id: int, number: int, body: BaseModel
) -> Callable[[], Awaitable[Any]]:
    from hpo.server.routes import trials

    if isinstance(body, AskBody):
        return lambda: trials.ask_trials(state, study_id, body)
    if isinstance(body, TellBody):
        return lambda: trials.tell_trial(state, study_id, number, body)
    assert isinstance(body, TellAndAskBody)
    return lambda: trials.tell_and_ask(state, study_id, number, body)


def _json_content(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return bool(value == b"application/json")
    return False


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise ConnectionError("the client disconnected before sending its body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(model: type[BaseModel], body: bytes) -> BaseModel | None:
    """``body`` validated as FastAPI does it (``json.loads``, then the model in Python
    mode), or ``None`` when FastAPI should answer."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(send: Any, response: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
