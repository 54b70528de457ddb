"""The inbox: the conversation list, one thread, and the agent's reply.

A reply only queues an outbound message (bot/outbox.py) and wakes the sender
after the commit; the provider is called later by the sender, never here.
"""

from __future__ import annotations

from aiohttp import web

from bot.contacts import NotFound
from bot.optout import OptedOut
from bot.outbox import InvalidMessage, enqueue_reply
from inbox.keys import SERVICES
from inbox.services import Services
from inbox.views import _threads as threads
from inbox.views._page import form_text, path_id, read_form, render_page

FIELD_LABELS = {"body": "The message"}
NOTICES = {"sent": "The simulated message was sent to the webhook."}


async def conversation_list(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    before = _cursor(request)
    async with services.sessionmaker() as session:
        page = await threads.conversation_page(session, before)
    context = {"page": page, "paged": before is not None, "notice": _notice(request)}
    return render_page(request, "inbox/conversations.html", context)


async def conversation_detail(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    conversation_id = path_id(request, "conversation_id")
    async with services.sessionmaker.begin() as session:
        thread = await threads.find_thread(session, conversation_id)
        if thread is not None:
            await threads.mark_read(session, conversation_id)
    return _render_thread(request, thread)


async def conversation_reply(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    conversation_id = path_id(request, "conversation_id")
    body = form_text(await read_form(request), "body")
    try:
        async with services.sessionmaker.begin() as session:
            await enqueue_reply(session, conversation_id, body)
    except NotFound:
        raise _missing(conversation_id) from None
    except (InvalidMessage, OptedOut) as exc:
        return await _refuse(request, services, conversation_id, body, _problem(exc))
    services.notify_outbox()
    url = request.app.router["inbox.conversation"].url_for(conversation_id=str(conversation_id))
    raise web.HTTPSeeOther(url)


async def _refuse(
    request: web.Request, services: Services, conversation_id: int, draft: str, error: str
) -> web.Response:
    """Show the thread again with the problem and what the agent typed (400)."""
    async with services.sessionmaker() as session:
        thread = await threads.find_thread(session, conversation_id)
    return _render_thread(request, thread, draft=draft, error=error, status=400)


def _render_thread(
    request: web.Request,
    thread: threads.Thread | None,
    *,
    draft: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    if thread is None:
        raise _missing(int(request.match_info["conversation_id"]))
    context = {"thread": thread, "draft": draft, "error": error}
    return render_page(request, "inbox/conversation.html", context, status=status)


def _problem(exc: InvalidMessage | OptedOut) -> str:
    if isinstance(exc, OptedOut):
        return f"{exc}: replies to this number are blocked until it texts START."
    return f"{FIELD_LABELS.get(exc.field, exc.field)} {exc.problem}."


def _missing(conversation_id: int) -> web.HTTPNotFound:
    return web.HTTPNotFound(reason=f"There is no conversation {conversation_id}")


def _cursor(request: web.Request) -> threads.Cursor | None:
    text = request.query.get("before")
    if not text:
        return None
    try:
        return threads.parse_cursor(text)
    except threads.BadCursor as exc:
        raise web.HTTPBadRequest(reason=str(exc)) from None


def _notice(request: web.Request) -> str | None:
    return next((NOTICES[key] for key in NOTICES if request.query.get(key) == "1"), None)
