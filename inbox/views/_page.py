"""Helpers every HTML view shares: layout variables, rendering with CSRF, forms."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from inbox.csrf import check_csrf, csrf_token
from inbox.keys import SERVICES
from inbox.views._account import account_header
from inbox.views._threads import MAX_ID


def render_page(
    request: web.Request, template: str, context: dict[str, object], *, status: int = 200
) -> web.Response:
    """Render ``template`` with the layout's variables, a CSRF token and its cookie."""
    response = web.Response(status=status, content_type="text/html", charset="utf-8")
    services = request.config_dict[SERVICES]
    page = {
        **context,
        "demo": services.simulator is not None,
        "account": account_header(services),
        "csrf_token": csrf_token(request, response),
    }
    response.text = aiohttp_jinja2.render_string(template, request, page)
    return response


async def read_form(request: web.Request) -> MultiDictProxy:
    """The POSTed form, after the CSRF check (a mismatch raises the 403 page)."""
    form = await request.post()
    check_csrf(request, form)
    return form


def form_text(form: MultiDictProxy, name: str) -> str:
    """A text field as typed; missing fields and file uploads count as empty."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def path_id(request: web.Request, name: str) -> int:
    """An id from the URL; one too large to exist is a 404, not a database error."""
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise web.HTTPNotFound()
    return value


def just_saved(request: web.Request) -> bool:
    """Whether the page was reached by the redirect that follows a save (``?saved=1``)."""
    return request.query.get("saved") == "1"


def saved_redirect(request: web.Request, route: str, **parts: str) -> web.HTTPSeeOther:
    """The redirect after a save: to the ``route`` page, which then says it was saved."""
    return web.HTTPSeeOther(request.app.router[route].url_for(**parts).with_query(saved="1"))
