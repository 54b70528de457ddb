"""Webhook sub-application: provider push endpoints.

Each handler only checks the token, parses the payload and hands it to the group
commit writer; it answers 200 only after the row is committed. Processing (opt-out,
rules) happens later in the pipeline worker. Bad input gets a 4xx with a one-line
reason and stores nothing; a storage failure gets 503 so the provider retries.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web

from bot import ingest, receipts
from bot.groupcommit import GroupCommitWriter, WriterClosed
from bot.providers.base import InvalidPayload
from bot.providers.clicksend_push import parse_inbound_push, parse_receipt_push

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class WebhookContext:
    writer: GroupCommitWriter
    valid_tokens: Callable[[], tuple[str, ...]]
    default_region: str
    provider: str = "clicksend"


CONTEXT = web.AppKey("webhook_context", WebhookContext)


def create_webhook_app(context: WebhookContext) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[CONTEXT] = context
    for method in ("GET", "POST"):
        app.router.add_route(
            method, "/clicksend/{token}/inbound", inbound, name=f"clicksend.inbound.{method}"
        )
        app.router.add_route(
            method, "/clicksend/{token}/receipts", receipt, name=f"clicksend.receipts.{method}"
        )
    return app


def reject(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=status)


async def inbound(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    fields_or_error = await _checked_fields(request, context)
    if isinstance(fields_or_error, web.Response):
        return fields_or_error
    try:
        sms = parse_inbound_push(fields_or_error)
        item = ingest.normalize(
            sms, provider=context.provider, default_region=context.default_region
        )
    except InvalidPayload as exc:
        return reject(400, str(exc))
    result = await _store(context, ingest.KIND, item)
    if isinstance(result, web.Response):
        return result
    return web.json_response(
        {"ok": True, "message_id": result.message_id, "duplicate": result.duplicate}
    )


async def receipt(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    fields_or_error = await _checked_fields(request, context)
    if isinstance(fields_or_error, web.Response):
        return fields_or_error
    try:
        parsed = parse_receipt_push(fields_or_error)
    except InvalidPayload as exc:
        return reject(400, str(exc))
    item = receipts.ProviderReceipt(context.provider, parsed)
    result = await _store(context, receipts.KIND, item)
    if isinstance(result, web.Response):
        return result
    if not result.matched:
        log.info("receipt for unknown message %s ignored", parsed.provider_message_id[:64])
    return web.json_response({"ok": True, "matched": result.matched})


async def _checked_fields(
    request: web.Request, context: WebhookContext
) -> Mapping[str, str] | web.Response:
    if not _token_ok(request.match_info["token"], context.valid_tokens()):
        raise web.HTTPNotFound()
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return reject(413, f"request body is larger than {MAX_REQUEST_BYTES} bytes")
    raw = await request.content.read(MAX_REQUEST_BYTES + 1)
    if len(raw) > MAX_REQUEST_BYTES:
        return reject(413, f"request body is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return _fields(request, raw)
    except InvalidPayload as exc:
        return reject(400, str(exc))


def _token_ok(given: str, valid: tuple[str, ...]) -> bool:
    ok = False
    for token in valid:
        ok |= hmac.compare_digest(given.encode(), token.encode())
    return ok


def _fields(request: web.Request, raw: bytes) -> dict[str, str]:
    """One flat field map from a form body, a JSON object or the query string."""
    fields = dict(request.query) if request.query_string else {}
    if not raw.strip():
        return fields
    text = _decode(raw)
    if text.lstrip().startswith("{") or request.content_type == "application/json":
        fields.update(_json_fields(text))
    else:
        fields.update(parse_qsl(text, keep_blank_values=True))
    return fields


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("request body is not valid UTF-8") from None


def _json_fields(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidPayload(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidPayload("malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidPayload("JSON body must be an object")
    fields = {
        str(k): "" if v is None else str(v)
        for k, v in data.items()
        if not isinstance(v, dict | list)
    }
    for name, value in fields.items():
        _check_unicode(name, value)
    return fields


def _check_unicode(name: str, value: str) -> None:
    """JSON may escape a lone surrogate, which no database can store as text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload(f"{name[:40]} holds an invalid Unicode escape") from None


async def _store(context: WebhookContext, kind: str, item: object):
    try:
        return await context.writer.submit(kind, item)
    except WriterClosed:
        return reject(503, "shutting down; retry later")
    except Exception:
        log.exception("could not store a %s webhook", kind)
        return reject(503, "storage failed; retry later")
