"""The inbox's HTML pages: list, thread, reply, customer simulator, CSRF, CSP."""

from __future__ import annotations

import asyncio
import html
import itertools
import re

import pytest
from sqlalchemy import event, select

from bot.config import ProviderName
from bot.models import Contact, Conversation, Direction, Message, MessageStatus, OptOut
from bot.outbox import enqueue_reply
from bot.sender import send_round
from inbox.csrf import COOKIE
from inbox.demo import DEMO_OUR_NUMBER
from inbox.keys import SERVICES
from inbox.middleware import CSP
from tests.conftest import webhook_path

ALICE, BOB, CAROL = "+14155550101", "+14155550102", "+14155550103"
_ids = itertools.count(1)


# -- helpers ---------------------------------------------------------------------------


async def ingest(client, settings, sender: str, body: str, to: str = DEMO_OUR_NUMBER) -> None:
    fields = {
        "message_id": f"TEST-{next(_ids)}",
        "from": sender,
        "to": to,
        "body": body,
        "timestamp": "1700000000",
    }
    response = await client.post(webhook_path(settings), data=fields)
    assert response.status == 200, await response.text()


async def page(client, path: str, status: int = 200) -> str:
    response = await client.get(path)
    assert response.status == status
    return await response.text()


async def form_token(client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', await page(client, path))
    assert found is not None
    return found.group(1)


def listed(text: str) -> list[tuple[str, int]]:
    """(customer number, unread count) of each row of the conversation list, in order."""
    return [
        (phone, int(n))
        for phone, n in re.findall(r'data-phone="([^"]+)" data-unread="(\d+)"', text)
    ]


def services(client):
    return client.server.app[SERVICES]


async def conversation_id(sessionmaker, phone: str) -> int:
    async with sessionmaker() as session:
        return await session.scalar(
            select(Conversation.id).join(Contact).where(Contact.phone_number == phone)
        )


async def outbound(sessionmaker) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.body, Message.status)
            .where(Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return [(body, str(status)) for body, status in rows]


async def reply(client, cid: int, body: str, token: str | None = None):
    data = {"body": body} if token is None else {"body": body, "csrf_token": token}
    return await client.post(f"/conversations/{cid}/reply", data=data, allow_redirects=False)


async def opt_out(sessionmaker, phone: str) -> None:
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number=phone, our_number=""))


# -- the conversation list ----------------------------------------------------------------


async def test_list_shows_threads_newest_first_with_unread_counts(quiet_client, settings):
    await ingest(quiet_client, settings, ALICE, "Hi there")
    await ingest(quiet_client, settings, BOB, "Hello")
    await ingest(quiet_client, settings, ALICE, "Anyone around?")
    await ingest(quiet_client, settings, CAROL, "PRICE")

    text = await page(quiet_client, "/")

    assert listed(text) == [(CAROL, 1), (ALICE, 2), (BOB, 1)]
    assert "Anyone around?" in text
    assert f"to {DEMO_OUR_NUMBER}" in text


async def test_opening_a_thread_shows_it_oldest_first_and_marks_it_read(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "first message")
    await ingest(quiet_client, settings, ALICE, "second message")
    cid = await conversation_id(sessionmaker, ALICE)

    thread = await page(quiet_client, f"/conversations/{cid}")

    assert thread.index("first message") < thread.index("second message")
    assert thread.count('class="message message-in"') == 2
    assert "pending" in thread
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", thread)
    assert listed(await page(quiet_client, "/")) == [(ALICE, 0)]


async def test_sms_markup_is_escaped_in_list_and_thread(quiet_client, settings, sessionmaker):
    attack = "<script>alert(1)</script>"
    await ingest(quiet_client, settings, ALICE, attack)
    cid = await conversation_id(sessionmaker, ALICE)

    for text in (await page(quiet_client, "/"), await page(quiet_client, f"/conversations/{cid}")):
        assert attack not in text
        assert html.escape(attack, quote=False) in text


