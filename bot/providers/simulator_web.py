"""HTTP plumbing shared by the simulator's endpoints: envelope, auth, paging, search.

Everything here follows the reference's transport rules (§1) and the open
decisions of §16: every answer, errors included, is the four-key envelope.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from bot.providers.simulator_state import TEST_API_KEY, SimAccount, SimulatorState

log = logging.getLogger(__name__)

STATE = web.AppKey("clicksend_simulator_state", SimulatorState)
TEMPLATES = web.AppKey("clicksend_simulator_templates", dict)
ACCOUNT = web.RequestKey("clicksend_simulator_account", SimAccount)
MIN_LIMIT, MAX_LIMIT = 15, 100

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CURRENCIES = {
    "USD": ("$", "¢", "US Dollars"),
    "AUD": ("$", "c", "Australian Dollars"),
    "NZD": ("$", "c", "New Zealand Dollars"),
    "CAD": ("$", "¢", "Canadian Dollars"),
    "GBP": ("£", "p", "British Pounds"),
    "EUR": ("€", "c", "Euros"),
}
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "BAD_REQUEST",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}


class SimError(Exception):
    """Raised by handlers; the error middleware turns it into an envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def envelope(data: Any, message: str = "Here are your data.", status: int = 200) -> web.Response:
    code = "SUCCESS" if status == 200 else HTTP_CODES.get(status, "SOMETHING_IS_WRONG")
    return reply(status, code, message, data)


def reply(status: int, code: str, message: str, data: Any = None) -> web.Response:
    body = {"http_code": status, "response_code": code, "response_msg": message, "data": data}
    return web.json_response(body, status=status)


def currency_block(code: str) -> dict[str, str]:
    prefix_d, prefix_c, long_name = CURRENCIES.get(code.upper(), ("", "", code.upper()))
    return {
        "currency_name_short": code.upper(),
        "currency_prefix_d": prefix_d,
        "currency_prefix_c": prefix_c,
        "currency_name_long": long_name,
    }


# -- middlewares -------------------------------------------------------------------


