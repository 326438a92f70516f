"""One router per resource: health, studies, trials, comparisons, artifacts."""

from __future__ import annotations

from typing import Any

from hpo.server.schemas import ErrorOut

#: the error answers every API route documents (bodies: ``{"code", "kind", "message"}``)
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (401, "the API token is missing or wrong"),
        (403, "not allowed (an objective outside the allowlist)"),
        (404, "no such study, trial or comparison"),
        (409, "conflicts with the stored state, or nothing left to try"),
        (413, "the body is over the size limit"),
        (422, "the request is invalid (the message names the field)"),
        (503, "the database cannot serve now; retry"),
    )
}
