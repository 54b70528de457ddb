"""ClickSend's response envelope, and the middleware that turns errors into it.

Every answer of the API, success or failure, is
``{http_code, response_code, response_msg, data}`` (ClickSend v3 §1.4). Handlers
raise; this middleware maps the exception to a status: bad input is a 400 whose
message starts with the field's name, never a 500. Unexpected exceptions are
logged and answered with a generic 500 that leaks nothing.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.contacts import NotFound
from bot.optout import OptedOut
from bot.outbox import InvalidMessage

log = logging.getLogger(__name__)

SUCCESS_MSG = "Here are your data."
RESPONSE_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}


def envelope(
    data: Any,
    *,
    http_code: int = 200,
    response_code: str = "SUCCESS",
    response_msg: str = SUCCESS_MSG,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {
        "http_code": http_code,
        "response_code": response_code,
        "response_msg": response_msg,
        "data": data,
    }
    return web.json_response(body, status=http_code, headers=headers)


class ApiError(Exception):
    """An error answer: raise it anywhere below a handler."""

    def __init__(
        self,
        http_code: int,
        message: str,
        *,
        response_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_code = http_code
        self.message = message
        self.response_code = response_code or response_code_for(http_code)
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return envelope(
            [],
            http_code=self.http_code,
            response_code=self.response_code,
            response_msg=self.message,
            headers=self.headers,
        )


def bad_request(field: str, problem: str) -> ApiError:
    """A 400 whose message names the field first, e.g. ``to: is required``."""
    return ApiError(400, f"{field}: {problem}")


def response_code_for(status: int) -> str:
    if status in RESPONSE_CODES:
        return RESPONSE_CODES[status]
    try:
        return http.HTTPStatus(status).name
    except ValueError:
        return "ERROR"


@web.middleware
async def api_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except InvalidMessage as exc:
        return bad_request(exc.field, exc.problem).response()
    except OptedOut as exc:
        return ApiError(403, str(exc), response_code=OptedOut.code).response()
    except NotFound as exc:
        return ApiError(404, str(exc)).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_http_exception(exc).response()
    except Exception:
        log.exception("API error on %s %s", request.method, request.path)
        return ApiError(500, "Something went wrong on our side; it has been logged.").response()


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    messages = {
        404: "No such resource. The API lives under /api/v1; see /api/v1/openapi.json.",
        405: "This method is not allowed here.",
        413: "The request body is too large.",
    }
    keep = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
    return ApiError(exc.status, messages.get(exc.status, exc.reason), headers=keep)
