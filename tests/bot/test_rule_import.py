"""Importing a ClickSend account's inbound rules and SMS templates, read by the real
client from the simulator (seeded through its documented POST endpoints)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from bot import rule_import
from bot.bot_settings import rules_version
from bot.models import MessageTemplate, Rule
from bot.providers.base import InboundRule, Page, SmsTemplate, TemporaryProviderError
from bot.providers.clicksend import ClickSendClient
from bot.providers.simulator import SimulatorConfig, create_simulator_app
from bot.rule_import import ImportFailed, ImportReport, ItemResult
from tests.bot.rule_helpers import add_rule, add_template

USER, KEY = "demo", "secret"
OURS = "+61298441484"


class Account:
    """A simulated ClickSend account: seed it over HTTP, read it with the real client."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, state: Any) -> None:
        self.base_url, self.http, self.state = base_url, http, state
        self.client = ClickSendClient(http, base_url=base_url, username=USER, api_key=KEY)

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(self.base_url + path, json=payload, auth=(USER, KEY))
        assert response.status_code == 200, response.text
        return response.json()["data"]

    async def rule(self, name: str, action: str = "AUTO_REPLY", **fields: Any) -> int:
        payload = {
            "dedicated_number": OURS,
            "rule_name": name,
            "message_search_type": 1,
            "message_search_term": name,
            "action": action,
            "action_address": "",
            "enabled": 1,
            **fields,
        }
        return (await self.post("/automations/sms/inbound", payload))["inbound_rule_id"]

    async def template(self, name: str, body: str) -> int:
        payload = {"template_name": name, "body": body}
        return (await self.post("/sms/templates", payload))["template_id"]


@pytest.fixture
async def account(aiohttp_server):
    sub, state = create_simulator_app(SimulatorConfig(username=USER, api_key=KEY))
    root = web.Application()
    root.add_subapp("/v3", sub)
    server = await aiohttp_server(root)
    async with httpx.AsyncClient() as http:
        yield Account(str(server.make_url("/v3")), http, state)


async def run_import(
    sessionmaker,
    provider,
    *,
    enable: bool = False,
    user_email: str | None = "me@example.com",
    account: str = "",
) -> ImportReport:
    fetched = await rule_import.fetch_account(provider)
    async with sessionmaker.begin() as session:
        return await rule_import.import_fetched(
            session,
            fetched,
            enable=enable,
            user_email=user_email,
            default_region="AU",
            account=account,
        )


async def stored_rules(sessionmaker) -> list[tuple]:
    async with sessionmaker() as session:
        rows = await session.scalars(select(Rule).order_by(Rule.priority, Rule.id))
        return [
            (r.name, r.priority, r.enabled, r.match_type, r.terms, r.numbers, r.actions)
            for r in rows
        ]


async def stored_templates(sessionmaker) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(MessageTemplate.name, MessageTemplate.body).order_by(MessageTemplate.id)
        )
        return [tuple(row) for row in rows]


def statuses(items: tuple[ItemResult, ...]) -> list[tuple[str, str]]:
    return [(item.name, item.status) for item in items]


