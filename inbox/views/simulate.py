"""Demo only: text our number as a customer would.

The simulator pushes the message to our webhook over HTTP, so it takes the real
ingest path (webhook → group commit → pipeline). The handler waits briefly for
the row to be stored so the inbox it redirects to already shows the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select

from bot import events
from bot.ingest import MAX_BODY_BYTES
from bot.models import Message
from bot.phones import InvalidPhoneNumber, to_e164, to_e164_or_raw
from inbox.demo import DEMO_OUR_NUMBER
from inbox.keys import SERVICES
from inbox.services import Services
from inbox.views._page import form_text, read_form, render_page

FIELDS = ("from_number", "our_number", "body")
STORE_WAIT_S = 3.0


@dataclass(frozen=True, slots=True)
class SimulatedSms:
    from_number: str
    our_number: str
    body: str


async def simulate_form(request: web.Request) -> web.Response:
    _simulator(request.config_dict[SERVICES])
    values = {"from_number": "", "our_number": DEMO_OUR_NUMBER, "body": ""}
    return render_page(request, "inbox/simulate.html", {"values": values, "errors": {}})


async def simulate_submit(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    _simulator(services)
    form = await read_form(request)
    sms, errors = parse_form(form, services.settings.default_region)
    if sms is None:
        values = {name: form_text(form, name) for name in FIELDS}
        context = {"values": values, "errors": errors}
        return render_page(request, "inbox/simulate.html", context, status=400)
    await _inject(services, sms)
    url = request.app.router["inbox.conversations"].url_for().with_query(sent="1")
    raise web.HTTPSeeOther(url)


def parse_form(form: MultiDictProxy, region: str) -> tuple[SimulatedSms | None, dict[str, str]]:
    """The message to inject, or None and one error per bad field, naming it."""
    errors: dict[str, str] = {}
    try:
        from_number = to_e164(form_text(form, "from_number"), region)
    except InvalidPhoneNumber as exc:
        from_number, errors["from_number"] = "", f"From number: {exc}."
    our_number = to_e164_or_raw(form_text(form, "our_number"), region)
    if not our_number:
        errors["our_number"] = "Our number: enter the number the customer texts."
    body = form_text(form, "body").replace("\x00", "")
    if not body.strip():
        errors["body"] = "Message: type what the customer says."
    elif len(body.encode()) > MAX_BODY_BYTES:
        errors["body"] = f"Message: longer than {MAX_BODY_BYTES} bytes."
    return (None if errors else SimulatedSms(from_number, our_number, body)), errors


def _simulator(services: Services):
    if services.simulator is None:
        raise web.HTTPNotFound(reason="The customer simulator runs only in demo mode")
    return services.simulator


async def _inject(services: Services, sms: SimulatedSms) -> None:
    async with services.bus.subscribe(events.MESSAGE_UPDATED) as updates:
        item = await _simulator(services).inject_inbound(sms.from_number, sms.our_number, sms.body)
        # On timeout the push is still being retried; the thread shows up on a later load.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STORE_WAIT_S):
                while not await _stored(services, item["message_id"]):
                    await updates.get()


async def _stored(services: Services, provider_message_id: str) -> bool:
    async with services.sessionmaker() as session:
        found = await session.scalar(
            select(Message.id).where(Message.provider_message_id == provider_message_id)
        )
    return found is not None
