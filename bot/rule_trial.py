"""The try-a-message box and POST /rules/test: check the input, then ask the rule
engine for a dry run (nothing written, nothing sent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.phones import InvalidPhoneNumber, to_e164
from bot.rule_engine import RuleTrace, try_message

MAX_BODY = 5000


class InvalidTrial(ValueError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


async def trial(
    session: AsyncSession, body: str, from_number: str, to: str = "", *, default_region: str
) -> list[RuleTrace]:
    """The rules that match, in order, with conditions, rendered replies and actions."""
    if not body.strip():
        raise InvalidTrial("body", "is empty: type the message a customer would send")
    if len(body) > MAX_BODY:
        raise InvalidTrial("body", f"must be at most {MAX_BODY} characters")
    sender = _number("from", from_number, default_region)
    ours = _number("to", to, default_region) if to.strip() else ""
    return await try_message(session, body=body, from_number=sender, our_number=ours)


def _number(field_name: str, raw: str, region: str) -> str:
    if not raw.strip():
        raise InvalidTrial(field_name, "is required: the customer's phone number")
    try:
        return to_e164(raw, region)
    except InvalidPhoneNumber as exc:
        raise InvalidTrial(field_name, str(exc)) from None