async def test_rules_and_templates_arrive_in_clicksend_order_after_ours_and_disabled(
    account, sessionmaker
):
    await add_rule(sessionmaker, "OURS", "only_word", ["hi"], priority=45)
    await account.template("Welcome", "Hi (First Name), thanks for texting us.")
    await account.rule("PRICE", body="Our prices: see example.com/prices")
    await account.rule(
        "HOOK", "URL", message_search_type=2, action_address="https://example.com/in", enabled=0
    )
    await account.rule(
        "EVERYONE", "CREATE_CONTACT", message_search_type=0, message_search_term=None,
        dedicated_number="*", action_address="VIP",
    )  # fmt: skip

    report = await run_import(sessionmaker, account.client)

    assert statuses(report.templates) == [("Welcome", "imported")]
    assert statuses(report.rules) == [
        ("PRICE", "imported"), ("HOOK", "imported"), ("EVERYONE", "imported")
    ]  # fmt: skip
    assert [item.clicksend_id for item in report.rules] == [1, 2, 3]
    assert report.rules[0].message == f"imported as rule {report.rules[0].id}, disabled"
    assert (report.count("imported"), report.count("skipped"), report.count("refused")) == (4, 0, 0)
    assert await stored_rules(sessionmaker) == [
        ("OURS", 45, True, "only_word", ["hi"], [], []),
        ("PRICE", 55, False, "starts_with", ["PRICE"], [OURS],
         [{"type": "reply", "body": "Our prices: see example.com/prices"}]),
        ("HOOK", 65, False, "contains", ["HOOK"], [OURS],
         [{"type": "forward_url", "url": "https://example.com/in", "method": "post"}]),
        ("EVERYONE", 75, False, "any", [], [], [{"type": "add_to_list", "list": "VIP"}]),
    ]  # fmt: skip
    assert await stored_templates(sessionmaker) == [
        ("Welcome", "Hi (First Name), thanks for texting us.")
    ]
    ids = {name: item_id for name, _status, item_id in _ids(report)}
    async with sessionmaker() as session:
        welcome = await session.scalar(select(MessageTemplate.id))
    assert ids["Welcome"] == welcome


def _ids(report: ImportReport) -> list[tuple[str, str, int | None]]:
    return [(i.name, i.status, i.id) for i in (*report.templates, *report.rules)]


async def test_asked_to_enable_rules_enabled_at_clicksend_are_enabled_and_disabled_stay_so(
    account, sessionmaker
):
    await account.rule("ON", body="yes")
    await account.rule("OFF", body="no", enabled=0)
    report = await run_import(sessionmaker, account.client, enable=True)
    assert report.enabled is True
    assert [(name, enabled) for name, _p, enabled, *_ in await stored_rules(sessionmaker)] == [
        ("ON", True),
        ("OFF", False),
    ]
    assert [item.message.rsplit(", ", 1)[1] for item in report.rules] == ["enabled", "disabled"]


async def test_running_the_import_again_skips_everything_and_duplicates_nothing(
    account, sessionmaker
):
    await account.template("Hours", "We are open 9 to 5.")
    await account.rule("HOURS", body="We are open 9 to 5.")
    first = await run_import(sessionmaker, account.client)
    rules_before, templates_before = (
        await stored_rules(sessionmaker),
        await stored_templates(sessionmaker),
    )
    await account.rule("NEW", body="Added at ClickSend since")

    again = await run_import(sessionmaker, account.client)

    assert statuses(again.templates) == [("Hours", "skipped")]
    assert statuses(again.rules) == [("HOURS", "skipped"), ("NEW", "imported")]
    assert again.templates[0].id == first.templates[0].id
    assert again.rules[0].id == first.rules[0].id
    assert again.rules[0].message == f"imported before, as rule {first.rules[0].id}"
    assert await stored_templates(sessionmaker) == templates_before
    rules_after = await stored_rules(sessionmaker)
    assert rules_after[:-1] == rules_before
    assert rules_after[-1][:2] == ("NEW", rules_before[-1][1] + 10)


async def test_what_was_imported_is_remembered_per_clicksend_account(account, sessionmaker):
    await account.rule("HOURS", body="We are open 9 to 5.")
    first = await run_import(sessionmaker, account.client, account="shop-one")
    same = await run_import(sessionmaker, account.client, account="shop-one")
    # Another account numbers its rules alike: its rule 1 is not shop-one's rule 1.
    other = await run_import(sessionmaker, account.client, account="shop-two")
    assert statuses(first.rules) == [("HOURS", "imported")]
    assert statuses(same.rules) == [("HOURS", "skipped")]
    assert statuses(other.rules) == [("HOURS", "imported")]
    assert other.rules[0].id != first.rules[0].id


async def test_a_rule_deleted_here_after_an_import_is_not_brought_back(account, sessionmaker):
    await account.rule("GONE", body="bye")
    first = await run_import(sessionmaker, account.client)
    async with sessionmaker.begin() as session:
        await session.delete(await session.get(Rule, first.rules[0].id))
    again = await run_import(sessionmaker, account.client)
    assert statuses(again.rules) == [("GONE", "skipped")]
    assert again.rules[0].message == (
        f"imported before, as rule {first.rules[0].id}, and deleted here since"
    )
    assert again.rules[0].id is None
    assert await stored_rules(sessionmaker) == []


