"""Reading a ClickSend account's inbound rules and SMS templates for the import
(bot/rule_import.py): every page of both, before any transaction opens, or
:class:`ImportFailed` with a message for the person who asked. Nothing partial
is ever returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bot.providers.base import (
    AccountProviderError,
    InboundRule,
    Page,
    PermanentProviderError,
    ProviderError,
    SmsProvider,
    SmsTemplate,
    read_all_pages,
)

MAX_ITEMS = 1000  # of each kind; ClickSend accounts hold a few dozen rules
PAGE_SIZE = 100

T = TypeVar("T")


class ImportFailed(Exception):
    """Nothing could be imported; the message says why, for the person who asked."""


@dataclass(frozen=True)
class Fetched:
    """What the account holds, rules and templates each sorted by id (creation order)."""

    rules: tuple[InboundRule, ...]
    templates: tuple[SmsTemplate, ...]


async def fetch_account(provider: SmsProvider) -> Fetched:
    """Every inbound rule and SMS template of the account; ImportFailed when the
    provider cannot be read completely (nothing partial is ever imported)."""
    try:
        found_rules = await _all_pages(provider.fetch_inbound_rules, "inbound rules")
        found_templates = await _all_pages(provider.fetch_sms_templates, "SMS templates")
    except AccountProviderError as exc:
        raise ImportFailed(
            "ClickSend refused the account's credentials or the account cannot be used "
            f"(check SMSDESK_CLICKSEND_USERNAME and SMSDESK_CLICKSEND_API_KEY): {exc}"
        ) from None
    except PermanentProviderError as exc:
        raise ImportFailed(f"ClickSend refused the request: {exc}") from None
    except ProviderError as exc:
        raise ImportFailed(f"ClickSend could not be read; try again later: {exc}") from None
    return Fetched(
        rules=_by_id(found_rules, lambda rule: rule.rule_id),
        templates=_by_id(found_templates, lambda template: template.template_id),
    )


async def _all_pages(fetch: Callable[[int, int], Awaitable[Page[T]]], what: str) -> list[T]:
    items = await read_all_pages(fetch, page_size=PAGE_SIZE, max_items=MAX_ITEMS)
    if items is None:
        raise ImportFailed(f"the ClickSend account holds more than {MAX_ITEMS} {what}")
    return items


def _by_id(items: Sequence[T], key: Callable[[T], int]) -> tuple[T, ...]:
    """Sorted by id, each id once (a list that changed while it was paged can repeat one)."""
    unique = {key(item): item for item in reversed(items)}
    return tuple(unique[item_id] for item_id in sorted(unique))
