"""The workbench pages: rule list, rule form with rows, one-click changes, the
try-a-message box and the templates pages; CSRF on every POST, input kept on errors."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import func, select

from bot import bot_settings
from bot.models import Message, MessageTemplate, Rule
from inbox.csrf import COOKIE

DEMO_FROM = "+14155550101"


async def token(client, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
    assert found is not None
    return found.group(1)


async def post(client, path: str, fields: dict, *, token_from: str | None = None):
    csrf = await token(client, token_from or path)
    return await client.post(path, data={"csrf_token": csrf, **fields}, allow_redirects=False)


RULE_FORM = {
    "name": "PRICE",
    "enabled": "on",
    "match_type": "first_word",
    "terms": "price\nprices",
    "numbers": "*",
    "priority": "",
    "cooldown_s": "300",
    "condition-0-type": "business_hours",
    "condition-0-business_hours-inside": "true",
    "condition-0-has_tag-tag": "ignored: not the chosen type",
    "action-0-type": "reply",
    "action-0-reply-template_id": "",
    "action-0-reply-body": "Hi {{ contact.first_name | default('there', true) }} <3",
    "action-3-type": "forward_url",
    "action-3-forward_url-url": "https://example.com/hook",
    "action-3-forward_url-method": "json",
    "action-4-type": "",
    "action-5-type": "close",
    "action-5-remove": "1",
}


async def stored_rules(sessionmaker) -> list[Rule]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(Rule).order_by(Rule.priority, Rule.id)))


async def test_a_rule_is_created_from_form_rows(quiet_client, sessionmaker):
    response = await post(quiet_client, "/rules/new", RULE_FORM)
    assert response.status == 303
    (rule,) = await stored_rules(sessionmaker)
    assert response.headers["Location"] == f"/rules/{rule.id}?saved=1"
    assert (rule.name, rule.match_type, rule.terms, rule.numbers) == (
        "PRICE",
        "first_word",
        ["price", "prices"],
        [],
    )
    assert rule.conditions == [{"type": "business_hours", "inside": True}]
    assert rule.actions == [
        {"type": "reply", "body": "Hi {{ contact.first_name | default('there', true) }} <3"},
        {"type": "forward_url", "url": "https://example.com/hook", "method": "json"},
    ]
    page = await (await quiet_client.get(response.headers["Location"])).text()
    assert "Rule saved." in page
    assert "&lt;3" in page and "<3" not in page.replace("&lt;3", "")


async def test_a_refused_form_keeps_the_input_and_marks_the_row(quiet_client, sessionmaker):
    fields = {**RULE_FORM, "name": "", "action-3-forward_url-url": "javascript:alert(1)"}
    response = await post(quiet_client, "/rules/new", fields, token_from="/rules/new")
    assert response.status == 400
    page = await response.text()
    assert "Nothing was saved" in page
    assert "must be 1 to 100 characters" in page
    assert "url: must be an http(s) URL" in page
    assert 'value="javascript:alert(1)"' in page
    assert str(escape(RULE_FORM["action-0-reply-body"])) in page
    assert await stored_rules(sessionmaker) == []


async def test_add_a_row_without_javascript_saves_nothing(quiet_client, sessionmaker):
    fields = {**RULE_FORM, "add_row": "condition"}
    response = await post(quiet_client, "/rules/new", fields)
    assert response.status == 200
    page = await response.text()
    assert 'name="condition-1-type"' in page
    assert await stored_rules(sessionmaker) == []


async def test_every_rule_post_needs_the_csrf_token(quiet_client, sessionmaker):
    await post(quiet_client, "/rules/new", RULE_FORM)
    (rule,) = await stored_rules(sessionmaker)
    for path in (
        "/rules/new",
        f"/rules/{rule.id}",
        f"/rules/{rule.id}/enabled",
        f"/rules/{rule.id}/move",
        f"/rules/{rule.id}/delete",
        "/rules/try",
        "/templates/new",
        "/settings/bot",
    ):
        response = await quiet_client.post(path, data={"csrf_token": "x" * 43})
        assert response.status == 403, path
    assert len(await stored_rules(sessionmaker)) == 1


async def test_the_list_shows_order_hits_conflicts_and_one_click_changes(
    quiet_client, sessionmaker
):
    unconditional = {**RULE_FORM, "condition-0-type": ""}
    await post(quiet_client, "/rules/new", {**unconditional, "name": "First"})
    await post(quiet_client, "/rules/new", {**unconditional, "name": "<b>Second</b>"})
    first, second = await stored_rules(sessionmaker)
    async with sessionmaker.begin() as session:
        (await session.get(Rule, first.id)).hit_count = 7
    page = await (await quiet_client.get("/rules")).text()
    assert re.findall(r'data-rule="([^"]+)"', page) == ["First", "&lt;b&gt;Second&lt;/b&gt;"]
    assert 'class="number rule-hits">7<' in page
    assert "both match first word &#39;price&#39;" in page
    version = await _version(sessionmaker)

    response = await post(
        quiet_client, f"/rules/{second.id}/move", {"direction": "up"}, token_from="/rules"
    )
    assert (response.status, response.headers["Location"]) == (303, f"/rules#rule-{second.id}")
    assert [r.name for r in await stored_rules(sessionmaker)] == ["<b>Second</b>", "First"]
    response = await post(
        quiet_client, f"/rules/{second.id}/enabled", {"enabled": "0"}, token_from="/rules"
    )
    assert response.status == 303
    assert [r.enabled for r in await stored_rules(sessionmaker)] == [False, True]
    response = await post(quiet_client, f"/rules/{first.id}/delete", {}, token_from="/rules")
    assert response.headers["Location"] == "/rules?deleted=1"
    assert [r.name for r in await stored_rules(sessionmaker)] == ["<b>Second</b>"]
    assert await _version(sessionmaker) == version + 3


async def _version(sessionmaker) -> int:
    async with sessionmaker() as session:
        return await bot_settings.rules_version(session)


async def test_editing_shows_the_stored_rule_and_saves_changes(quiet_client, sessionmaker):
    await post(quiet_client, "/rules/new", RULE_FORM)
    (rule,) = await stored_rules(sessionmaker)
    page = await (await quiet_client.get(f"/rules/{rule.id}")).text()
    assert 'value="https://example.com/hook"' in page
    assert '<option value="business_hours" selected>' in page
    fields = {**RULE_FORM, "name": "PRICE 2", "continue_matching": "on", "cooldown_s": "60"}
    response = await post(quiet_client, f"/rules/{rule.id}", fields)
    assert response.status == 303
    (rule,) = await stored_rules(sessionmaker)
    assert (rule.name, rule.continue_matching, rule.cooldown_s) == ("PRICE 2", True, 60)
    assert (await quiet_client.get("/rules/999")).status == 404
    response = await post(quiet_client, "/rules/999/delete", {}, token_from="/rules")
    assert response.status == 404


async def test_trying_a_message_shows_the_rendered_reply_and_sends_nothing(
    quiet_client, sessionmaker
):
    fields = {**RULE_FORM}
    del fields["condition-0-type"]
    await post(quiet_client, "/rules/new", fields)
    response = await post(
        quiet_client, "/rules/try", {"body": "Price?", "from": DEMO_FROM}, token_from="/rules"
    )
    assert response.status == 200
    page = await response.text()
    assert "would act" in page
    assert "Hi there &lt;3" in page
    assert 'value="' + DEMO_FROM + '"' in page
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
    response = await post(
        quiet_client, "/rules/try", {"body": "hello", "from": DEMO_FROM}, token_from="/rules"
    )
    assert "No rule matches this message." in await response.text()
    response = await post(
        quiet_client, "/rules/try", {"body": "price", "from": "nope"}, token_from="/rules"
    )
    assert response.status == 400
    assert "&#39;nope&#39; is not a phone number" in await response.text()


async def test_templates_pages_validate_preview_and_refuse_deleting_one_in_use(
    quiet_client, sessionmaker
):
    response = await post(
        quiet_client, "/templates/new", {"template_name": "Hi", "body": "Hi {{ contact.first_name"}
    )
    assert response.status == 400
    page = await response.text()
    assert "body: line 1, column" in page and "Hi {{ contact.first_name</textarea>" in page

    response = await post(
        quiet_client,
        "/templates/new",
        {"template_name": "Hi", "body": "Hi (First Name) ’", "preview": "1"},
    )
    page = await response.text()
    assert response.status == 200
    assert "Hi Ava ’" in page and "1 SMS part · 8 UCS-2 units · Unicode (UCS-2)" in page
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(MessageTemplate)) == 0

    response = await post(
        quiet_client, "/templates/new", {"template_name": "Hi", "body": "Hi {{ contact.nope }}"}
    )
    assert response.status == 303
    page = await (await quiet_client.get(response.headers["Location"])).text()
    assert "unknown variable &#39;contact.nope&#39;" in page
    async with sessionmaker() as session:
        template_id = await session.scalar(select(MessageTemplate.id))
    rule = {**RULE_FORM, "action-0-reply-template_id": str(template_id), "action-0-reply-body": ""}
    await post(quiet_client, "/rules/new", rule)
    response = await post(
        quiet_client, f"/templates/{template_id}/delete", {}, token_from=f"/templates/{template_id}"
    )
    assert response.status == 400
    assert "is used by rule &#39;PRICE&#39;" in await response.text()
    listing = await (await quiet_client.get("/rules")).text()
    assert "reply with template &#39;Hi&#39;" in listing


async def test_a_too_deeply_nested_template_is_a_form_error(quiet_client, sessionmaker):
    deep = "{{ " + "[" * 790 + "]" * 790 + " }}"
    for path, fields in (
        ("/templates/new", {"template_name": "Deep", "body": deep}),
        ("/rules/new", {**RULE_FORM, "action-0-reply-body": deep}),
    ):
        response = await post(quiet_client, path, fields)
        assert response.status == 400, path
        page = await response.text()
        assert "the template nests brackets or operators too deeply" in page
        assert "[" * 790 in page
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(MessageTemplate)) == 0
    assert await stored_rules(sessionmaker) == []


async def test_the_pages_are_linked_from_the_navigation_and_keep_the_csp(quiet_client):
    response = await quiet_client.get("/")
    page = await response.text()
    assert 'href="/rules"' in page and 'href="/templates"' in page
    for path in ("/rules", "/rules/new", "/templates", "/templates/new"):
        response = await quiet_client.get(path)
        assert response.status == 200
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        assert "<script>" not in await response.text()
        assert COOKIE in response.cookies


async def test_bot_settings_form_saves_business_hours_and_refuses_bad_input(
    quiet_client, sessionmaker
):
    page = await (await quiet_client.get("/settings/bot")).text()
    assert 'id="mon" name="mon" type="text" value="09:00-17:00"' in page
    fields = {
        "business_name": "Acme",
        "reply_cap": "3",
        "timezone": "Australia/Sydney",
        "mon": "09:00-12:00, 13:00-17:00",
        "sat": "10:00 - 14:00",
        "holidays": "2026-12-25\n2026-12-26",
    }
    response = await post(quiet_client, "/settings/bot", fields)
    assert (response.status, response.headers["Location"]) == (303, "/settings/bot?saved=1")
    async with sessionmaker() as session:
        saved = await bot_settings.load(session)
    assert (saved.business_name, saved.reply_cap_per_hour) == ("Acme", 3)
    assert saved.business_hours.timezone == "Australia/Sydney"
    page = await (await quiet_client.get("/settings/bot?saved=1")).text()
    assert 'value="09:00-12:00, 13:00-17:00"' in page and "Bot settings saved." in page

    for bad, field, message in (
        ({"tue": "nine to five"}, "tue", "Tuesday: &#39;nine to five&#39; is not a time range"),
        ({"timezone": "Mars/Olympus"}, "timezone", "timezone"),
        ({"reply_cap": "0"}, "reply_cap", "must be between 1 and 100"),
        ({"holidays": "Christmas"}, "holidays", "holidays"),
    ):
        response = await post(quiet_client, "/settings/bot", {**fields, **bad})
        assert response.status == 400, bad
        page = await response.text()
        assert f'<p class="field-error" id="{field}-error">' in page, bad
        assert message in page, bad
        assert f'value="{bad[field]}"' in page or bad[field] in page
    async with sessionmaker() as session:
        assert (await bot_settings.load(session)).reply_cap_per_hour == 3