async def test_rules_we_cannot_map_are_refused_with_the_reason_and_the_rest_imported(
    account, sessionmaker
):
    await account.rule("NOBODY", body=None)
    await account.rule("MAIL", "EMAIL_FIXED", action_address="not an address")
    await account.rule("FWD", "SMS", action_address="12")
    await account.rule("FINE", body="ok")
    await account.template("Broken", "Hi {{ contact.first_name")
    await account.template("Good", "Hello")

    report = await run_import(sessionmaker, account.client)

    assert [(i.name, i.status, i.message) for i in report.rules[:3]] == [
        ("NOBODY", "refused", "body: is required for AUTO_REPLY: the reply text"),
        ("MAIL", "refused", "action_address: 'not an address' is not an email address"),
        ("FWD", "refused", report.rules[2].message),
    ]
    assert report.rules[2].message.startswith("action_address: ")
    assert "12" in report.rules[2].message
    assert statuses(report.rules[3:]) == [("FINE", "imported")]
    assert [i.status for i in report.templates] == ["refused", "imported"]
    assert report.templates[0].message.startswith("body: line 1, column ")
    assert [name for name, *_ in await stored_rules(sessionmaker)] == ["FINE"]
    assert await stored_templates(sessionmaker) == [("Good", "Hello")]
    assert (report.count("refused"), report.count("imported")) == (4, 2)


async def test_email_user_goes_to_the_given_user_or_is_refused_without_one(account, sessionmaker):
    await account.rule("TELL ME", "EMAIL_USER")
    refused = await run_import(sessionmaker, account.client, user_email=None)
    assert refused.rules[0].status == "refused"
    assert refused.rules[0].message.startswith("action: EMAIL_USER emails ClickSend's account user")
    imported = await run_import(sessionmaker, account.client, user_email="boss@example.com")
    assert statuses(imported.rules) == [("TELL ME", "imported")]
    [(*_, actions)] = await stored_rules(sessionmaker)
    assert actions == [{"type": "forward_email", "to": "boss@example.com"}]


async def test_a_template_name_taken_by_another_body_gets_the_clicksend_suffix(
    account, sessionmaker
):
    await add_template(sessionmaker, "Welcome", "Our own welcome")
    await add_template(sessionmaker, "Same", "Same body")
    await add_template(sessionmaker, "Twice", "ours")
    await add_template(sessionmaker, "Twice (ClickSend)", "ours too")
    await account.template("Welcome", "ClickSend's welcome")
    await account.template("Same", "Same body")
    await account.template("Twice", "theirs")

    report = await run_import(sessionmaker, account.client)

    assert [(i.name, i.status, i.message) for i in report.templates] == [
        ("Welcome", "imported", "imported as 'Welcome (ClickSend)' (the name was taken)"),
        ("Same", "skipped", "the same template is already here, as template 2 'Same'"),
        ("Twice", "imported", "imported as 'Twice (ClickSend 2)' (the name was taken)"),
    ]
    assert (await stored_templates(sessionmaker))[4:] == [
        ("Welcome (ClickSend)", "ClickSend's welcome"),
        ("Twice (ClickSend 2)", "theirs"),
    ]


def test_candidate_names_fit_the_name_limit():
    long = "x" * 100
    names = list(rule_import.candidate_names(long))
    assert names[0] == long
    assert names[1] == "x" * 88 + " (ClickSend)"
    assert names[2] == "x" * 86 + " (ClickSend 2)"
    assert all(len(name) <= 100 for name in names)
    assert len(names) == 1 + rule_import.MAX_RENAMES


