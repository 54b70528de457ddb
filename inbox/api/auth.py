"""Basic auth for /api/v1: username is the user's email, password an API key.

Every route needs credentials except the ones named in ``PUBLIC_ROUTES`` (the
OpenAPI document). Missing, malformed and wrong credentials all get the same
401 envelope with a ``WWW-Authenticate`` challenge; only the message differs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aiohttp import hdrs, web

from inbox.api.envelope import ApiError
from inbox.auth import authenticate_api_key
from inbox.keys import SERVICES

CHALLENGE = {"WWW-Authenticate": 'Basic realm="smsdesk"'}
PUBLIC_ROUTES = frozenset({"api.openapi"})


@dataclass(frozen=True, slots=True)
class ApiUser:
    id: int
    email: str


API_USER = web.RequestKey("api_user", ApiUser)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers=CHALLENGE)


@web.middleware
async def basic_auth(request: web.Request, handler) -> web.StreamResponse:
    if request.match_info.route.name in PUBLIC_ROUTES:
        return await handler(request)
    credentials = _credentials(request)
    request[API_USER] = await _authenticate(request, credentials)
    return await handler(request)


def _credentials(request: web.Request) -> tuple[str, str]:
    header = request.headers.get(hdrs.AUTHORIZATION)
    if not header:
        raise unauthorized("Send Basic auth: your email as username and an API key as password.")
    credentials = parse_basic(header)
    if credentials is None:
        raise unauthorized("The Authorization header is not Basic auth with a username and key.")
    return credentials


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(username, password)`` from a Basic Authorization header, None if malformed."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        return None
    username, colon, password = decoded.partition(":")
    if not colon or not username or not password or "\x00" in decoded:
        return None
    return username, password


async def _authenticate(request: web.Request, credentials: tuple[str, str]) -> ApiUser:
    sessionmaker = request.config_dict[SERVICES].sessionmaker
    async with sessionmaker.begin() as session:
        user = await authenticate_api_key(session, *credentials)
        if user is None:
            raise unauthorized("Invalid username or API key.")
        return ApiUser(id=user.id, email=user.email)
