"""Error pages and security headers for every response.

Every page gets a strict Content-Security-Policy (no inline script, nothing from
other origins): SMS bodies are attacker-controlled, so even an escaping bug
must not turn into script execution.
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply(exc)
        raise
    _apply(response)
    return response


def _apply(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _wants_html(request: web.Request) -> bool:
    return not request.path.startswith(("/api/", "/webhooks/", "/_sim/", "/healthz"))


@web.middleware
async def error_pages(request: web.Request, handler) -> web.StreamResponse:
    """Render 404/405/500 as pages in the inbox; JSON areas keep their own errors."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not _wants_html(request) or exc.status in (401, 403):
            raise
        return _page(request, exc.status, exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_html(request):
            return web.json_response({"error": "internal error"}, status=500)
        return _page(request, 500, "Something went wrong on our side")


def _page(request: web.Request, status: int, reason: str) -> web.Response:
    context = {"status": status, "reason": reason}
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)
