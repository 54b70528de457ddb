"""Compliance in the inbox: system lines and consent banners in a thread, the agent's
confirm / dismiss / opt-out actions, the consent pages (ledger, CSV export, import)
and the compliance settings page."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import html
import io
import re

import pytest
from aiohttp import FormData
from markupsafe import escape
from sqlalchemy import event, func, select, update

from bot import compliance_settings
from bot.compliance import revocation_deadline
from bot.compliance_settings import ComplianceSettings
from bot.consent import LEDGER_COLUMNS
from bot.db import utcnow
from bot.jobs import PipelineWorker
from bot.models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Conversation,
    ConversationEvent,
    Direction,
    Message,
    MessagePurpose,
    OptOut,
)
from bot.optout_import import MAX_BYTES
from inbox.demo import DEMO_OUR_NUMBER
from inbox.middleware import CSP
from inbox.views._compliance import business_days_left
from inbox.views._threads import readable
from tests.inbox.test_views import ALICE, BOB, conversation_id, form_token, ingest, page, services

POSSIBLE = "cancel my appointment please"


# -- helpers ---------------------------------------------------------------------------


async def text_in(client, settings, sender: str, *bodies: str) -> int:
    """Customer texts arrive through the webhook; the pipeline handles them, as the worker would."""
    for body in bodies:
        await ingest(client, settings, sender, body)
    svc = services(client)
    await PipelineWorker(svc.sessionmaker, svc.bus).round()
    return await conversation_id(svc.sessionmaker, sender)


async def post_form(client, path: str, data: dict[str, str] | FormData):
    return await client.post(path, data=data, allow_redirects=False)


async def thread_action(client, cid: int, action: str, **fields: str):
    token = await form_token(client, f"/conversations/{cid}")
    return await post_form(
        client, f"/conversations/{cid}/opt-out{action}", {"csrf_token": token, **fields}
    )


async def outbound(sessionmaker, cid: int) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Message.purpose, Message.status)
            .where(Message.conversation_id == cid, Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return [(str(purpose), str(status)) for purpose, status in rows]


async def consent_events(sessionmaker) -> list[tuple[str, str, str, str | None]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(
                ConsentEvent.phone_number,
                ConsentEvent.kind,
                ConsentEvent.method,
                ConsentEvent.reason,
            ).order_by(ConsentEvent.id)
        )
        return [(phone, str(kind), str(method), reason) for phone, kind, method, reason in rows]


async def opt_outs(sessionmaker) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(OptOut.phone_number, OptOut.our_number).order_by(OptOut.id)
        )
        return [tuple(row) for row in rows]


async def flag(sessionmaker, cid: int) -> tuple[bool, dt.datetime | None]:
    async with sessionmaker() as session:
        conversation = await session.get_one(Conversation, cid)
        return conversation.possible_opt_out, conversation.possible_opt_out_at


def system_lines(text: str) -> list[str]:
    """The thread's system lines as shown, unescaped."""
    found = re.findall(r'<span class="system-text">(.*?)</span>', text)
    return [html.unescape(line) for line in found]


async def save_settings(sessionmaker, **changes) -> None:
    async with sessionmaker.begin() as session:
        current = await compliance_settings.load(session)
        await compliance_settings.save(session, dataclasses.replace(current, **changes))


# -- the thread: system lines and banners ------------------------------------------------


async def test_stop_shows_a_system_line_in_time_order_and_disables_replies(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, "hello", "STOP")

    thread = await page(quiet_client, f"/conversations/{cid}")

    assert system_lines(thread) == [
        'Opted out by "stop" (all our numbers); queued messages suppressed'
    ]
    assert thread.index(">hello<") < thread.index(">STOP<") < thread.index('class="system-event')
    today = utcnow().strftime("%Y-%m-%d")
    assert f'This number opted out on <time datetime="{today}">{today}</time>;' in thread
    assert "replies are disabled." in thread
    assert f'href="/contacts/{ALICE}/consent"' in thread
    assert "<fieldset disabled" in thread
    assert "Opt out this number" not in thread  # already opted out
    assert "possible-optout-banner" not in thread


async def test_help_answer_is_a_system_line(quiet_client, settings):
    cid = await text_in(quiet_client, settings, ALICE, "HELP")

    thread = await page(quiet_client, f"/conversations/{cid}")

    assert system_lines(thread) == ["HELP answered"]
    assert "optout-banner" not in thread
    assert "<fieldset>" in thread


