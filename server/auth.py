"""Auth and request limits: one ASGI middleware in front of every route.

* **Token.** With a token configured, every write (any method but GET, HEAD, OPTIONS)
  needs ``Authorization: Bearer <token>``; with ``private`` every read too. ``/healthz``
  and ``/readyz`` stay open (load balancers probe them), and so do the dashboard's static
  files (``/``, ``/dashboard/...``: no data in them). Tokens are compared in constant
  time (:func:`hmac.compare_digest`) and never logged or echoed. A missing or wrong token
  is ``401`` with ``WWW-Authenticate: Bearer``.
* **Size.** A body over the limit (``max_body_bytes`` for the API, ``max_artifact_bytes``
  for checkpoint uploads) is ``413``: at once when ``Content-Length`` says so, else as
  soon as the streamed body passes the limit.
"""

from __future__ import annotations

import hmac
from typing import Any

from hpo.server.config import ServerConfig
from hpo.server.errors import dumps, error_body
from hpo.storage.http import API_PREFIX, PayloadTooLargeError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
#: the dashboard's static files, at ``/`` and below this prefix: open to GET even with
#: ``private`` (they hold no data; the pages read the API with the user's token)
DASHBOARD_STATIC = "/dashboard/"
ARTIFACTS = f"{API_PREFIX}/artifacts/"

Scope = dict[str, Any]


class Guard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: Any, config: ServerConfig) -> None:
        self.app = app
        self.token = config.token.encode() if config.token else None
        self.private = config.private
        self.max_body = int(config.max_body_bytes)
        self.max_artifact = int(config.max_artifact_bytes)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if (
            self.token is not None
            and path not in OPEN_PATHS
            and not (method in SAFE_METHODS and (path == "/" or path.startswith(DASHBOARD_STATIC)))
            and (self.private or method not in SAFE_METHODS)
            and not self._authorized(scope)
        ):
            await _reply(
                send,
                401,
                error_body(
                    "unauthorized",
                    "forbidden",
                    "this server needs its API token: send Authorization: Bearer <token>",
                ),
                {"www-authenticate": "Bearer"},
            )
            return
        limit = self.max_artifact if path.startswith(ARTIFACTS) else self.max_body
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reply(send, 413, _too_large(limit))
            return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLargeError(_too_large(limit)["message"])
            return message

        await self.app(scope, limited_receive, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self.token is not None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    return False
                return hmac.compare_digest(given.strip(), self.token)
        return False


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> dict[str, str]:
    return error_body(
        "payload_too_large",
        "invalid",
        f"the request body is over this server's limit of {limit} bytes",
    )


async def _reply(
    send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    payload = dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
