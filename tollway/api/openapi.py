"""What the APIs' OpenAPI documents say beyond what FastAPI infers, so that a client, or a
schema-driven fuzzer, knows every answer a route can give:

- every error is an RFC 9457 problem document (`ProblemDetails`, `application/problem+json`),
  declared on each route with the statuses it really answers: `problems(NotFound, Conflict)` in
  the route's `responses`, plus what its dependencies raise (`raises` marks a dependency, so
  every route behind an API key answers 401 and 429 without saying so itself), plus 400 where
  FastAPI validates a parameter or a body (its own 422 entries go: validation answers 400);
- every answer's headers: `X-Request-Id` always, `RateLimit` and `RateLimit-Policy` on the routes
  that count requests, `Retry-After` on a 429;
- a body or header a handler reads by hand (to bound a body's size and time, or to answer a bad
  header with its own error) is declared with `hand_read(body=json_body(Model), headers=...)`.

`api_app` builds an app so: its error handlers, its `X-Request-Id`, this document, and `/docs`
served with Swagger UI's scripts from this process (fastapi-offline ships them), never a CDN.

A new route needs only `responses=problems(...)` for the errors its handler raises; a new
dependency that raises is marked `@raises(...)`.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security.base import SecurityBase
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field

from tollway.api.errors import PROBLEM_JSON, install_error_handlers
from tollway.api.request_context import REQUEST_ID_HEADER, RequestContext
from tollway.errors import BadRequest, RateLimited, TollwayError

__all__ = [
    "ProblemDetails",
    "RawAuthorization",
    "api_app",
    "binary_body",
    "hand_read",
    "header",
    "install_openapi",
    "json_body",
    "problems",
    "raises",
    "text_body",
]

_ERRORS_KEY = "x-tollway-errors"
"""Where `problems` leaves a route's error names for `install_openapi` (which removes it)."""
_SCHEMAS = "#/components/schemas/"
_HEADERS = "#/components/headers/"
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

C = TypeVar("C", bound=Callable[..., Any])