def relative_path(request: web.Request) -> str:
    """The path below the mount point, e.g. ``/sms/send`` whether mounted at /v3 or elsewhere."""
    resource = request.match_info.route.resource
    template = request.app[TEMPLATES].get(resource) if resource is not None else None
    if template is None or resource is None:
        return request.path
    prefix = resource.canonical[: len(resource.canonical) - len(template)]
    return request.path[len(prefix) :]


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Remember every request so tests can assert on what the client actually sent."""
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        body = None
    request.app[STATE].requests.append(
        {
            "method": request.method,
            "path": relative_path(request),
            "url_path": request.path,
            "query": dict(request.query),
            "auth": request.headers.get("Authorization"),
            "json": body,
        }
    )
    return await handler(request)


@web.middleware
async def envelope_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """SimError, aiohttp's 404/405 and crashes all leave as envelopes (§16.1)."""
    try:
        return await handler(request)
    except SimError as exc:
        return reply(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return envelope(None, exc.reason, exc.status)
    except Exception:
        log.exception("simulator handler failed")
        return reply(500, "INTERNAL_ERROR", "Internal error.")


@web.middleware
async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """HTTP Basic on every endpoint (§1.2) plus the test logins' states (§1.10)."""
    state = request.app[STATE]
    username, api_key = _credentials(request)
    if not username or not api_key:
        raise SimError(401, "MISSING_CREDENTIALS", "Not enough authentication data supplied.")
    account = _authenticate(state, username, api_key)
    if account is None:
        raise SimError(401, "INVALID_CREDENTIALS", "Username or key is wrong.")
    if not (request.method == "GET" and relative_path(request) == "/account"):
        _check_standing(account)
    request[ACCOUNT] = account
    return await handler(request)


def _credentials(request: web.Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return "", ""
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, api_key = decoded.partition(":")
    return username, api_key


def _authenticate(state: SimulatorState, username: str, api_key: str) -> SimAccount | None:
    if username in state.test_accounts and _same(api_key, TEST_API_KEY):
        return state.test_accounts[username]
    config = state.config
    if config.username is not None and not _same(username, config.username):
        return None
    if config.api_key is not None and not _same(api_key, config.api_key):
        return None
    return state.account(username)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_standing(account: SimAccount) -> None:
    if account.banned:
        raise SimError(403, "FORBIDDEN", "Your account has been banned.")
    if not account.active:
        raise SimError(403, "ACCOUNT_NOT_ACTIVATED", "The account is not activated.")


# -- request parsing ---------------------------------------------------------------


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The JSON body; an absent body is None when not required, anything unparsable is 400."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise SimError(400, "BAD_REQUEST", "The request body is empty.")
        return None
    try:
        payload = json.loads(raw)
        json.dumps(payload, ensure_ascii=False).encode()  # a lone surrogate such as "\ud800"
    except (ValueError, RecursionError):
        raise SimError(400, "BAD_REQUEST", "The request body is not valid JSON.") from None
    except UnicodeEncodeError:
        raise SimError(400, "BAD_REQUEST", "The request body holds invalid Unicode.") from None
    return payload


def int_value(value: Any, name: str) -> int | None:
    """An optional integer that may arrive as a string; anything else is 400."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SimError(400, "BAD_REQUEST", f"{name} must be an integer.")
    try:
        return int(str(value))
    except ValueError:
        raise SimError(400, "BAD_REQUEST", f"{name} must be an integer.") from None


def date_before(body: Any) -> int | None:
    """``date_before`` of a mark-read body; no body or no field means "everything"."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise SimError(400, "BAD_REQUEST", "The request body must be a JSON object.")
    return int_value(body.get("date_before"), "date_before")


# -- listing -----------------------------------------------------------------------


def select(request: web.Request, items: Sequence[dict]) -> list[dict]:
    """Newest first, filtered by ``q``/``operator`` and sorted by ``order_by`` (§1.8).

    Ties keep arrival order for ``asc`` and newest first for ``desc``, so items of
    the same second sorted oldest first really come oldest first.
    """
    field, _, direction = request.query.get("order_by", "").partition(":")
    ascending = bool(field) and direction != "desc"
    ordered = items if ascending else reversed(items)
    chosen = [item for item in ordered if _matches(item, request.query)]
    if field:
        chosen.sort(key=lambda item: _sort_key(item.get(field)), reverse=not ascending)
    return chosen


def _matches(item: dict, query: Any) -> bool:
    terms = [term.partition(":") for term in query.get("q", "").split(",") if term]
    if not terms:
        return True
    hits = [_term_matches(item.get(field), value) for field, _, value in terms]
    return any(hits) if query.get("operator", "AND").upper() == "OR" else all(hits)


def _term_matches(actual: Any, wanted: str) -> bool:
    if wanted == "":
        return actual not in (None, "")
    return actual is not None and str(actual).lower() == wanted.lower()


def _sort_key(value: Any) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, "" if value is None else str(value).lower())


def paginate(request: web.Request, items: Sequence[dict]) -> dict[str, Any]:
    """A §1.7 page with honest numbers (§16.15): limit clamped, from/to null when empty."""
    page = max(1, _query_int(request, "page", 1))
    limit = min(MAX_LIMIT, max(MIN_LIMIT, _query_int(request, "limit", MIN_LIMIT)))
    total = len(items)
    last_page = max(1, math.ceil(total / limit))
    chunk = list(items[(page - 1) * limit : page * limit])
    first = (page - 1) * limit + 1 if chunk else None
    return {
        "total": total,
        "per_page": limit,
        "current_page": page,
        "last_page": last_page,
        "next_page_url": _page_url(request, page + 1) if page < last_page else None,
        "prev_page_url": _page_url(request, page - 1) if page > 1 else None,
        "from": first,
        "to": first + len(chunk) - 1 if first is not None else None,
        "data": chunk,
    }


def _query_int(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def _page_url(request: web.Request, page: int) -> str:
    return str(request.url.update_query(page=page))
