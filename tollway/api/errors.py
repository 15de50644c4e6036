"""One mapping from tollway's exception tree (and request validation) to JSON responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tollway.errors import BadRequest, TollwayError

__all__ = ["install_error_handlers"]

log = logging.getLogger("tollway.api")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TollwayError)
    async def tollway_error(_: Request, exc: TollwayError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(BadRequest.from_validation(list(exc.errors())).to_json(), 400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {"error": {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}"}}
        return JSONResponse(body, status_code=500)