async def test_possible_opt_out_shows_the_banner_with_its_deadline(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, "what time is it?", POSSIBLE)
    flagged, flagged_at = await flag(sessionmaker, cid)
    assert flagged and flagged_at is not None
    deadline = revocation_deadline(flagged_at)
    left = business_days_left(utcnow(), deadline)

    thread = await page(quiet_client, f"/conversations/{cid}")
    banner = thread[thread.index('id="possible-optout-banner"') : thread.index("</section>")]

    assert f'<blockquote class="flagged-text">{POSSIBLE}</blockquote>' in banner
    assert readable(flagged_at, seconds=False) in banner
    assert readable(deadline, seconds=False) in banner
    assert f">{left} business days left<" in banner
    assert 8 <= left <= 10
    assert "Confirm opt-out</button>" in banner
    assert "Dismiss</button>" in banner
    assert system_lines(thread) == ["Possible opt-out: an agent must confirm or dismiss it"]
    assert "<fieldset>" in thread  # an agent may still answer by hand


async def test_an_overdue_possible_opt_out_says_so(quiet_client, settings, sessionmaker):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(possible_opt_out_at=utcnow() - dt.timedelta(days=30))
        )

    thread = await page(quiet_client, f"/conversations/{cid}")

    assert '<dd class="time-left overdue">overdue</dd>' in thread


@pytest.mark.parametrize(
    ("now", "deadline", "left"),
    [
        # 2025-06-06 is a Friday
        ("2025-06-06T09:00", "2025-06-20T09:00", 10),
        ("2025-06-07T09:00", "2025-06-20T09:00", 10),  # Saturday: no business day gone
        ("2025-06-09T17:00", "2025-06-20T09:00", 9),
        ("2025-06-19T23:00", "2025-06-20T09:00", 1),
        ("2025-06-20T08:00", "2025-06-20T09:00", 0),  # due today
        ("2025-06-21T08:00", "2025-06-20T09:00", 0),  # past
    ],
)
def test_business_days_left(now, deadline, left):
    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

    assert business_days_left(at(now), at(deadline)) == left


# -- confirm, dismiss, opt out by hand ---------------------------------------------------


async def test_confirm_records_the_opt_out_and_queues_one_confirmation(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)

    response = await thread_action(quiet_client, cid, "/confirm")

    assert response.status == 303
    assert response.headers["Location"] == f"/conversations/{cid}"
    assert await opt_outs(sessionmaker) == [(ALICE, "")]
    assert await consent_events(sessionmaker) == [
        (ALICE, ConsentKind.OPT_OUT, ConsentMethod.AGENT, "agent confirmed a possible opt-out")
    ]
    assert await outbound(sessionmaker, cid) == [(MessagePurpose.OPT_OUT_CONFIRMATION, "queued")]
    assert await flag(sessionmaker, cid) == (False, None)
    thread = await page(quiet_client, f"/conversations/{cid}")
    assert "This number opted out on" in thread
    assert "possible-optout-banner" not in thread
    assert system_lines(thread)[-1] == "Opt-out confirmed by an agent"
    assert "<fieldset disabled" in thread

    again = await thread_action(quiet_client, cid, "/confirm")

    assert again.status == 409
    assert "This thread has no possible opt-out to confirm any more." in await again.text()
    assert len(await consent_events(sessionmaker)) == 1
    assert len(await outbound(sessionmaker, cid)) == 1


async def test_confirm_follows_the_per_number_scope_setting(quiet_client, settings, sessionmaker):
    await save_settings(sessionmaker, scope="per_number", confirmation_enabled=False)
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)

    response = await thread_action(quiet_client, cid, "/confirm")

    assert response.status == 303
    assert await opt_outs(sessionmaker) == [(ALICE, DEMO_OUR_NUMBER)]
    assert await outbound(sessionmaker, cid) == []


async def test_dismiss_clears_the_flag_and_records_no_opt_out(quiet_client, settings, sessionmaker):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)

    response = await thread_action(quiet_client, cid, "/dismiss")

    assert response.status == 303
    assert await flag(sessionmaker, cid) == (False, None)
    assert await opt_outs(sessionmaker) == []
    assert await consent_events(sessionmaker) == []
    assert await outbound(sessionmaker, cid) == []
    thread = await page(quiet_client, f"/conversations/{cid}")
    assert "possible-optout-banner" not in thread
    assert system_lines(thread)[-1] == "Possible opt-out dismissed by an agent"
    assert "<fieldset>" in thread

    again = await thread_action(quiet_client, cid, "/dismiss")

    assert again.status == 409
    assert "This thread has no possible opt-out to dismiss." in await again.text()