class ProblemDetails(BaseModel):
    """An error, as RFC 9457 problem details; the error's own details stand beside these."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`urn:tollway:problem:<kebab-name>` (`about:blank` rarely).")
    title: str
    status: int
    detail: str
    code: str | None = Field(
        default=None, description="The error's class in tollway's exception tree."
    )
    instance: str = Field(description="The request's path.")
    request_id: str = Field(description="The request's `X-Request-Id`.")
    field: str | None = Field(default=None, description="The field or header at fault.")


class RawAuthorization(SecurityBase):
    """The `Authorization` header as sent, documented as the security scheme `model`: the
    dependency that takes it checks it, so a bad one gets tollway's own 401."""

    def __init__(self, model: SecuritySchemeModel, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name

    async def __call__(self, request: Request) -> str | None:
        return request.headers.get("Authorization")


def problems(*errors: type[TollwayError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the errors a route's handler raises, by status."""
    by_status: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        entry = by_status.setdefault(error.status_code, {_ERRORS_KEY: []})
        entry[_ERRORS_KEY].append(error.__name__)
    return by_status


_RAISED_BY: dict[Callable[..., Any], tuple[type[TollwayError], ...]] = {}


def raises(*errors: type[TollwayError]) -> Callable[[C], C]:
    """Marks a dependency with the errors it raises: documented on every route using it."""

    def mark(call: C) -> C:
        _RAISED_BY[call] = errors
        return call

    return mark


_BODY_MODELS: dict[str, type[BaseModel]] = {}


def json_body(
    model: type[BaseModel], description: str = "", *, required: bool = True
) -> dict[str, Any]:
    """A JSON body of `model` that the handler reads itself (with its size and time limits)."""
    _BODY_MODELS[model.__name__] = model
    content = {"application/json": {"schema": {"$ref": _SCHEMAS + model.__name__}}}
    return _body(content, description, required)


def binary_body(description: str, media_type: str = "application/octet-stream") -> dict[str, Any]:
    """A body of any bytes, passed on as it arrives."""
    return _body({media_type: {"schema": {"type": "string", "format": "binary"}}}, description)


def text_body(description: str) -> dict[str, Any]:
    return _body({"text/plain": {"schema": {"type": "string"}}}, description)


def _body(content: dict[str, Any], description: str, required: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"required": required, "content": content}
    if description:
        body["description"] = description
    return body


def header(
    name: str, description: str, *, required: bool = False, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A request header the handler reads itself (so a bad one gets its own error)."""
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def hand_read(
    body: dict[str, Any] | list[dict[str, Any]] | None = None,
    headers: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """A route's `openapi_extra` for what its handler reads by hand: its body (one, or several
    accepted alike: their media types merged) and headers."""
    extra: dict[str, Any] = {}
    if body is not None:
        bodies = body if isinstance(body, list) else [body]
        content: dict[str, Any] = {}
        for one in bodies:
            content.update(one["content"])
        described = " Or: ".join(one["description"] for one in bodies if "description" in one)
        extra["requestBody"] = {**bodies[0], "content": content}
        if described:
            extra["requestBody"]["description"] = described
    if headers:
        extra["parameters"] = list(headers)
    return extra


_COMMON_HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID_HEADER: {
        "description": "The client's own `X-Request-Id` when it sent a sane one, else a new one.",
        "required": True,
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'Where the key\'s bucket stands: `"create";r=599;t=42` (remaining, '
        "seconds until the window resets).",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The key\'s bucket and quota: `"create";q=600;w=60`.',
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before asking again.",
        "required": True,
        "schema": {"type": "string"},
    },
}


def install_openapi(app: FastAPI) -> None:
    """The app's OpenAPI document, as FastAPI builds it, completed as the module says."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _complete(app, document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(app: FastAPI, document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ProblemDetails"] = ProblemDetails.model_json_schema(ref_template=_SCHEMAS + "{model}")
    components.setdefault("headers", {}).update(_COMMON_HEADERS)
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        dependant: Dependant = context.dependant
        from_dependencies = [
            error
            for one in _dependants(dependant)
            if one.call is not None
            for error in _RAISED_BY.get(one.call, ())
        ]
        for method in sorted(context.methods or ()):
            operation = document["paths"][context.path_format][method.lower()]
            _complete_operation(operation, from_dependencies)
    for path in document.get("webhooks", {}).values():
        for operation in path.values():
            # What a receiver answers: 2xx takes the delivery; anything else is retried.
            operation["responses"] = {
                "2XX": {"description": "Taken; any other answer is retried on the schedule."}
            }
    for name in _VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    _add_body_schemas(document, schemas)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    """The dependant and everything it depends on."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _complete_operation(operation: dict[str, Any], raised: list[type[TollwayError]]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {}).get("content", {}).get("application/json", {})
    if validation.get("schema", {}).get("$ref") == _SCHEMAS + "HTTPValidationError":
        # FastAPI's, on a route with parameters or a body: tollway answers one it cannot
        # validate (or whose value the database cannot hold) with 400.
        del responses["422"]
        raised = [*raised, BadRequest]
    names: dict[str, list[str]] = {}
    for status, response in responses.items():
        names[status] = list(response.pop(_ERRORS_KEY, []))
    for error in raised:
        known = names.setdefault(str(error.status_code), [])
        if error.__name__ not in known:
            known.append(error.__name__)
    counted = RateLimited in raised
    for status, codes in names.items():
        response = responses.setdefault(status, {})
        if codes:
            _problem_response(response, int(status), codes)
        headers = response.setdefault("headers", {})
        headers[REQUEST_ID_HEADER] = {"$ref": _HEADERS + REQUEST_ID_HEADER}
        if counted:
            for name in ("RateLimit", "RateLimit-Policy"):
                headers[name] = {"$ref": _HEADERS + name}
        if status == "429":
            headers["Retry-After"] = {"$ref": _HEADERS + "Retry-After"}
    operation["responses"] = dict(sorted(responses.items()))


def _problem_response(response: dict[str, Any], status: int, codes: list[str]) -> None:
    listed = ", ".join(f"`{code}`" for code in codes)
    phrase = http.HTTPStatus(status).phrase
    described = f"{phrase}: problem details, `code` {listed}."
    own = response.get("description")
    response["description"] = f"{own} {described}" if own and own != phrase else described
    content = response.setdefault("content", {})
    content[PROBLEM_JSON] = {"schema": {"$ref": _SCHEMAS + "ProblemDetails"}}


def _add_body_schemas(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The schemas of bodies read by hand (`json_body`), and what they refer to."""
    missing = {name for name in _refs(document) if name not in schemas}
    while missing:
        for name in missing:
            model = _BODY_MODELS.get(name)
            if model is None:
                raise AssertionError(f"the OpenAPI document refers to no schema {name!r}")
            schema = model.model_json_schema(ref_template=_SCHEMAS + "{model}")
            for sub_name, sub in schema.pop("$defs", {}).items():
                schemas.setdefault(sub_name, sub)
            schemas[name] = schema
        missing = {name for name in _refs(document) if name not in schemas}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_SCHEMAS):
                yield value.removeprefix(_SCHEMAS)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def api_app(
    title: str, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> FastAPI:
    """An API app of tollway's: problem details for every error, `X-Request-Id` on every answer,
    this document, and a `/docs` page that loads nothing from outside this process."""
    # No /redoc: ReDoc's page asks a CDN for its attribution logo, so it is not offline.
    app = FastAPIOffline(title=title, lifespan=lifespan, redoc_url=None)
    install_error_handlers(app)
    app.add_middleware(RequestContext)
    install_openapi(app)
    return app
