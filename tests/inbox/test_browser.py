"""A real Chromium drives the demo: a customer texts in, an agent replies, it is delivered."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DELIVERY_TIMEOUT_S = 10.0

pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium_path):
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


async def wait_for_status(page: Page, message, status: str, timeout_s: float) -> None:
    """Reload until ``message``'s status reads ``status`` (pages have no live updates yet)."""
    deadline = time.monotonic() + timeout_s
    while (await message.locator(".message-status").inner_text()) != status:
        assert time.monotonic() < deadline, f"reply not {status} after {timeout_s} s"
        await asyncio.sleep(0.25)
        await page.reload()


async def test_agent_answers_a_simulated_customer_and_sees_delivery(client, browser):
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    await page.goto(str(client.make_url("/simulate")))
    await page.get_by_label("From number").fill("+14155550188")
    await page.get_by_label("Message").fill("Is <b>my</b> order shipped?")
    await page.get_by_role("button", name="Send as customer").click()

    await page.wait_for_url(re.compile(r"/\?sent=1$"))
    thread = page.locator("li.thread", has_text="+14155550188")
    await expect(thread).to_contain_text("1 unread")
    await thread.get_by_role("link").click()

    await page.wait_for_url(re.compile(r"/conversations/\d+$"))
    await expect(page.locator(".message-in .message-body")).to_have_text(
        "Is <b>my</b> order shipped?"
    )
    await page.get_by_label("Reply").fill("Yes, it left this morning.")
    await expect(page.locator("#reply-count")).to_have_text("26 characters")
    await page.get_by_role("button", name="Send reply").click()

    await page.wait_for_url(re.compile(r"/conversations/\d+$"))
    reply = page.locator(".message-out", has_text="Yes, it left this morning.")
    await expect(reply).to_have_count(1)
    await wait_for_status(page, reply, "delivered", DELIVERY_TIMEOUT_S)
    assert problems == []


async def reload_until_visible(page: Page, locator, timeout_s: float) -> None:
    """Reload until ``locator`` shows (the pipeline flags a message just after it is stored)."""
    deadline = time.monotonic() + timeout_s
    while not await locator.is_visible():
        assert time.monotonic() < deadline, f"{locator} not shown after {timeout_s} s"
        await asyncio.sleep(0.25)
        await page.reload()


async def test_agent_confirms_a_possible_opt_out_and_replies_are_disabled(client, browser):
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    await page.goto(str(client.make_url("/simulate")))
    await page.get_by_label("From number").fill("+14155550189")
    await page.get_by_label("Message").fill("cancel my appointment please")
    await page.get_by_role("button", name="Send as customer").click()
    await page.wait_for_url(re.compile(r"/\?sent=1$"))
    await page.locator("li.thread", has_text="+14155550189").get_by_role("link").click()
    await page.wait_for_url(re.compile(r"/conversations/\d+$"))

    banner = page.locator("#possible-optout-banner")
    await reload_until_visible(page, banner, DELIVERY_TIMEOUT_S)
    await expect(banner.locator(".flagged-text")).to_have_text("cancel my appointment please")
    await expect(banner.locator(".time-left")).to_have_text(re.compile(r"^\d+ business days left$"))
    await expect(page.get_by_label("Reply")).to_be_enabled()
    await banner.get_by_role("button", name="Confirm opt-out").click()

    await page.wait_for_url(re.compile(r"/conversations/\d+$"))
    await expect(page.locator("#optout-banner")).to_contain_text(
        re.compile(r"This number opted out on \d{4}-\d\d-\d\d; replies are disabled")
    )
    await expect(banner).to_have_count(0)
    await expect(page.get_by_label("Reply")).to_be_disabled()
    await expect(page.get_by_role("button", name="Send reply")).to_be_disabled()
    await expect(page.locator(".system-event").last).to_contain_text(
        "Opt-out confirmed by an agent"
    )
    await expect(page.locator(".message-out")).to_contain_text("You're unsubscribed")
    assert problems == []


async def test_admin_builds_a_rule_with_a_reply_and_tries_a_message(client, browser):
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    await page.goto(str(client.make_url("/rules")))
    await page.get_by_role("link", name="New rule").click()
    await page.wait_for_url(re.compile(r"/rules/new$"))
    await page.get_by_label("Rule name").fill("PRICE")
    await page.get_by_label("Match").select_option("first_word")
    await page.get_by_label("Keywords").fill("price\nprices")
    actions = page.locator("[data-steps=action]")
    first = actions.locator("[data-step-row]").first
    await expect(first.get_by_label("Reply text")).to_be_visible()
    await expect(first.get_by_label("Label to add")).to_be_hidden()
    await first.get_by_label("Reply text").fill(
        "Hi {{ contact.first_name | default('there', true) }}, <b>from</b> $5"
    )
    await actions.get_by_role("button", name="Add an action").click()
    second = actions.locator("[data-step-row]").nth(1)
    await second.get_by_label("Action type").select_option("add_label")
    await second.get_by_label("Label to add").fill("sales")
    await page.get_by_role("button", name="Save rule").click()

    await page.wait_for_url(re.compile(r"/rules/\d+\?saved=1$"))
    await expect(page.get_by_role("status").first).to_contain_text("Rule saved.")
    await page.get_by_role("link", name="← All rules").click()
    row = page.locator("tr.rule-row", has_text="PRICE")
    await expect(row).to_contain_text("add conversation label: sales")

    await page.get_by_label("Message text").fill("Prices?")
    await page.get_by_label("From number").fill("+14155550190")
    await page.get_by_role("button", name="Try it").click()
    results = page.locator("#try-results")
    await expect(results).to_contain_text("would act")
    await expect(results.locator(".try-reply-text")).to_have_text("Hi there, <b>from</b> $5")
    assert problems == []