async def test_opt_out_by_hand_needs_a_reason_and_records_it(quiet_client, settings, sessionmaker):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)

    missing = await thread_action(quiet_client, cid, "", reason="   ")
    missing_text = await missing.text()

    assert missing.status == 400
    assert '<p class="field-error" id="optout-reason-error">The reason is required.</p>' in (
        missing_text
    )
    assert '<details class="optout-tools" open>' in missing_text
    assert await opt_outs(sessionmaker) == []

    reason = "Asked by phone <today> to stop"
    response = await thread_action(quiet_client, cid, "", reason=reason)

    assert response.status == 303
    assert await opt_outs(sessionmaker) == [(ALICE, "")]
    assert await consent_events(sessionmaker) == [
        (ALICE, ConsentKind.OPT_OUT, ConsentMethod.ADMIN, reason)
    ]
    assert await outbound(sessionmaker, cid) == []
    assert await flag(sessionmaker, cid) == (False, None)
    thread = await page(quiet_client, f"/conversations/{cid}")
    assert system_lines(thread)[-1] == f"Opted out by hand: {reason}"
    assert html.escape(reason) in thread

    again = await thread_action(quiet_client, cid, "", reason="twice")

    assert again.status == 409
    assert f"The number {ALICE} is already opted out." in await again.text()
    assert len(await consent_events(sessionmaker)) == 1


async def test_consent_actions_on_an_unknown_thread_are_404(quiet_client):
    token = await form_token(quiet_client, "/consent")
    for action in ("/confirm", "/dismiss", ""):
        data = {"csrf_token": token, "reason": "x"}
        response = await post_form(quiet_client, f"/conversations/999/opt-out{action}", data)
        assert response.status == 404


async def test_forms_without_a_csrf_token_are_refused_and_change_nothing(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)
    await form_token(quiet_client, f"/conversations/{cid}")  # the cookie is set
    upload = FormData()
    upload.add_field("file", f"{BOB}\n".encode(), filename="list.csv", content_type="text/csv")
    posts = {
        f"/conversations/{cid}/opt-out/confirm": {},
        f"/conversations/{cid}/opt-out/dismiss": {},
        f"/conversations/{cid}/opt-out": {"reason": "asked"},
        "/consent/import": upload,
        "/settings/compliance": {"business_name": "Hijacked"},
    }

    statuses = [(await post_form(quiet_client, path, data)).status for path, data in posts.items()]

    assert statuses == [403] * len(posts)
    assert (await flag(sessionmaker, cid))[0] is True
    assert await opt_outs(sessionmaker) == []
    assert await consent_events(sessionmaker) == []
    async with sessionmaker() as session:
        assert (await compliance_settings.load(session)).business_name == "our team"


# -- consent pages ---------------------------------------------------------------------


async def test_consent_page_shows_state_and_the_ledger_escaped(
    quiet_client, settings, sessionmaker
):
    # "script" and "alert" as filler words make this markup a plain STOP, so it lands
    # in the ledger verbatim.
    defaults = ComplianceSettings()
    await save_settings(sessionmaker, filler_words=(*defaults.filler_words, "script", "alert"))
    attack = "<script>alert()</script> STOP"
    await text_in(quiet_client, settings, ALICE, attack)

    text = await page(quiet_client, f"/contacts/{ALICE}/consent")

    assert attack not in text
    assert f'<td class="ledger-text">{html.escape(attack, quote=False)}</td>' in text
    assert "<td>keyword</td>" in text
    assert "<td>all our numbers</td>" in text
    assert "TEST-" in text  # the provider message id
    assert "opted out</span> for all our numbers since" in text
    assert "messages blocked" in text
    assert f'href="/consent/export.csv?phone_number=%2B{ALICE[1:]}"' in text
    assert text.count('id="consent-event-') == 1


async def test_consent_page_of_a_number_never_seen(quiet_client):
    text = await page(quiet_client, "/contacts/+14155550199/consent")

    assert "This number is not opted out anywhere." in text
    assert "No consent events recorded for this number." in text
    assert (await quiet_client.get("/contacts/not-a-number/consent")).status == 404


