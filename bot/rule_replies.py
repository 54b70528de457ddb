"""The ``reply`` action: render the rule's template and queue a bot reply, guarded
against loops and storms.

- **Cooldown** per rule and number: a rule replies to the same number at most once
  per ``Rule.cooldown_s`` (default 300 s; 0 turns it off). Inside the cooldown the
  reply is skipped and noted in the thread; the rule's other actions still run
  (labels, assignment and forwards describe the message, not the conversation's
  pace, and are idempotent or wanted every time).
- **Storm cap** per conversation: at most ``bot_reply_cap_per_hour`` bot replies
  (default 5) in any rolling hour, counting outbound ``bot_reply`` messages. When
  it trips nothing is sent, the conversation is flagged ``needs_agent`` with the
  reason and the thread says so once.
- **Render failure**: a template that fails to render (sandbox refusal, size or
  time limit, error) sends nothing — never half a message; the error goes in the
  thread and the conversation is left for an agent.

The reply goes through :mod:`bot.outbox` with purpose ``bot_reply``, in the same
transaction that marks the inbound message handled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import templating
from bot.models import (
    Direction,
    Message,
    MessagePurpose,
    MessageTemplate,
    RuleCooldown,
    User,
)
from bot.optout import OptedOut
from bot.outbox import InvalidMessage, enqueue_reply
from bot.rule_context import ActionSkipped, Fired, NeedsAgent, RuleContext

STORM_WINDOW = dt.timedelta(hours=1)
CUSTOM_SLOTS = ("custom_1", "custom_2", "custom_3", "custom_4")


async def reply(ctx: RuleContext, fired: Fired, spec: Mapping[str, Any]) -> str:
    body = await _template_body(ctx, spec)
    text, render_error = await _render(ctx, fired, body)
    if text is not None:
        ctx.replies.append(text)
    await _check_cooldown(ctx, fired)
    await _check_storm_cap(ctx)
    if render_error is not None:
        raise NeedsAgent(f"rule {fired.name}: reply not sent, the template failed: {render_error}")
    if not ctx.dry_run:
        await _queue(ctx, fired, text or "")
    ctx.queued_replies += 1
    return f"rule {fired.name} replied"


async def _template_body(ctx: RuleContext, spec: Mapping[str, Any]) -> str:
    if "template_id" in spec:
        template = None
        if isinstance(spec["template_id"], int) and not isinstance(spec["template_id"], bool):
            template = await ctx.session.get(MessageTemplate, spec["template_id"])
        if template is None:
            raise ActionSkipped(f"reply skipped: template {spec['template_id']!r} does not exist")
        return template.body
    body = spec.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ActionSkipped("reply skipped: the action has neither a template nor a body")
    return body


async def _render(ctx: RuleContext, fired: Fired, body: str) -> tuple[str | None, str | None]:
    context = await template_context(ctx, fired)
    try:
        text = templating.render(body, context)
    except templating.RenderError as exc:
        return None, str(exc)
    if not text.strip():
        return None, "the reply rendered empty"
    return text, None


async def template_context(ctx: RuleContext, fired: Fired) -> dict[str, Any]:
    """Plain values for the sandbox: never ORM objects."""
    agent = await _agent(ctx)
    return templating.build_context(
        contact=_contact_values(ctx),
        conversation={
            "id": ctx.conversation.id if ctx.conversation else None,
            "status": str(ctx.conversation.status) if ctx.conversation else "open",
            "our_number": ctx.our_number,
            "phone_number": ctx.phone_number,
            "assignee": agent.get("name"),
        },
        message={"body": ctx.body, "phone_number": ctx.phone_number},
        match={
            "term": fired.match.term,
            "groups": list(fired.match.groups),
            "named": dict(fired.match.named),
        },
        agent=agent,
        business={"name": ctx.settings.business_name, "phone_number": ctx.our_number},
    )


def _contact_values(ctx: RuleContext) -> dict[str, Any]:
    contact = ctx.contact
    custom = dict(contact.custom_fields or {}) if contact else {}
    values: dict[str, Any] = {slot: _text(custom.get(slot)) for slot in CUSTOM_SLOTS}
    values.update(
        first_name=contact.first_name if contact else None,
        last_name=contact.last_name if contact else None,
        email=contact.email if contact else None,
        phone_number=ctx.phone_number,
        fields={
            str(name): _text(value) for name, value in custom.items() if name not in CUSTOM_SLOTS
        },
    )
    return values


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


async def _agent(ctx: RuleContext) -> dict[str, Any]:
    if ctx.conversation is None or ctx.conversation.assigned_user_id is None:
        return {}
    user = await ctx.session.get(User, ctx.conversation.assigned_user_id)
    if user is None:
        return {}
    name = user.name or user.email
    return {"name": name, "first_name": name.split()[0], "email": user.email}


async def _check_cooldown(ctx: RuleContext, fired: Fired) -> None:
    if fired.cooldown_s <= 0:
        return
    row = await ctx.session.get(RuleCooldown, (fired.rule_id, ctx.phone_number))
    if row is None:
        return
    elapsed = ctx.now - row.last_fired_at
    if elapsed < dt.timedelta(seconds=fired.cooldown_s):
        raise ActionSkipped(
            f"rule {fired.name} did not reply: it replied to this number "
            f"{_ago(elapsed)} ago (cooldown {_duration(fired.cooldown_s)})"
        )


async def _check_storm_cap(ctx: RuleContext) -> None:
    cap = ctx.settings.reply_cap_per_hour
    sent = ctx.queued_replies if ctx.dry_run else 0
    if ctx.conversation is not None:
        sent += await ctx.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.conversation_id == ctx.conversation.id,
                Message.direction == Direction.OUT,
                Message.purpose == MessagePurpose.BOT_REPLY,
                Message.created_at >= ctx.now - STORM_WINDOW,
            )
        )
    if sent < cap:
        return
    reason = f"bot reply cap reached ({cap} per hour): replies paused, left for an agent"
    if ctx.conversation is not None and ctx.conversation.needs_agent:
        raise ActionSkipped(reason, quiet=True)  # already flagged: said once, not per message
    raise NeedsAgent(reason)


async def _queue(ctx: RuleContext, fired: Fired, text: str) -> None:
    try:
        await enqueue_reply(
            ctx.session, ctx.conversation.id, text, purpose=MessagePurpose.BOT_REPLY
        )
    except InvalidMessage as exc:
        raise NeedsAgent(f"rule {fired.name}: reply not sent: {exc.problem}") from None
    except OptedOut:
        raise ActionSkipped(f"rule {fired.name} did not reply: the number opted out") from None
    await _start_cooldown(ctx, fired)


async def _start_cooldown(ctx: RuleContext, fired: Fired) -> None:
    key = (fired.rule_id, ctx.phone_number)
    row = await ctx.session.get(RuleCooldown, key)
    if row is None:
        try:
            async with ctx.session.begin_nested():
                ctx.session.add(
                    RuleCooldown(
                        rule_id=fired.rule_id, phone_number=ctx.phone_number, last_fired_at=ctx.now
                    )
                )
            return
        except IntegrityError:  # another worker replied first; take the later time
            row = await ctx.session.get_one(RuleCooldown, key, populate_existing=True)
    row.last_fired_at = max(row.last_fired_at, ctx.now)


def _ago(elapsed: dt.timedelta) -> str:
    seconds = max(int(elapsed.total_seconds()), 0)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _duration(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 or seconds % 60 else f"{seconds // 60} min"
