"""Errors as HTTP answers: every failure is ``{"code", "kind", "message"}``.

The ``code`` is the stable code of the exception (:func:`hpo.exceptions.error_code`), so
the HTTP client raises the same exception type; the status comes from its ``kind``:

============== ======  ==========================================================
kind           status  examples
============== ======  ==========================================================
``not_found``    404   unknown study, trial or comparison
``conflict``     409   duplicate study, telling a finished trial, a study another
                       deployment owns
``invalid``      422   a bad space, parameter, name or body (``413`` for bodies
                       over the limit)
``exhausted``    409   the searcher has nothing left (a finished grid)
``unavailable``  503   the database cannot serve now (clients retry)
``forbidden``    403   a disallowed objective (``401`` without the API token)
============== ======  ==========================================================

Nothing a client sends ends in a 500: malformed JSON, wrong types and out-of-range
numbers are 422 before any handler runs, library errors map by kind, and database errors
caused by a value are 422 too. A 500 means a bug, and is logged with its traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from hpo.exceptions import error_code, error_kind

log = logging.getLogger("hpo.server")

STATUS_BY_KIND = {
    "not_found": 404,
    "conflict": 409,
    "invalid": 422,
    "exhausted": 409,
    "unavailable": 503,
    "forbidden": 403,
}
#: codes whose HTTP status is not their kind's
STATUS_BY_CODE = {"unauthorized": 401, "payload_too_large": 413}
JSON_TYPE = "application/json"


def dumps(data: Any) -> bytes:
    """Compact JSON bytes; NaN and infinities are never emitted (codecs make them None)."""
    return json.dumps(data, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer, encoded once (no validation pass: the codecs made it)."""
    return Response(dumps(data), status_code=status, media_type=JSON_TYPE, headers=headers)


def error_body(code: str, kind: str, message: str) -> dict[str, str]:
    return {"code": code, "kind": kind, "message": message}


def error_response(
    code: str, kind: str, message: str, status: int | None = None, **extra: Any
) -> Response:
    status = status or STATUS_BY_CODE.get(code) or STATUS_BY_KIND.get(kind, 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return json_response({**error_body(code, kind, message), **extra}, status, headers)


def exception_response(exc: BaseException) -> Response:
    """The answer for an exception raised while serving a request."""
    kind = error_kind(exc)
    code = error_code(exc)
    if kind == "internal":
        db = _database_error(exc)
        if db is not None:
            return db
        log.error("internal error", exc_info=exc)
        return error_response("internal", "internal", f"internal error ({type(exc).__name__})", 500)
    message = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args and not isinstance(exc.args[0], str):
        message = repr(exc.args[0])
    return error_response(code, kind, message)


def _database_error(exc: BaseException) -> Response | None:
    """SQLAlchemy errors: a lost or busy database is 503 (clients retry); a value the
    database refused is 422."""
    try:
        import sqlalchemy.exc as sa_exc
    except ImportError:  # pragma: no cover - sqlalchemy is a dependency
        return None
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        log.warning("database unavailable: %s", exc)
        return error_response(
            "database_unavailable", "unavailable", "the database cannot serve now; retry", 503
        )
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        log.info("database refused a value: %s", exc)
        return error_response(
            "invalid", "invalid", "the database refused a value of the request", 422
        )
    return None


def validation_message(errors: list[Any]) -> str:
    parts = []
    for err in errors[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return "; ".join(parts) + more


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into an error body."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response("invalid", "invalid", validation_message(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        kind = {404: "not_found", 401: "forbidden"}.get(exc.status_code, "invalid")
        return error_response(code, kind, str(exc.detail), exc.status_code)

    async def _known(request: Request, exc: Exception) -> Response:
        return exception_response(exc)

    # handled where they are raised (no traceback in the log): the library's errors, bad
    # values, and database errors (503 / 422)
    import sqlalchemy.exc

    from hpo.exceptions import HPOError

    for klass in (HPOError, ValueError, TypeError, LookupError, sqlalchemy.exc.SQLAlchemyError):
        app.add_exception_handler(klass, _known)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:  # a bug: logged, 500
        return exception_response(exc)
