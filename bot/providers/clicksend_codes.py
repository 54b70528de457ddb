"""ClickSend application status codes (reference §1.6) and how smsdesk treats them.

Kept apart from the HTTP client so the tables can be read, and reused by the
simulator, without any transport code around them.
"""

from __future__ import annotations

from bot.providers.base import Outcome

# §1.6 meanings, worded for an agent reading a failed message in the inbox.
MEANINGS: dict[str, str] = {
    "SUCCESS": "the message was queued",
    "MISSING_CREDENTIALS": "the API username or key was not sent",
    "ACCOUNT_NOT_ACTIVATED": "the ClickSend account is not activated",
    "INVALID_RECIPIENT": "the destination number is invalid",
    "THROTTLED": "the same text was sent to this number moments ago",
    "INVALID_SENDER_ID": "the sender ID is invalid (at most 11 characters, no spaces)",
    "INSUFFICIENT_CREDIT": "the ClickSend account has no credit left",
    "INVALID_CREDENTIALS": "the API username or key is wrong",
    "COUNTRY_NOT_ENABLED": "the destination country is not enabled on the account",
    "ALREADY_EXISTS": "the resource already exists",
    "EMPTY_MESSAGE": "the message is empty",
    "TOO_MANY_RECIPIENTS": "too many recipients in one request",
    "MISSING_REQUIRED_FIELDS": "required fields are missing",
    "INVALID_SCHEDULE": "the schedule is not a valid Unix timestamp",
    "NOT_ENOUGH_PERMISSION_TO_LIST_ID": "no permission to send to that contact list",
    "INTERNAL_ERROR": "ClickSend had an internal error",
    "SOMETHING_IS_WRONG": "ClickSend reported a generic error",
    "FORBIDDEN": "the ClickSend account is not allowed to do this (banned?)",
    "UNAUTHORIZED": "the API credentials were refused",
}

# Nothing can be sent until an operator fixes the account: keep messages queued.
ACCOUNT_CODES = frozenset(
    {"INSUFFICIENT_CREDIT", "ACCOUNT_NOT_ACTIVATED", "INVALID_CREDENTIALS", "MISSING_CREDENTIALS"}
)

# ClickSend asks for a retry "after a few seconds" (§1.6); 5 s is our few.
THROTTLE_RETRY_S = 5.0


def describe(code: str) -> str:
    """One line an agent can act on, e.g. ``ClickSend: EMPTY_MESSAGE — the message is empty``."""
    meaning = MEANINGS.get(code, "unknown status code")
    return f"ClickSend: {code} — {meaning}"


def message_outcome(code: str) -> Outcome:
    """Per-message ``status`` of POST /sms/send → what the outbox should do with it."""
    if code == "SUCCESS":
        return Outcome.ACCEPTED
    if code == "THROTTLED":
        return Outcome.RETRY
    if code in ACCOUNT_CODES:
        return Outcome.ACCOUNT
    return Outcome.REJECTED


# §9: the actions an inbound rule may take, and its message_search_type values.
INBOUND_RULE_ACTIONS = (
    "AUTO_REPLY",
    "EMAIL_USER",
    "EMAIL_FIXED",
    "URL",
    "SMS",
    "POLL",
    "GROUP_SMS",
    "MOVE_CONTACT",
    "CREATE_CONTACT",
    "CREATE_CONTACT_PLUS_EMAIL",
    "CREATE_CONTACT_PLUS_NAME_EMAIL",
    "CREATE_CONTACT_PLUS_NAME",
    "SMPP",
    "NONE",
)
SEARCH_TYPES = (0, 1, 2, 3)  # any, starts with, contains, does not contain
