"""The HTTP endpoint: a Starlette app over a `Refresher`'s current state.

Routes (JSON in and out; every refusal is ``{"error": {"code", "message", "hint"}}``):

- ``GET  /v1/health``: 200 ``{"status": "ok"}`` once the registry was read, else 503.
- ``GET  /v1/models``: every served model's metadata.
- ``GET  /v1/models/{name}``: version, sha256, input columns and types, metrics, entity keys.
- ``POST /v1/models/{name}/predict``: ``{"rows": [{column: value}, ...]}`` or
  ``{"keys": [{key: value}, ...]}``; answers ``{"model", "version", "predictions": [...]}``.

With a token, every route but health needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlml.errors import did_you_mean
from sqlml.serve.contract import RequestError, format_outputs, rows_to_feed
from sqlml.serve.entities import keys_to_feed
from sqlml.serve.state import Refresher, ServedModel

_LOG = "sqlml.serve"
_ROUTES = (
    "the endpoints are GET /v1/health, GET /v1/models, GET /v1/models/{name} and "
    "POST /v1/models/{name}/predict"
)


@dataclass(frozen=True)
class ServeSettings:
    """How the endpoint guards itself.

    Args:
        token: the bearer token requests must carry; None for no authentication.
        max_body_bytes: the largest request body accepted (413 beyond).
        max_rows: the most rows or keys in one request (413 beyond).
    """

    token: str | None = None
    max_body_bytes: int = 1_000_000
    max_rows: int = 10_000


def build_app(refresher: Refresher, settings: ServeSettings) -> Any:
    """The ASGI application answering from ``refresher.state``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def reply(document: Any, status: int = 200) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(document, status_code=status, headers=headers)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return reply(exc.document(), exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status, where = exc.status_code, f"{request.method} {request.url.path}"
        if status == 404:
            error = RequestError(404, "not_found", f"no such endpoint: {where}", _ROUTES)
        elif status == 405:
            error = RequestError(405, "method_not_allowed", f"method not allowed: {where}", _ROUTES)
        else:
            error = RequestError(status, "http_error", str(exc.detail))
        return reply(error.document(), status)

    async def crashed(request: Request, exc: Exception) -> Response:
        logging.getLogger(_LOG).exception("error answering %s %s", request.method, request.url)
        error = RequestError(500, "internal_error", f"the server failed: {type(exc).__name__}")
        return reply(error.document(), 500)

    def authorize(request: Request) -> None:
        if settings.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise RequestError(
                401, "unauthorized", "this endpoint needs a bearer token",
                "send the header `Authorization: Bearer <token>`",
            )  # fmt: skip
        if not hmac.compare_digest(given.strip().encode(), settings.token.encode()):
            raise RequestError(401, "unauthorized", "the bearer token is not valid")

    def served(name: str) -> ServedModel:
        state = refresher.state
        model = state.models.get(name)
        if model is not None:
            return model
        if name in state.registered:
            raise RequestError(
                404, "no_champion", f"model '{name}' has no champion to serve",
                f"promote a version: `sqlml models promote {name} VERSION`",
            )  # fmt: skip
        hint = did_you_mean(name, state.models) or (
            f"served models: {', '.join(sorted(state.models))}"
            if state.models
            else "no model has a champion yet: train one with `sqlml run`"
        )
        raise RequestError(404, "unknown_model", f"no model '{name}' is served", hint)

    async def health(request: Request) -> Response:
        state = refresher.state
        document: dict[str, Any] = {
            "status": "ok" if state.refreshed_at else "waiting",
            "models": len(state.models),
            "refreshed_at": state.refreshed_at.isoformat() if state.refreshed_at else None,
        }
        if state.problem:
            document["problem"] = state.problem
        return reply(document, 200 if state.refreshed_at else 503)

    async def models(request: Request) -> Response:
        authorize(request)
        state = refresher.state
        return reply({"models": [state.models[n].metadata() for n in sorted(state.models)]})

    async def model(request: Request) -> Response:
        authorize(request)
        return reply(served(request.path_params["name"]).metadata())

    async def predict(request: Request) -> Response:
        authorize(request)
        chosen = served(request.path_params["name"])
        body = await _read_body(request, settings.max_body_bytes)
        feed, items = _feed(chosen, _parse(body), settings.max_rows)
        outputs = chosen.session.run(None, feed)
        names = [o.name for o in chosen.session.get_outputs()]
        predictions = format_outputs(chosen.contract, dict(zip(names, outputs, strict=True)))
        if items is not None and chosen.snapshot is not None:  # name the entity of each answer
            keys = chosen.snapshot.keys
            predictions = [
                {**{k: key[k] for k in keys}, **p}
                for key, p in zip(items, predictions, strict=True)
            ]
        return reply({"model": chosen.name, "version": chosen.version, "predictions": predictions})

    routes = [
        Route("/v1/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{name}", model, methods=["GET"]),
        Route("/v1/models/{name}/predict", predict, methods=["POST"]),
    ]
    handlers: Mapping[Any, Any] = {
        RequestError: refused,
        HTTPException: http_error,
        Exception: crashed,
    }
    return Starlette(routes=routes, exception_handlers=handlers)


async def _read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    too_big = RequestError(
        413, "body_too_large", f"the request body exceeds {limit} bytes",
        "send fewer rows per request, or start the server with a larger --max-body",
    )  # fmt: skip
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(
            400, "invalid_json", f"the request body is not valid JSON: {exc}",
            'send e.g. {"rows": [{"column": 1.0}]}',
        ) from None  # fmt: skip


def _feed(model: ServedModel, document: Any, max_rows: int) -> tuple[dict[str, Any], Any]:
    """ONNX inputs from a parsed body, and the key objects when the body sent keys."""
    given = sorted(document) if isinstance(document, dict) else []
    if given not in (["rows"], ["keys"]):
        raise RequestError(
            422, "invalid_body", 'the body must be an object with exactly one of "rows" or "keys"',
            'send {"rows": [{"column": value, ...}]} or {"keys": [{"key": value}]}',
        )  # fmt: skip
    field = given[0]
    items = document[field]
    if not isinstance(items, list) or not items:
        raise RequestError(
            422, "invalid_body", f'"{field}" must be a non-empty list of objects',
            f'send {{"{field}": [{{...}}, ...]}}',
        )  # fmt: skip
    if len(items) > max_rows:
        raise RequestError(
            413, "too_many_rows", f"{len(items)} {field} in one request; the limit is {max_rows}",
            "split the request",
        )  # fmt: skip
    if field == "rows":
        return rows_to_feed(model.contract, items), None
    if model.snapshot is None:
        raise RequestError(
            422, "keys_unavailable",
            f"model '{model.name}' cannot look up features by key: {model.keys_unavailable}",
            "send the feature values as rows",
        )  # fmt: skip
    return keys_to_feed(model.snapshot, model.contract, items, datetime.now(UTC)), items
