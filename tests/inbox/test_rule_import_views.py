"""The rules page's "Import from ClickSend" form: CSRF, the report, readable errors."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.models import MessageTemplate, Role, Rule
from inbox.auth import create_user
from inbox.keys import SERVICES
from tests.inbox.test_rules_views import post

IMPORT = "/rules/import-clicksend"


def seed_account(client) -> None:
    state = client.app[SERVICES].simulator
    state.add_sms_template("Hours <b>", "Open 9 to 5 <script>alert(1)</script>")
    rules = [
        ("PRICE", "AUTO_REPLY", "", "From $5 <img src=x>", 1),
        ("TELL ME", "EMAIL_USER", "", None, 1),
        ("BROKEN <i>", "AUTO_REPLY", "", None, 1),
    ]
    for name, action, address, body, enabled in rules:
        state.add_inbound_rule(
            {
                "dedicated_number": "*",
                "rule_name": name,
                "message_search_type": 2,
                "message_search_term": name.split()[0].lower(),
                "action": action,
                "action_address": address,
                "body": body,
                "enabled": enabled,
            }
        )


async def imported_rules(sessionmaker) -> list[tuple[str, bool, list]]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Rule).order_by(Rule.priority, Rule.id))
        return [(rule.name, rule.enabled, rule.actions) for rule in rows]


async def test_the_rules_page_offers_the_import_and_says_rules_arrive_disabled(quiet_client):
    page = await (await quiet_client.get("/rules")).text()
    form = re.search(r'<form method="post" action="/rules/import-clicksend">.*?</form>', page, re.S)
    assert form is not None
    assert 'name="csrf_token"' in form.group(0)
    assert 'name="enable" type="checkbox"' in form.group(0)
    assert "Imported rules arrive <strong>disabled</strong>" in page
    assert "customers get two answers" in page


async def test_the_import_shows_a_report_escaped_and_leaves_rules_disabled(
    quiet_client, sessionmaker
):
    async with sessionmaker.begin() as session:
        await create_user(session, "owner@example.com", "correct horse battery", Role.ADMIN)
    seed_account(quiet_client)
    response = await post(quiet_client, IMPORT, {}, token_from="/rules")
    assert response.status == 200
    page = await response.text()
    assert "<strong>3</strong> imported" in page
    assert "<strong>1</strong> refused" in page
    assert 'id="import-disabled-note"' in page
    assert "BROKEN &lt;i&gt;" in page and "<i>" not in page
    assert "Hours &lt;b&gt;" in page and "<script>" not in page
    assert "body: is required for AUTO_REPLY: the reply text" in page
    rules = await imported_rules(sessionmaker)
    assert [(name, enabled) for name, enabled, _ in rules] == [
        ("PRICE", False),
        ("TELL ME", False),
    ]
    assert rules[1][2] == [{"type": "forward_email", "to": "owner@example.com"}]
    async with sessionmaker() as session:
        template = await session.scalar(select(MessageTemplate))
    assert f'href="/templates/{template.id}"' in page

    again = await post(quiet_client, IMPORT, {"enable": "on"}, token_from="/rules")
    page = await again.text()
    assert "<strong>0</strong> imported" in page and "<strong>3</strong> skipped" in page
    assert len(await imported_rules(sessionmaker)) == 2


async def test_enable_enables_the_rules_clicksend_had_enabled(quiet_client, sessionmaker):
    seed_account(quiet_client)
    response = await post(quiet_client, IMPORT, {"enable": "on"}, token_from="/rules")
    page = await response.text()
    assert response.status == 200
    assert 'id="import-disabled-note"' not in page
    # No admin here to stand for ClickSend's account user: EMAIL_USER is refused.
    assert "action: EMAIL_USER emails ClickSend&#39;s account user" in page
    assert [(n, e) for n, e, _ in await imported_rules(sessionmaker)] == [("PRICE", True)]


async def test_without_the_csrf_token_nothing_is_imported(quiet_client, sessionmaker):
    seed_account(quiet_client)
    response = await quiet_client.post(IMPORT, data={"enable": "on"}, allow_redirects=False)
    assert response.status == 403
    assert await imported_rules(sessionmaker) == []


async def test_clicksend_refusing_is_shown_on_the_rules_page(quiet_client, sessionmaker):
    seed_account(quiet_client)
    quiet_client.app[SERVICES].simulator.config.api_key = "rotated-at-clicksend"
    response = await post(quiet_client, IMPORT, {"enable": "on"}, token_from="/rules")
    assert response.status == 502
    page = await response.text()
    error = re.search(r'<p class="form-error" role="alert" id="import-error">([^<]*)</p>', page)
    assert error is not None
    assert error.group(1).startswith("ClickSend refused the account&#39;s credentials")
    assert 'id="import-enable" name="enable" type="checkbox" value="on" checked' in page
    assert await imported_rules(sessionmaker) == []