async def test_list_page_runs_the_same_few_statements_for_3_and_30_threads(quiet_client, settings):
    engine = services(quiet_client).engine.sync_engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    counts = []
    for already, total in ((0, 3), (3, 30)):
        for n in range(already, total):
            await ingest(quiet_client, settings, f"+1415555{n:04d}", f"message {n}")
        event.listen(engine, "before_cursor_execute", count)
        try:
            text = await page(quiet_client, "/")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(listed(text)) == total
        counts.append(len(statements))
        statements.clear()

    assert counts == [3, 3]  # the page, the last message of each thread, opt-outs


async def test_older_link_walks_every_thread_once_with_a_keyset_cursor(quiet_client, settings):
    # Concurrent webhooks commit as one group: many threads share last_message_at.
    phones = [f"+1415556{n:04d}" for n in range(57)]
    await asyncio.gather(*(ingest(quiet_client, settings, p, "hi") for p in phones))

    seen: list[str] = []
    path: str | None = "/"
    pages = 0
    while path is not None:
        text = await page(quiet_client, path)
        seen += [phone for phone, _ in listed(text)]
        older = re.search(r'<a rel="next" href="([^"]+)"', text)
        path = html.unescape(older.group(1)) if older else None
        pages += 1

    assert pages == 2
    assert sorted(seen) == sorted(phones)
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "2024-13-40T00:00:00Z:5",
        "2024-01-01T00:00:00Z:x",
        "2024-01-01T00:00:00Z:99999999999",
        "9999-12-31T23:59:59-05:00:5",
        "99999999999999999999:5",
        ":5",
    ],
)
async def test_a_malformed_cursor_is_a_400_page(quiet_client, cursor):
    response = await quiet_client.get("/", params={"before": cursor})

    assert response.status == 400
    assert "before" in await response.text()


async def test_a_unix_seconds_cursor_is_accepted(quiet_client, settings):
    await ingest(quiet_client, settings, ALICE, "hi")

    text = await page(quiet_client, "/?before=4102444800:1")  # 2100-01-01

    assert listed(text) == [(ALICE, 1)]


# -- one thread and the reply ------------------------------------------------------------


async def test_unknown_conversation_is_a_404_page(quiet_client):
    for path in ("/conversations/999", "/conversations/99999999999999999999"):
        response = await quiet_client.get(path)
        assert response.status == 404
        assert response.content_type == "text/html"
    assert "There is no conversation 999" in await page(quiet_client, "/conversations/999", 404)


async def test_reply_to_unknown_conversation_is_a_404(quiet_client, sessionmaker):
    token = await form_token(quiet_client, "/simulate")

    response = await reply(quiet_client, 999, "hello", token)

    assert response.status == 404
    assert await outbound(sessionmaker) == []


async def test_reply_without_csrf_token_is_refused_and_queues_nothing(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "hi")
    cid = await conversation_id(sessionmaker, ALICE)
    await form_token(quiet_client, f"/conversations/{cid}")  # the cookie is set

    missing = await reply(quiet_client, cid, "hello")
    wrong = await reply(quiet_client, cid, "hello", "A" * 43)

    assert (missing.status, wrong.status) == (403, 403)
    assert "reload the page" in await missing.text()
    assert await outbound(sessionmaker) == []


async def test_reply_with_csrf_token_queues_one_message_and_calls_no_provider(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "hi")
    cid = await conversation_id(sessionmaker, ALICE)
    token = await form_token(quiet_client, f"/conversations/{cid}")
    simulator = services(quiet_client).simulator

    response = await reply(quiet_client, cid, "  On its way!  ", token)

    assert response.status == 303
    assert response.headers["Location"] == f"/conversations/{cid}"
    assert await outbound(sessionmaker) == [("On its way!", "queued")]
    assert simulator.sent == []
    assert "On its way!" in await page(quiet_client, f"/conversations/{cid}")

    svc = services(quiet_client)
    await send_round(svc.sessionmaker, svc.provider, state=svc.sender_state)

    assert [item["body"] for item in simulator.sent] == ["On its way!"]
    assert await outbound(sessionmaker) == [("On its way!", "sent")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("", "The message is empty."),
        ("   \n ", "The message is empty."),
        ("x" * 2000, "SMS parts"),
    ],
)
async def test_bad_reply_is_a_400_naming_the_problem_and_keeps_the_draft(
    quiet_client, settings, sessionmaker, body, problem
):
    await ingest(quiet_client, settings, ALICE, "hi")
    cid = await conversation_id(sessionmaker, ALICE)
    token = await form_token(quiet_client, f"/conversations/{cid}")

    response = await reply(quiet_client, cid, body, token)
    text = await response.text()

    assert response.status == 400
    assert problem in text
    assert f">{body}</textarea>" in text
    assert await outbound(sessionmaker) == []


