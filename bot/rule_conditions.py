"""Rule conditions: each entry of a rule's ``conditions`` list must pass for the
rule to fire.

The ``type`` of each stored condition picks a function from :data:`CONDITIONS`;
an unknown type never passes (a rule with a condition we cannot check does not
fire). Every check says what it tested, for the thread and the workbench's dry run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select

from bot.models import (
    ContactList,
    ContactListMember,
    ContactTag,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
)
from bot.rule_context import RuleContext
from bot.thread_status import status_at_arrival


@dataclass(frozen=True, slots=True)
class ConditionResult:
    description: str
    passed: bool


Condition = Callable[[RuleContext, Mapping[str, Any]], Awaitable[ConditionResult]]


async def check(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    kind = spec.get("type") if isinstance(spec, Mapping) else None
    condition = CONDITIONS.get(kind) if isinstance(kind, str) else None
    if condition is None:
        return ConditionResult(f"unknown condition {kind!r}", False)
    return await condition(ctx, spec)


async def check_all(ctx: RuleContext, specs: list[Any]) -> list[ConditionResult]:
    return [await check(ctx, spec) for spec in specs]


async def business_hours(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    inside = spec.get("inside", True) is not False
    is_open = ctx.settings.business_hours.is_open(ctx.now)
    where = "inside" if inside else "outside"
    return ConditionResult(f"{where} business hours", is_open is inside)


async def in_list(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    name = str(spec.get("list", ""))
    return ConditionResult(f"contact in list {name}", await _member(ctx, name))


async def not_in_list(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    name = str(spec.get("list", ""))
    return ConditionResult(f"contact not in list {name}", not await _member(ctx, name))


async def _member(ctx: RuleContext, list_name: str) -> bool:
    if ctx.contact is None:
        return False
    query = (
        select(ContactListMember.contact_id)
        .join(ContactList, ContactList.id == ContactListMember.list_id)
        .where(ContactList.name == list_name, ContactListMember.contact_id == ctx.contact.id)
    )
    return bool(await ctx.session.scalar(select(exists(query))))


async def has_tag(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    tag = str(spec.get("tag", ""))
    found = False
    if ctx.contact is not None:
        query = select(ContactTag.tag).where(
            ContactTag.contact_id == ctx.contact.id, ContactTag.tag == tag
        )
        found = bool(await ctx.session.scalar(select(exists(query))))
    return ConditionResult(f"contact has tag {tag}", found)


async def conversation_status(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    """The status the conversation had when the message arrived (ingest reopens a
    closed thread at once, see :mod:`bot.thread_status`); in a dry run, its status now."""
    wanted = str(spec.get("status", ""))
    if ctx.message is not None and not ctx.dry_run:
        actual = await status_at_arrival(ctx.session, ctx.message)
    elif ctx.conversation is not None:
        actual = ctx.conversation.status
    else:  # a number that never texted us would start a new, open conversation
        actual = ConversationStatus.OPEN
    return ConditionResult(f"conversation is {wanted}", actual == wanted)


async def first_message(ctx: RuleContext, spec: Mapping[str, Any]) -> ConditionResult:
    """No earlier inbound message from this number, to any of our numbers."""
    description = "first message from this number"
    if ctx.contact is None:
        return ConditionResult(description, True)
    earlier = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == ctx.contact.id, Message.direction == Direction.IN)
    )
    if ctx.message is not None:
        earlier = earlier.where(Message.id < ctx.message.id)
    return ConditionResult(description, not await ctx.session.scalar(select(exists(earlier))))


CONDITIONS: dict[str, Condition] = {
    "business_hours": business_hours,
    "in_list": in_list,
    "not_in_list": not_in_list,
    "has_tag": has_tag,
    "conversation_status": conversation_status,
    "first_message": first_message,
}
