"""One mapping from tollway's exception tree (and request validation, the router's own 404 and
405, and a value the database cannot hold) to RFC 9457 problem details
(`application/problem+json`), each naming the request's `instance` (its path) and `request_id`
(its `X-Request-Id`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from tollway.api.request_context import request_id_of
from tollway.errors import (
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    TollwayError,
)

__all__ = ["PROBLEM_JSON", "install_error_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("tollway.api")


def problem_response(request: Request, error: TollwayError) -> JSONResponse:
    body: dict[str, Any] = {
        **error.problem(),
        "instance": request.url.path,
        "request_id": request_id_of(request.scope),
    }
    return JSONResponse(
        body, status_code=error.status_code, media_type=PROBLEM_JSON, headers=error.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TollwayError)
    async def tollway_error(request: Request, exc: TollwayError) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(request, BadRequest.from_validation(list(exc.errors())))

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A value sent that the database cannot hold or compare: a NUL in PostgreSQL's text, a
        # number past its column. The request's fault, as a failed validation is.
        return problem_response(
            request, BadRequest(f"a value the database cannot hold: {exc.orig}")
        )

    @app.exception_handler(HTTPException)
    async def router_error(request: Request, exc: HTTPException) -> JSONResponse:
        error: TollwayError
        if exc.status_code == 404:
            error = NotFound(f"no route {request.url.path!r}", path=request.url.path)
        elif exc.status_code == 405:
            error = MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path!r}",
                allowed=(exc.headers or {}).get("Allow", ""),
            )
            error.headers = dict(exc.headers or {})
        else:  # Starlette's own, of another status: the same document shape
            body = {
                "type": "about:blank",
                "title": str(exc.detail),
                "status": exc.status_code,
                "detail": str(exc.detail),
                "instance": request.url.path,
                "request_id": request_id_of(request.scope),
            }
            return JSONResponse(body, exc.status_code, dict(exc.headers or {}), PROBLEM_JSON)
        return problem_response(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, InternalError(f"{type(exc).__name__}: {exc}"))
