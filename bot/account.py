"""The provider account: balance and standing, checked periodically.

:func:`check_account` is the only caller of a provider's ``get_account``. It
keeps what it learns in an :class:`AccountState` (in memory, per process) that
the inbox header shows, and it is the sender's way back from an account pause:
when the account answers, is active and has credit, a pause set by
bot/sender.py (INSUFFICIENT_CREDIT, ACCOUNT_NOT_ACTIVATED, credentials) is lifted
at once instead of waiting out its 60 seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.providers.base import ProviderError, SmsProvider
from bot.sender import SenderState

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 60.0


@dataclass(slots=True)
class AccountState:
    """The last answer of GET /account, or why it failed."""

    balance: Decimal | None = None
    currency: str = ""
    active: bool = True
    checked_at: dt.datetime | None = None
    error: str | None = None

    def low_credit(self, threshold: Decimal) -> bool:
        return self.balance is not None and self.balance < threshold


async def check_account(provider: SmsProvider, account: AccountState, sender: SenderState) -> bool:
    """Ask the provider; update ``account``; lift the sender's pause when it can send.

    Returns whether a pause was lifted (the caller then wakes the sender).
    """
    now = dt.datetime.now(dt.UTC)
    try:
        info = await provider.get_account()
    except ProviderError as exc:
        account.error, account.checked_at = str(exc), now
        log.warning("account check failed: %s", exc)
        return False
    account.balance = _decimal(info.balance)
    account.currency, account.active = info.currency, info.active
    account.checked_at, account.error = now, None
    can_send = info.active and (account.balance is None or account.balance > 0)
    if can_send and sender.paused_until is not None:
        sender.paused_until = sender.pause_reason = None
        log.info("account check passed; sending resumes")
        return True
    return False


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