async def test_every_page_is_read_and_rules_keep_clicksend_order(account, sessionmaker):
    for number in range(105):  # two pages of 100, listed newest first
        await account.rule(f"R{number:03d}", body=f"reply {number}")
    report = await run_import(sessionmaker, account.client)
    assert [item.name for item in report.rules] == [f"R{number:03d}" for number in range(105)]
    stored = await stored_rules(sessionmaker)
    assert [(name, priority) for name, priority, *_ in stored][-2:] == [
        ("R103", 1040),
        ("R104", 1050),
    ]
    reads = [r for r in account.state.requests if r["method"] == "GET"]
    assert [(r["path"], r["query"]) for r in reads] == [
        ("/automations/sms/inbound", {"page": "1", "limit": "100"}),
        ("/automations/sms/inbound", {"page": "2", "limit": "100"}),
        ("/sms/templates", {"page": "1", "limit": "100"}),
    ]


async def test_wrong_credentials_fail_clearly_and_write_nothing(account, sessionmaker):
    await account.rule("PRICE", body="x")
    client = ClickSendClient(account.http, base_url=account.base_url, username=USER, api_key="no")
    with pytest.raises(ImportFailed, match="ClickSend refused the account's credentials"):
        await rule_import.fetch_account(client)
    assert await stored_rules(sessionmaker) == []


class BrokenProvider:
    """Rules read fine, templates fail: nothing may be imported."""

    async def fetch_inbound_rules(self, page: int = 1, limit: int = 100) -> Page[InboundRule]:
        rule = InboundRule(1, "X", "*", 0, None, "NONE", "", None, True)
        return Page([rule], has_more=False)

    async def fetch_sms_templates(self, page: int = 1, limit: int = 100) -> Page[SmsTemplate]:
        raise TemporaryProviderError("ClickSend GET /sms/templates: ConnectError()")


async def test_a_provider_failure_on_any_list_imports_nothing(sessionmaker):
    with pytest.raises(ImportFailed, match="ClickSend could not be read; try again later"):
        await rule_import.fetch_account(BrokenProvider())
    async with sessionmaker() as session:
        assert await rules_version(session) == 0


class EndlessProvider:
    async def fetch_inbound_rules(self, page: int = 1, limit: int = 100) -> Page[InboundRule]:
        items = [
            InboundRule(page * 1000 + n, "X", "*", 0, None, "NONE", "", None, True)
            for n in range(limit)
        ]
        return Page(items, has_more=True)


async def test_an_account_beyond_the_bound_is_refused_whole():
    with pytest.raises(ImportFailed, match="more than 1000 inbound rules"):
        await rule_import.fetch_account(EndlessProvider())


async def test_an_action_clicksend_added_since_is_refused_by_name(sessionmaker):
    fetched = rule_import.Fetched(
        rules=(InboundRule(7, "NEWER", "*", 2, "deal", "WHATSAPP", "", None, True),), templates=()
    )
    async with sessionmaker.begin() as session:
        report = await rule_import.import_fetched(
            session, fetched, enable=False, user_email=None, default_region="US"
        )
    [item] = report.rules
    assert (item.status, item.id) == ("refused", None)
    assert item.message.startswith("action: 'WHATSAPP' is not a ClickSend action; use one of: ")


async def test_one_version_bump_for_the_import_and_conflicts_named_on_enabled_rules(
    account, sessionmaker
):
    await add_rule(sessionmaker, "OURS", "starts_with", ["price"], priority=10)
    async with sessionmaker() as session:
        before = await rules_version(session)
    await account.rule("price", body="From $5")
    await account.rule("deal", body="None today")
    report = await run_import(sessionmaker, account.client, enable=True)
    async with sessionmaker() as session:
        assert await rules_version(session) == before + 1
    price, deal = report.rules
    assert len(price.warnings) == 1
    assert "“OURS”" in price.warnings[0] and "“price”" in price.warnings[0]
    assert deal.warnings == ()


async def test_an_import_with_nothing_new_leaves_the_version_alone(account, sessionmaker):
    await account.rule("ONCE", body="x")
    await run_import(sessionmaker, account.client)
    async with sessionmaker() as session:
        version = await rules_version(session)
    await run_import(sessionmaker, account.client)
    async with sessionmaker() as session:
        assert await rules_version(session) == version