async def test_opted_out_number_gets_a_disabled_composer_and_no_reply(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "hi")
    await ingest(quiet_client, settings, BOB, "hello")
    await opt_out(sessionmaker, ALICE)
    cid = await conversation_id(sessionmaker, ALICE)

    thread = await page(quiet_client, f"/conversations/{cid}")
    token = await form_token(quiet_client, f"/conversations/{cid}")
    response = await reply(quiet_client, cid, "come back!", token)

    assert "<fieldset disabled" in thread
    assert "has opted out of messages. Replies are disabled" in thread
    assert response.status == 400
    assert f"{ALICE} has opted out of messages" in await response.text()
    assert await outbound(sessionmaker) == []
    listing = await page(quiet_client, "/")
    assert listing.count("badge-optout") == 1
    bob = await page(quiet_client, f"/conversations/{await conversation_id(sessionmaker, BOB)}")
    assert "<fieldset>" in bob


# -- CSRF cookie and security headers ------------------------------------------------------


async def test_form_pages_set_a_strict_httponly_csrf_cookie(quiet_client):
    response = await quiet_client.get("/simulate")
    header = response.headers["Set-Cookie"]
    field = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())

    assert header.startswith(f"{COOKIE}=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {part.strip() for part in header.split(";")}
    assert field is not None and field.group(1) == response.cookies[COOKIE].value
    assert await form_token(quiet_client, "/simulate") == field.group(1)  # stable per browser


async def test_every_html_response_carries_the_content_security_policy(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "hi")
    cid = await conversation_id(sessionmaker, ALICE)
    token = await form_token(quiet_client, "/simulate")
    responses = [
        await quiet_client.get("/"),
        await quiet_client.get(f"/conversations/{cid}"),
        await quiet_client.get("/simulate"),
        await quiet_client.get("/conversations/999"),
        await quiet_client.get("/no/such/page"),
        await quiet_client.get("/?before=bad"),
        await reply(quiet_client, cid, "hello"),
        await reply(quiet_client, cid, "", token),
        await quiet_client.post("/simulate", data={"csrf_token": token}),
    ]

    assert [r.status for r in responses] == [200, 200, 200, 404, 404, 400, 403, 400, 400]
    for response in responses:
        assert response.content_type == "text/html"
        assert response.headers["Content-Security-Policy"] == CSP
        assert "<style" not in await response.text()
        assert "<script>" not in await response.text()


# -- the customer simulator ---------------------------------------------------------------


async def test_simulated_sms_arrives_through_the_webhook(quiet_client, sessionmaker):
    token = await form_token(quiet_client, "/simulate")
    form = {
        "csrf_token": token,
        "from_number": "(415) 555-0177",
        "our_number": DEMO_OUR_NUMBER,
        "body": "Do you ship to Canada?",
    }

    response = await quiet_client.post("/simulate", data=form, allow_redirects=False)

    assert response.status == 303
    assert response.headers["Location"] == "/?sent=1"
    pushes = services(quiet_client).simulator.push_log
    assert [(p["url"].rsplit("/", 1)[-1], p.get("status")) for p in pushes] == [("inbound", 200)]
    listing = await page(quiet_client, "/?sent=1")
    assert listed(listing) == [("+14155550177", 1)]
    assert "The simulated message was sent" in listing
    assert "Do you ship to Canada?" in listing


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("from_number", "not a phone", "From number:"),
        ("from_number", "", "From number: phone number is empty"),
        ("our_number", "", "Our number:"),
        ("body", "  ", "Message: type what the customer says."),
    ],
)
async def test_simulate_form_names_the_bad_field(quiet_client, field, value, problem):
    token = await form_token(quiet_client, "/simulate")
    form = {
        "csrf_token": token,
        "from_number": "+14155550177",
        "our_number": DEMO_OUR_NUMBER,
        "body": "hello <b>there</b>",
    }
    form[field] = value

    response = await quiet_client.post("/simulate", data=form, allow_redirects=False)
    text = await response.text()

    assert response.status == 400
    assert problem in text
    assert services(quiet_client).simulator.inbound == []
    if field != "body":
        assert ">hello &lt;b&gt;there&lt;/b&gt;</textarea>" in text


