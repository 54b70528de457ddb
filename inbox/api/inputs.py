"""Request bodies: one JSON object, size-capped, fields read with their type checked.

Anything a client can send (no body, malformed JSON, JSON that is not an object,
deep nesting, a field of the wrong type, a body too large) is a 400 or 413
envelope naming the problem, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from inbox.api.envelope import ApiError, bad_request

MAX_BODY_BYTES = 16 * 1024


async def json_object(request: web.Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    return parse_json_object(await read_capped(request, limit))


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise bad_request("request body", "is not valid JSON") from None
    if not isinstance(payload, dict):
        raise bad_request("request body", "must be a JSON object")
    return payload


async def read_capped(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or a 413 as soon as it passes ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    raw = bytearray()
    while len(raw) <= limit:
        chunk = await request.content.read(limit + 1 - len(raw))
        if not chunk:
            return bytes(raw)
        raw += chunk
    raise _too_large(limit)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than {limit} bytes.")


def required_text(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if value is None:
        raise bad_request(field, "is required")
    return _text(value, field)


def optional_text(payload: dict[str, Any], field: str) -> str | None:
    value = payload.get(field)
    return None if value is None else _text(value, field)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise bad_request(field, "must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800", legal in JSON
        raise bad_request(field, "must be valid Unicode text") from None
    return value