async def test_consent_lookup_redirects_to_the_number(quiet_client):
    found = await quiet_client.get("/consent?lookup=(415) 555-0101", allow_redirects=False)
    bad = await quiet_client.get("/consent?lookup=nope")

    assert found.status == 303
    assert found.headers["Location"] == f"/contacts/{ALICE}/consent"
    assert bad.status == 400
    assert "lookup:" in await bad.text()


async def test_csv_export_is_an_attachment_of_the_filtered_ledger(
    quiet_client, settings, sessionmaker
):
    await text_in(quiet_client, settings, ALICE, "STOP")
    await text_in(quiet_client, settings, BOB, "=STOP")
    today = utcnow().date()

    response = await quiet_client.get(
        "/consent/export.csv",
        params={"phone_number": "(415) 555-0101", "date_from": str(today), "date_to": str(today)},
    )
    rows = list(csv.reader(io.StringIO(await response.text())))

    assert response.status == 200
    assert response.content_type == "text/csv"
    assert response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="consent-ledger-{ALICE[1:]}-{today}-{today}.csv"'
    )
    assert response.headers["Content-Security-Policy"] == CSP
    assert rows[0] == list(LEDGER_COLUMNS)
    assert [(r[2], r[4], r[5], r[6], r[7]) for r in rows[1:]] == [
        (ALICE, "opt_out", "keyword", "stop", "STOP")
    ]

    everyone = await quiet_client.get("/consent/export.csv")
    all_rows = list(csv.reader(io.StringIO(await everyone.text())))
    assert [r[2] for r in all_rows[1:]] == [ALICE, BOB]
    assert all_rows[2][7] == "'=STOP"  # a formula is never run by a spreadsheet
    tomorrow = today + dt.timedelta(days=1)
    later = await quiet_client.get("/consent/export.csv", params={"date_from": str(tomorrow)})
    assert list(csv.reader(io.StringIO(await later.text()))) == [list(LEDGER_COLUMNS)]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"date_from": "2025-13-01"},
            "date_from: '2025-13-01' is not a date in the form YYYY-MM-DD",
        ),
        ({"date_to": "yesterday"}, "date_to: 'yesterday' is not a date"),
        ({"date_from": "20250101"}, "date_from:"),
        ({"date_from": "2025-02-01", "date_to": "2025-01-31"}, "date_to: is before date_from"),
        ({"phone_number": "not a phone"}, "phone_number:"),
    ],
)
async def test_a_bad_export_filter_is_a_400_page_naming_the_field(quiet_client, query, problem):
    response = await quiet_client.get("/consent/export.csv", params=query)
    text = await response.text()

    assert response.status == 400
    assert response.content_type == "text/html"
    assert str(escape(problem)) in text
    for value in query.values():
        assert f'value="{escape(value)}"' in text


async def test_import_reports_each_row_with_its_line_number(quiet_client, settings, sessionmaker):
    await text_in(quiet_client, settings, BOB, "STOP")
    token = await form_token(quiet_client, "/consent")
    listing = (
        f"phone_number,reason\n{ALICE},asked by email\nnot a number,\n{BOB},\n(415) 555-0103,\n"
    )
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", listing.encode(), filename="optouts.csv", content_type="text/csv")
    form.add_field("text", "")
    form.add_field("reason", "")

    response = await post_form(quiet_client, "/consent/import", form)
    text = await response.text()

    assert response.status == 200
    rows = re.findall(
        r'<tr class="import-(\w+)" id="import-line-(\d+)">\s*<td>\d+</td>\s*'
        r'<td class="ledger-text">([^<]*)</td>',
        text,
    )
    assert rows == [
        ("added", "2", ALICE),
        ("invalid", "3", "not a number"),
        ("already", "4", BOB),
        ("added", "5", "(415) 555-0103"),
    ]
    assert "<strong>2</strong> added" in text
    assert "<strong>1</strong> invalid" in text
    assert sorted(await opt_outs(sessionmaker)) == [(ALICE, ""), (BOB, ""), ("+14155550103", "")]
    events = await consent_events(sessionmaker)
    assert events[1:] == [
        (ALICE, ConsentKind.OPT_OUT, ConsentMethod.IMPORT, "asked by email"),
        ("+14155550103", ConsentKind.OPT_OUT, ConsentMethod.IMPORT, "imported opt-out list"),
    ]