async def test_simulate_without_csrf_token_is_refused(quiet_client):
    form = {"from_number": "+14155550177", "our_number": DEMO_OUR_NUMBER, "body": "hi"}

    response = await quiet_client.post("/simulate", data=form, allow_redirects=False)

    assert response.status == 403
    assert services(quiet_client).simulator.inbound == []


async def test_simulator_pages_are_404_with_a_real_provider(aiohttp_client, settings):
    from inbox.app import create_app

    real = settings.with_overrides(provider=ProviderName.CLICKSEND)
    client = await aiohttp_client(create_app(real, run_workers=False))

    assert (await client.get("/simulate")).status == 404
    assert (await client.post("/simulate", data={"body": "hi"})).status == 404
    assert "Simulate a customer" not in await page(client, "/")


async def test_a_message_in_doubt_reads_checking_with_clicksend(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "Hello?")
    cid = await conversation_id(sessionmaker, ALICE)
    async with sessionmaker.begin() as session:
        message = await enqueue_reply(session, cid, "On its way")
        message.status = MessageStatus.UNKNOWN
        message_id = message.id
    thread = await page(quiet_client, f"/conversations/{cid}")
    entry = thread[thread.index(f'id="message-{message_id}"') :]
    entry = entry[: entry.index("</li>")]
    assert 'class="message-status status-unknown"' in entry
    assert ">checking with ClickSend</span>" in entry


async def test_a_thread_left_for_an_agent_says_why_until_an_agent_replies(
    quiet_client, settings, sessionmaker
):
    await ingest(quiet_client, settings, ALICE, "hi")
    cid = await conversation_id(sessionmaker, ALICE)
    reason = "bot reply cap reached (5 per hour): replies paused, left for an agent"
    async with sessionmaker.begin() as session:
        conversation = await session.get_one(Conversation, cid)
        conversation.needs_agent, conversation.needs_agent_reason = True, reason
    text = await page(quiet_client, f"/conversations/{cid}")
    assert 'id="needs-agent-banner"' in text and f"{reason}. Your reply hands it back" in text
    assert "needs an agent</span>" in await page(quiet_client, "/")

    token = await form_token(quiet_client, f"/conversations/{cid}")
    assert (await reply(quiet_client, cid, "I'm here", token)).status == 303
    async with sessionmaker() as session:
        conversation = await session.get_one(Conversation, cid)
        assert (conversation.needs_agent, conversation.needs_agent_reason) == (False, None)
    assert "needs-agent-banner" not in await page(quiet_client, f"/conversations/{cid}")
    assert "needs an agent</span>" not in await page(quiet_client, "/")


async def test_thread_we_started_from_the_default_sender_says_so(quiet_client, sessionmaker):
    """An API send without `from` has no number of ours: no dangling "to" or "texted"."""
    from bot.outbox import enqueue_to_number

    async with sessionmaker.begin() as session:
        message = await enqueue_to_number(session, "+14155550123", "Your order shipped")
        conversation_id = message.conversation_id
    listing = await (await quiet_client.get("/")).text()
    assert "from the default sender id</span>" in listing
    assert not re.search(r">to\s*</span>", listing)
    thread = await (await quiet_client.get(f"/conversations/{conversation_id}")).text()
    assert "started by us from the default sender id" in thread
    assert not re.search(r'texted <span class="number">\s*</span>', thread)
