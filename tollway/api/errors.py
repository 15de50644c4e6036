"""One mapping from tollway's exception tree (and request validation) to JSON responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tollway.errors import TollwayError

log = logging.getLogger("tollway.api")


def _validation_json(errors: list[object]) -> dict[str, object]:
    fields = []
    for error in errors:
        if isinstance(error, dict):
            fields.append(
                {
                    "field": ".".join(str(p) for p in error.get("loc", ())),
                    "problem": error.get("msg", ""),
                }
            )
    names = ", ".join(f["field"] for f in fields if f["field"]) or "body"
    return {
        "error": {"type": "BadRequest", "message": f"invalid fields: {names}", "fields": fields}
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TollwayError)
    async def tollway_error(_: Request, exc: TollwayError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_json(list(exc.errors())), status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {"error": {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}"}}
        return JSONResponse(body, status_code=500)