async def test_import_accepts_a_pasted_list_with_a_reason(quiet_client, sessionmaker):
    token = await form_token(quiet_client, "/consent")
    data = {"csrf_token": token, "text": f"{ALICE}\n{BOB}\n", "reason": "old CRM export"}

    response = await post_form(quiet_client, "/consent/import", data)

    assert response.status == 200
    assert "<strong>2</strong> added" in await response.text()
    assert [reason for *_, reason in await consent_events(sessionmaker)] == ["old CRM export"] * 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("phone\xff\n+14155550101\n".encode("latin-1"), "file: is not UTF-8 text"),
        (b"x" * (MAX_BYTES + 1), "file: larger than 5 MB"),
        (b"", "file: choose a CSV file or paste the numbers"),
        (b"name,email\nAda,ada@example.com\n", "csv: no phone column"),
    ],
)
async def test_a_bad_upload_is_a_400_page_with_the_reason(
    quiet_client, sessionmaker, content, problem
):
    token = await form_token(quiet_client, "/consent")
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", io.BytesIO(content), filename="list.csv", content_type="text/csv")

    response = await post_form(quiet_client, "/consent/import", form)

    assert response.status == 400
    assert str(escape(problem)) in await response.text()
    assert await opt_outs(sessionmaker) == []


# -- settings ----------------------------------------------------------------------------


async def test_settings_page_shows_the_values_and_the_webhook_urls(quiet_client, settings):
    text = await page(quiet_client, "/settings/compliance")
    host = f"http://{quiet_client.server.host}:{quiet_client.server.port}"

    assert f"{host}/webhooks/clicksend/{settings.webhook_token}/inbound" in text
    assert f"{host}/webhooks/clicksend/{settings.webhook_token}/receipts" in text
    assert 'value="our team"' in text
    assert '<option value="global" selected>' in text
    assert (
        'id="confirmation_enabled" name="confirmation_enabled" type="checkbox" value="on" checked'
        in text
    )
    assert 'id="spanish" name="spanish" type="checkbox" value="on" aria' in text  # unticked
    stop_words = re.search(r'<textarea id="opt_out_keywords"[^>]*>([^<]*)</textarea>', text)
    assert stop_words is not None
    assert "stop" in stop_words.group(1).splitlines()
    assert "SMSDESK_WEBHOOK_TOKEN" in text  # the test settings pin the token


async def test_settings_save_applies_to_the_next_message(quiet_client, settings, sessionmaker):
    token = await form_token(quiet_client, "/settings/compliance")
    form = {
        "csrf_token": token,
        "business_name": "Acme Dental",
        "scope": "per_number",
        "confirmation_text": "{business}: you're unsubscribed. Reply START to rejoin.",
        "opt_in_text": "{business}: welcome back. Reply STOP to opt out.",
        "help_text": "{business} help: call 555-0100. Reply STOP to opt out.",
        "help_cooldown_minutes": "5",
        "spanish": "on",
        "opt_out_keywords": "STOP\nHalt\n\n",
        "opt_in_keywords": "start",
        "help_keywords": "help",
        "filler_words": "please",
        "opt_out_phrases": "leave me alone",
    }

    response = await post_form(quiet_client, "/settings/compliance", form)

    assert response.status == 303
    assert response.headers["Location"] == "/settings/compliance?saved=1"
    async with sessionmaker() as session:
        saved = await compliance_settings.load(session)
    assert (saved.business_name, saved.scope, saved.confirmation_enabled, saved.spanish) == (
        "Acme Dental",
        "per_number",
        False,
        True,
    )
    assert saved.opt_out_keywords == ("halt", "stop")
    assert saved.help_cooldown_minutes == 5
    assert "Compliance settings saved" in await page(quiet_client, "/settings/compliance?saved=1")

    cid = await text_in(quiet_client, settings, ALICE, "halt please")
    assert await outbound(sessionmaker, cid) == []  # confirmation off
    assert len(await opt_outs(sessionmaker)) == 1


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        (
            "help_text",
            "Call us on 555-0100 <anytime>",
            "HELP reply: must tell people how to opt out",
        ),
        ("business_name", "", "Business name: must be 1 to 60 characters"),
        ("help_cooldown_minutes", "soon", "HELP cooldown: &#39;soon&#39; is not a whole number"),
        ("scope", "everywhere", "Opt-out scope: must be one of: global, per_number"),
        ("filler_words", "please\nstop", "Filler words: filler words may not also be keywords"),
        ("opt_in_keywords", "start\nstop", "Opt-in keywords: &#39;stop&#39; is also an opt-out"),
    ],
)
async def test_invalid_settings_are_a_400_naming_the_field_and_keep_the_input(
    quiet_client, sessionmaker, field, value, problem
):
    text = await page(quiet_client, "/settings/compliance")
    token = await form_token(quiet_client, "/settings/compliance")
    form = {"csrf_token": token, "business_name": "Typed <Name>", "spanish": "on"}
    for name in ("confirmation_text", "opt_in_text", "help_text", "opt_out_keywords"):
        found = re.search(rf'<textarea id="{name}"[^>]*>([^<]*)</textarea>', text)
        form[name] = html.unescape(found.group(1))
    form |= {"scope": "global", "help_cooldown_minutes": "10", field: value}

    response = await post_form(quiet_client, "/settings/compliance", form)
    text = await response.text()

    assert response.status == 400
    assert f'<p class="field-error" id="{field}-error">{problem}' in text
    assert 'aria-invalid="true"' in text
    if field != "business_name":
        assert 'value="Typed &lt;Name&gt;"' in text
    assert 'id="spanish" name="spanish" type="checkbox" value="on" checked' in text
    async with sessionmaker() as session:
        assert await compliance_settings.load(session) == ComplianceSettings()


