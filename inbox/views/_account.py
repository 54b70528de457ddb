"""What the inbox header says about the provider account (plain data for base.html)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.db import utcnow
from inbox.services import Services


@dataclass(frozen=True, slots=True)
class AccountHeader:
    balance: str | None  # "12.50 USD"; None until the first successful check
    low_credit: bool
    threshold: str
    paused_reason: str | None  # sending paused by an account error, and why
    check_error: str | None  # the last account check failed


def account_header(services: Services) -> AccountHeader:
    account, sender = services.account, services.sender_state
    threshold = Decimal(str(services.settings.low_credit_threshold))
    balance = None
    if account.balance is not None:
        balance = f"{account.balance:.2f} {account.currency}".strip()
    paused = sender.pause_reason if sender.is_paused(utcnow()) else None
    return AccountHeader(
        balance=balance,
        low_credit=account.low_credit(threshold),
        threshold=f"{threshold:.2f} {account.currency}".strip(),
        paused_reason=paused,
        check_error=account.error,
    )
