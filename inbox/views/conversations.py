"""The inbox: the conversation list, one thread, the agent's reply and consent actions.

A reply only queues an outbound message (bot/outbox.py) and wakes the sender
after the commit; the provider is called later by the sender, never here. The
same holds for the opt-out confirmation that confirming a possible opt-out queues.
No login exists yet, so actions record no user (``user_id`` None).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.consent import ConsentError
from bot.contacts import NotFound
from bot.optout import OptedOut
from bot.outbox import InvalidMessage, enqueue_reply
from inbox.keys import SERVICES
from inbox.services import Services
from inbox.views import _compliance as compliance
from inbox.views import _threads as threads
from inbox.views._page import form_text, path_id, read_form, render_page

FIELD_LABELS = {
    "body": "The message",
    "reason": "The reason",
    "conversation": "This thread",
    "phone_number": "The number",
}
USER_ID = None  # until agents log in

ConsentAction = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Problems:
    """What went wrong with a form on the thread page, and what the agent typed."""

    reply: str | None = None  # next to the reply box
    consent: str | None = None  # a consent action that no longer applies, above the thread
    reason: str | None = None  # next to the opt-out reason
    drafts: dict[str, str] = field(default_factory=dict)


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
        loaded = await _load_thread(session, conversation_id)
        if loaded is not None:
            await threads.mark_read(session, conversation_id)
    return _render_thread(request, loaded)


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
        problems = Problems(reply=_problem(exc), drafts={"body": body})
        return await _refuse(request, services, conversation_id, problems, 400)
    services.notify_outbox()
    raise web.HTTPSeeOther(_thread_url(request, conversation_id))


async def confirm_opt_out(request: web.Request) -> web.Response:
    """The agent agrees the flagged message revokes consent (a confirmation may be queued)."""
    return await _consent_action(request, compliance.confirm)


async def dismiss_opt_out(request: web.Request) -> web.Response:
    return await _consent_action(request, compliance.dismiss)


async def record_opt_out(request: web.Request) -> web.Response:
    """Opt the number out by hand; the reason is required and goes into the ledger."""
    return await _consent_action(request, compliance.opt_out_by_hand, "reason")


async def _consent_action(
    request: web.Request, action: ConsentAction, *fields: str
) -> web.Response:
    services = request.config_dict[SERVICES]
    conversation_id = path_id(request, "conversation_id")
    form = await read_form(request)
    values = {name: form_text(form, name) for name in fields}
    try:
        async with services.sessionmaker.begin() as session:
            await action(session, conversation_id, USER_ID, **values)
    except NotFound:
        raise _missing(conversation_id) from None
    except ConsentError as exc:
        problems, status = _consent_problem(exc, values)
        return await _refuse(request, services, conversation_id, problems, status)
    services.notify_outbox()
    raise web.HTTPSeeOther(_thread_url(request, conversation_id))


def _consent_problem(exc: ConsentError, values: dict[str, str]) -> tuple[Problems, int]:
    """A bad field is the agent's to fix (400); anything else is a state conflict (409)."""
    message = f"{FIELD_LABELS.get(exc.field, exc.field)} {str(exc).partition(': ')[2]}."
    if exc.field in values:
        return Problems(reason=message, drafts=values), 400
    return Problems(consent=message, drafts=values), 409


async def _refuse(
    request: web.Request,
    services: Services,
    conversation_id: int,
    problems: Problems,
    status: int,
) -> web.Response:
    """Show the thread again with the problem and what the agent typed."""
    async with services.sessionmaker() as session:
        loaded = await _load_thread(session, conversation_id)
    return _render_thread(request, loaded, problems, status=status)


async def _load_thread(
    session: AsyncSession, conversation_id: int
) -> tuple[threads.Thread, compliance.ThreadConsent] | None:
    thread = await threads.find_thread(session, conversation_id)
    if thread is None:
        return None
    return thread, await compliance.thread_consent(session, thread.header)


def _render_thread(
    request: web.Request,
    loaded: tuple[threads.Thread, compliance.ThreadConsent] | None,
    problems: Problems | None = None,
    *,
    status: int = 200,
) -> web.Response:
    if loaded is None:
        raise _missing(int(request.match_info["conversation_id"]))
    thread, consent = loaded
    problems = problems or Problems()
    context = {
        "thread": thread,
        "consent": consent,
        "problems": problems,
        "draft": problems.drafts.get("body", ""),
        "reason": problems.drafts.get("reason", ""),
    }
    return render_page(request, "inbox/conversation.html", context, status=status)


def _thread_url(request: web.Request, conversation_id: int):
    return request.app.router["inbox.conversation"].url_for(conversation_id=str(conversation_id))


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
