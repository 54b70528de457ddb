"""Request bodies: one JSON object, size-capped, fields read with their type checked.

Anything a client can send (no body, malformed JSON, JSON that is not an object,
deep nesting, a field of the wrong type, a body too large) is a 400 or 413
envelope naming the problem, never a 500.
"""

from __future__ import annotations

import json
from collections import deque
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
    bad = _first_invalid_text(payload)
    if bad is not None:
        raise bad_request(bad, "must be valid Unicode text")
    return payload


def _first_invalid_text(payload: dict[str, Any]) -> str | None:
    """The path (``actions[2].label``) of the first key or string that cannot be
    stored: JSON allows lone surrogates such as ``"\\ud800"``, UTF-8 does not."""
    queue: deque[tuple[str, Any]] = deque([("", payload)])
    while queue:
        path, value = queue.popleft()
        if isinstance(value, str) and not _encodable(value):
            return path or "request body"
        if isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else key
                if not _encodable(key):
                    return path or "request body"
                queue.append((name, item))
        elif isinstance(value, list):
            queue.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    return value
