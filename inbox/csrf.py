"""Double-submit CSRF protection for the inbox's HTML forms.

A page with a form puts a random token in a cookie (HttpOnly, SameSite=Strict)
and repeats it in a hidden ``csrf_token`` field. A POST must carry both, equal.
Another site can make a browser send the cookie (SameSite=Strict already stops
that in current browsers) but can never read it to fill in the field.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping

import aiohttp_jinja2
from aiohttp import web

COOKIE = "smsdesk_csrf"
FIELD = "csrf_token"
REJECTED = "The form expired or came from another site; reload the page and try again"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def csrf_token(request: web.Request, response: web.StreamResponse) -> str:
    """This browser's token (kept while it looks like ours), set as a cookie on ``response``."""
    token = request.cookies.get(COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", path="/", secure=request.secure
    )
    return token


def csrf_ok(request: web.Request, form: Mapping[str, object]) -> bool:
    sent = form.get(FIELD)
    cookie = request.cookies.get(COOKIE, "")
    if not isinstance(sent, str) or not _TOKEN.fullmatch(cookie):
        return False
    return hmac.compare_digest(sent.encode(), cookie.encode())


def check_csrf(request: web.Request, form: Mapping[str, object]) -> None:
    """Raise 403 (rendered as the error page) unless the form's token matches the cookie."""
    if csrf_ok(request, form):
        return
    context = {"status": 403, "reason": REJECTED}
    html = aiohttp_jinja2.render_string("error.html", request, context)
    raise web.HTTPForbidden(text=html, content_type="text/html")
