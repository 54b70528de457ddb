"""Rule actions, run in order for a rule that fired.

The ``type`` of each stored action picks a function from :data:`ACTIONS` (never a
``getattr`` on a name from the database). An action returns what it did, written
as a system line in the thread ("label sales added by rule PRICE"). It raises
:class:`~bot.rule_context.ActionSkipped` when it cannot run (an unknown template,
user or list; a cooldown) — the line says why and the message still ends handled —
or :class:`~bot.rule_context.NeedsAgent` when a person should look. A database
error is neither: it rolls the message's transaction back and the message stays
``pending``.

In a dry run the same functions run without writing anything and return what
they would do.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import regex
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot import matching
from bot.forwarding import clicksend_payload
from bot.models import (
    ContactList,
    ContactListMember,
    ConversationLabel,
    ConversationStatus,
    Forward,
    MessagePurpose,
    User,
)
from bot.optout import OptedOut
from bot.outbox import InvalidMessage, enqueue_to_number
from bot.phones import InvalidPhoneNumber, to_e164
from bot.rule_context import ActionSkipped, Fired, RuleContext
from bot.rule_replies import reply
from bot.textnorm import normalise
from bot.thread_status import CLOSED_EVENT, REOPENED_EVENT

Action = Callable[[RuleContext, Fired, Mapping[str, Any]], Awaitable[str]]

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
NAME_PART = re.compile(r"[^\W\d_][\w'’.-]*")
CONTACT_COLUMNS = {"first_name": 100, "last_name": 100, "email": 254}
MAX_FIELD_VALUE = 255
FORWARD_SMS_BODY = 300
FORWARD_METHODS = ("post", "get", "json")


async def run_action(ctx: RuleContext, fired: Fired, spec: Any) -> str:
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    action = ACTIONS.get(kind) if isinstance(kind, str) else None
    if action is None:
        raise ActionSkipped(f"rule {fired.name}: unknown action {kind!r} skipped")
    return await action(ctx, fired, spec)


def _text(spec: Mapping[str, Any], key: str, fired: Fired, kind: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ActionSkipped(f"rule {fired.name}: {kind} skipped, no {key} given")
    return value.strip()


async def add_label(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    label = _text(spec, "label", fired, "add_label")[:50]
    if not ctx.dry_run and ctx.conversation is not None:
        key = (ctx.conversation.id, label)
        if await ctx.session.get(ConversationLabel, key) is None:
            ctx.session.add(ConversationLabel(conversation_id=key[0], label=label))
    return f"label {label} added by rule {fired.name}"


async def remove_label(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    label = _text(spec, "label", fired, "remove_label")[:50]
    if not ctx.dry_run and ctx.conversation is not None:
        await ctx.session.execute(
            delete(ConversationLabel).where(
                ConversationLabel.conversation_id == ctx.conversation.id,
                ConversationLabel.label == label,
            )
        )
    return f"label {label} removed by rule {fired.name}"


async def assign(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    email = _text(spec, "email", fired, "assign")
    user = await ctx.session.scalar(select(User).where(User.email == email))
    if user is None:
        raise ActionSkipped(f"rule {fired.name}: assign skipped, no user {email}")
    if not ctx.dry_run and ctx.conversation is not None:
        ctx.conversation.assigned_user_id = user.id
    return f"assigned to {user.name or user.email} by rule {fired.name}"


async def add_to_list(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    name = _text(spec, "list", fired, "add_to_list")[:100]
    if not ctx.dry_run and ctx.contact is not None:
        contact_list = await _get_or_create_list(ctx, name)
        key = (contact_list.id, ctx.contact.id)
        if await ctx.session.get(ContactListMember, key) is None:
            ctx.session.add(ContactListMember(list_id=key[0], contact_id=key[1]))
    return f"added to list {name} by rule {fired.name}"


async def _get_or_create_list(ctx: RuleContext, name: str) -> ContactList:
    query = select(ContactList).where(ContactList.name == name)
    found = await ctx.session.scalar(query)
    if found is not None:
        return found
    try:
        async with ctx.session.begin_nested():
            found = ContactList(name=name)
            ctx.session.add(found)
        return found
    except IntegrityError:
        return (await ctx.session.scalars(query)).one()


async def remove_from_list(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    name = _text(spec, "list", fired, "remove_from_list")
    list_id = await ctx.session.scalar(select(ContactList.id).where(ContactList.name == name))
    if list_id is None:
        raise ActionSkipped(f"rule {fired.name}: remove_from_list skipped, no list {name}")
    if not ctx.dry_run and ctx.contact is not None:
        await ctx.session.execute(
            delete(ContactListMember).where(
                ContactListMember.list_id == list_id,
                ContactListMember.contact_id == ctx.contact.id,
            )
        )
    return f"removed from list {name} by rule {fired.name}"


async def set_field(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    field = _text(spec, "field", fired, "set_field")[:50]
    value = _field_value(ctx, fired, spec)
    if field == "email" and not EMAIL.fullmatch(value):
        raise ActionSkipped(f"rule {fired.name}: set_field skipped, {value!r} is not an email")
    _assign_field(ctx, field, value)
    return f"{field} set to {value!r} by rule {fired.name}"


def _field_value(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    if "regex" not in spec:
        value = spec.get("value")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ActionSkipped(f"rule {fired.name}: set_field skipped, no value given")
        return str(value).strip()[:MAX_FIELD_VALUE]
    try:
        found = matching.search(str(spec["regex"]), ctx.body.strip()[:2000])
        value = found.group(spec.get("group", 1)) if found else None
    except TimeoutError:
        skipped = f"rule {fired.name}: set_field skipped, the regex ran out of time"
        raise ActionSkipped(skipped) from None
    except (regex.error, IndexError, TypeError) as exc:
        raise ActionSkipped(f"rule {fired.name}: set_field skipped, bad regex: {exc}") from None
    if not value or not value.strip():
        raise ActionSkipped(f"rule {fired.name}: set_field skipped, the message has no match")
    return value.strip()[:MAX_FIELD_VALUE]


def _assign_field(ctx: RuleContext, field: str, value: str) -> None:
    if ctx.dry_run or ctx.contact is None:
        return
    if field in CONTACT_COLUMNS:
        setattr(ctx.contact, field, value[: CONTACT_COLUMNS[field]])  # fixed whitelist
    else:
        ctx.contact.custom_fields = {**(ctx.contact.custom_fields or {}), field: value}


async def contact_from_message(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    """ClickSend's CREATE_CONTACT_PLUS_NAME / _EMAIL: take the name (the words after
    the keyword) or the first email address from the message."""
    if spec.get("field") == "email":
        found = EMAIL.search(ctx.body)
        if found is None:
            raise ActionSkipped(f"rule {fired.name}: no email address in the message")
        _assign_field(ctx, "email", found.group(0)[:254])
        return f"email set to {found.group(0)!r} by rule {fired.name}"
    if spec.get("field") != "name":
        raise ActionSkipped(f"rule {fired.name}: contact_from_message needs field name or email")
    parts = _name_words(ctx.body, fired.match.term)
    if not parts:
        raise ActionSkipped(f"rule {fired.name}: no name in the message")
    first, last = parts[0][:100], " ".join(parts[1:])[:100] or None
    _assign_field(ctx, "first_name", first)
    if last:
        _assign_field(ctx, "last_name", last)
    return f"name set to {' '.join(parts)!r} by rule {fired.name}"


def _name_words(body: str, keyword: str | None) -> list[str]:
    tokens = body.split()
    if keyword:
        size = len(keyword.split())
        if normalise(" ".join(tokens[:size])) == normalise(keyword):
            tokens = tokens[size:]
    names = []
    for token in tokens[:4]:  # the leading words that look like a name
        found = NAME_PART.fullmatch(token.strip(',.;:!?"()'))
        if found is None:
            break
        names.append(found.group(0))
    return names


async def close(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    if not ctx.dry_run and ctx.conversation is not None:
        ctx.conversation.status = ConversationStatus.CLOSED
    return f"closed by rule {fired.name}"


async def reopen(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    if not ctx.dry_run and ctx.conversation is not None:
        ctx.conversation.status = ConversationStatus.OPEN
    return f"reopened by rule {fired.name}"


async def forward_url(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    url = _text(spec, "url", fired, "forward_url")
    method = spec.get("method") or "post"
    if not url.startswith(("http://", "https://")) or method not in FORWARD_METHODS:
        raise ActionSkipped(f"rule {fired.name}: forward_url skipped, bad URL or method")
    _add_forward(ctx, fired, "url", url, method)
    return f"forward to {url} ({method}) queued by rule {fired.name}"


async def forward_email(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    to = _text(spec, "to", fired, "forward_email")
    if not EMAIL.fullmatch(to):
        raise ActionSkipped(f"rule {fired.name}: forward_email skipped, {to!r} is not an email")
    _add_forward(ctx, fired, "email", to, None)
    return f"email forward to {to} queued by rule {fired.name}"


def _add_forward(ctx: RuleContext, fired: Fired, kind: str, target: str, method: str | None):
    if ctx.dry_run or ctx.message is None:
        return
    payload = clicksend_payload(ctx.message, ctx.phone_number, ctx.our_number)
    ctx.session.add(
        Forward(
            message_id=ctx.message.id,
            rule_id=fired.rule_id,
            kind=kind,
            target=target,
            method=method,
            payload=payload,
        )
    )


async def forward_sms(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    try:
        to = to_e164(_text(spec, "to", fired, "forward_sms"))
    except InvalidPhoneNumber as exc:
        raise ActionSkipped(f"rule {fired.name}: forward_sms skipped, {exc}") from None
    if not ctx.dry_run:
        await _send_forward(ctx, fired, to)
    return f"forwarded by SMS to {to} by rule {fired.name}"


async def _send_forward(ctx: RuleContext, fired: Fired, to: str) -> None:
    text = ctx.body if len(ctx.body) <= FORWARD_SMS_BODY else ctx.body[:FORWARD_SMS_BODY] + "…"
    try:
        async with ctx.session.begin_nested():  # an opted-out number leaves no thread behind
            await enqueue_to_number(
                ctx.session,
                to,
                f"From {ctx.phone_number}: {text}",
                our_number=ctx.our_number,
                purpose=MessagePurpose.FORWARD,
            )
    except OptedOut:
        raise ActionSkipped(f"rule {fired.name}: forward_sms skipped, {to} opted out") from None
    except InvalidMessage as exc:
        raise ActionSkipped(f"rule {fired.name}: forward_sms skipped, {exc}") from None


ACTIONS: dict[str, Action] = {
    "reply": reply,
    "add_label": add_label,
    "remove_label": remove_label,
    "assign": assign,
    "add_to_list": add_to_list,
    "remove_from_list": remove_from_list,
    "set_field": set_field,
    "contact_from_message": contact_from_message,
    "close": close,
    "reopen": reopen,
    "forward_url": forward_url,
    "forward_sms": forward_sms,
    "forward_email": forward_email,
}

# The thread line of these actions has its own kind: bot.thread_status reads them back.
EVENT_KINDS = {"close": CLOSED_EVENT, "reopen": REOPENED_EVENT}