# -- every page ------------------------------------------------------------------------


async def test_every_new_page_has_the_nav_and_the_content_security_policy(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE)
    token = await form_token(quiet_client, "/consent")
    responses = [
        await quiet_client.get(f"/conversations/{cid}"),
        await quiet_client.get("/consent"),
        await quiet_client.get(f"/contacts/{ALICE}/consent"),
        await quiet_client.get("/settings/compliance"),
        await quiet_client.get("/consent/export.csv?date_from=bad"),
        await post_form(quiet_client, "/consent/import", {"csrf_token": token, "text": ""}),
        await post_form(quiet_client, "/settings/compliance", {"csrf_token": token}),
        await post_form(quiet_client, f"/conversations/{cid}/opt-out", {"csrf_token": token}),
        await post_form(quiet_client, f"/conversations/{cid}/opt-out/confirm", {}),
    ]

    assert [r.status for r in responses] == [200, 200, 200, 200, 400, 400, 400, 400, 403]
    for response in responses:
        text = await response.text()
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.content_type == "text/html"
        assert "<style" not in text
        assert "<script>" not in text
        assert " style=" not in text
        assert re.search(r"\son[a-z]+=", text) is None  # no inline event handlers
        for link in ('href="/">Inbox<', 'href="/consent">Consent<', 'href="/settings/compliance">'):
            assert link in text


async def test_the_thread_page_costs_a_fixed_number_of_statements(
    quiet_client, settings, sessionmaker
):
    cid = await text_in(quiet_client, settings, ALICE, POSSIBLE, "STOP please", "HELP")
    engine = services(quiet_client).engine.sync_engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        await page(quiet_client, f"/conversations/{cid}")
    finally:
        event.remove(engine, "before_cursor_execute", count)

    async with sessionmaker() as session:
        events = await session.scalar(
            select(func.count())
            .select_from(ConversationEvent)
            .where(ConversationEvent.conversation_id == cid)
        )
    assert events == 3
    # thread + messages + events + gate + opt-out date + mark read
    assert len(statements) == 6


async def test_webhook_urls_behind_a_tls_proxy_are_the_public_https_ones(quiet_client, settings):
    """ClickSend must be given the public https:// URL, not the proxy's plain hop to us."""
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "desk.example.com"}
    text = await (await quiet_client.get("/settings/compliance", headers=proxied)).text()
    public = f"https://desk.example.com/webhooks/clicksend/{settings.webhook_token}"
    assert f"{public}/inbound" in text and f"{public}/receipts" in text
    forged = {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a b/<x>"}
    text = await (await quiet_client.get("/settings/compliance", headers=forged)).text()
    host = f"http://{quiet_client.server.host}:{quiet_client.server.port}"
    assert f"{host}/webhooks/clicksend/{settings.webhook_token}/inbound" in text
