"""The keyword rule engine: run a stored inbound message through the rules.

1. The compiled :class:`~bot.matching.Matcher` returns the candidate rules in
   running order (lower priority number first, then lower id). It is compiled once
   per ``rules_version`` (every rule change bumps it), not per message.
2. For each candidate the rule's conditions are checked; the first rule that
   matches and passes them fires, and matching stops there unless the rule says
   ``continue_matching``. At most :data:`MAX_FIRING` rules fire per message
   (ClickSend's limit).
3. A rule that fires counts a hit and runs its actions in order; each action's
   outcome is a line in the thread.

Messages from an opted-out number never reach the rules, nor do compliance
keywords (the pipeline's compliance step stops them first). The same code serves
:func:`try_message`, the workbench's dry run, which writes and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import bot_settings, compliance_settings
from bot.contacts import find_contact
from bot.db import utcnow
from bot.matching import Match, Matcher, MatchType, RuleSpec
from bot.models import Contact, Conversation, Message, Rule
from bot.optout import is_opted_out
from bot.optout_keywords import Intent, classify
from bot.rule_actions import EVENT_KINDS, run_action
from bot.rule_conditions import ConditionResult, check_all
from bot.rule_context import RULE_EVENT, ActionSkipped, Fired, NeedsAgent, RuleContext

log = logging.getLogger(__name__)

MAX_FIRING = 10


@dataclass(frozen=True)
class RuleTrace:
    """What one matching rule did (or would do) with a message."""

    rule_id: int
    rule_name: str
    matched_term: str | None
    conditions: list[ConditionResult]
    would_fire: bool
    replies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # what happened / would happen


@dataclass(frozen=True)
class RuleBook:
    """The enabled rules compiled for one ``rules_version``."""

    version: int
    matcher: Matcher


async def load_rulebook(session: AsyncSession) -> RuleBook:
    version = await bot_settings.rules_version(session)  # read first: rules are as new
    rows = await session.execute(
        select(Rule.id, Rule.priority, Rule.match_type, Rule.terms, Rule.numbers).where(
            Rule.enabled
        )
    )
    specs = []
    for rule_id, priority, match_type, terms, numbers in rows:
        try:
            kind = MatchType(match_type)
        except ValueError:
            log.warning("rule %d has unknown match type %r; skipped", rule_id, match_type)
            continue
        terms, numbers = tuple(terms or ()), frozenset(numbers or ())
        specs.append(RuleSpec(rule_id, priority, kind, terms, numbers))
    return RuleBook(version, Matcher.compile(specs))


class RuleBookCache:
    """One process's compiled rules; recompiled when ``rules_version`` changes."""

    def __init__(self) -> None:
        self._book: RuleBook | None = None

    async def get(self, session: AsyncSession) -> RuleBook:
        version = await bot_settings.rules_version(session)
        if self._book is None or self._book.version != version:
            self._book = await load_rulebook(session)
        return self._book


class RulesStep:
    """The pipeline step after compliance: run the keyword rules on the message."""

    def __init__(self, rulebooks: RuleBookCache | None = None) -> None:
        self.rulebooks = rulebooks

    async def __call__(self, session: AsyncSession, message: Message) -> bool:
        if self.rulebooks is None:
            book = await load_rulebook(session)
        else:
            book = await self.rulebooks.get(session)
        await run_rules(session, message, book.matcher)
        return True


async def run_rules(session: AsyncSession, message: Message, matcher: Matcher) -> list[RuleTrace]:
    conversation = await session.get_one(Conversation, message.conversation_id)
    contact = await session.get_one(Contact, conversation.contact_id)
    matches = matcher.match(message.body, conversation.our_number)
    if not matches or await is_opted_out(session, contact.phone_number, conversation.our_number):
        return []
    ctx = RuleContext(
        session=session,
        body=message.body,
        phone_number=contact.phone_number,
        our_number=conversation.our_number,
        now=utcnow(),
        settings=await bot_settings.load(session),
        message=message,
        contact=contact,
        conversation=conversation,
    )
    return await evaluate(ctx, matches)


async def evaluate(ctx: RuleContext, matches: list[Match]) -> list[RuleTrace]:
    """Conditions, then actions, for each candidate in order; see the module doc."""
    ids = [m.rule_id for m in matches]
    rules = {r.id: r for r in await ctx.session.scalars(select(Rule).where(Rule.id.in_(ids)))}
    traces: list[RuleTrace] = []
    fired = 0
    for index, match in enumerate(matches):
        rule = rules.get(match.rule_id)
        if rule is None or not rule.enabled:
            continue  # changed since the matcher was compiled
        results = await check_all(ctx, list(rule.conditions or []))
        passed = all(r.passed for r in results)
        trace = RuleTrace(rule.id, rule.name, match.term, results, passed and fired < MAX_FIRING)
        traces.append(trace)
        if passed and not trace.would_fire:
            trace.errors.append(f"not run: at most {MAX_FIRING} rules fire per message")
        if not trace.would_fire:
            continue
        fired += 1
        await _fire(ctx, rule, match, trace)
        if not rule.continue_matching:
            if ctx.dry_run:
                traces += _not_reached(matches[index + 1 :], rules, rule.name)
            break
    return traces


async def _fire(ctx: RuleContext, rule: Rule, match: Match, trace: RuleTrace) -> None:
    if not ctx.dry_run:
        await ctx.session.execute(
            update(Rule)
            .where(Rule.id == rule.id)
            .values(hit_count=Rule.hit_count + 1, last_hit_at=ctx.now, updated_at=Rule.updated_at)
            .execution_options(synchronize_session=False)
        )
    fired = Fired.of(rule, match)
    rendered = len(ctx.replies)
    for spec in list(rule.actions or []):
        try:
            text = await run_action(ctx, fired, spec)
        except ActionSkipped as exc:
            if not exc.quiet:
                ctx.event(str(exc))
            trace.errors.append(str(exc))
        except NeedsAgent as exc:
            ctx.event(str(exc))
            ctx.flag_for_agent(str(exc))
            trace.errors.append(str(exc))
        else:
            ctx.event(text, EVENT_KINDS.get(spec.get("type"), RULE_EVENT))
            trace.actions.append(text)
    trace.replies.extend(ctx.replies[rendered:])


def _not_reached(rest: list[Match], rules: dict[int, Rule], stopper: str) -> list[RuleTrace]:
    return [
        RuleTrace(
            m.rule_id,
            rules[m.rule_id].name,
            m.term,
            [],
            False,
            errors=[f"not reached: rule {stopper} fired first and stops matching"],
        )
        for m in rest
        if m.rule_id in rules and rules[m.rule_id].enabled
    ]


async def try_message(
    session: AsyncSession,
    *,
    body: str,
    from_number: str,
    our_number: str = "",
    now: dt.datetime | None = None,
    rulebooks: RuleBookCache | None = None,
) -> list[RuleTrace]:
    """Dry run: the rules that match ``body`` from ``from_number``, in order, with
    their conditions, rendered replies, errors and actions. Writes and sends nothing."""
    book = await (rulebooks.get(session) if rulebooks else load_rulebook(session))
    matches = book.matcher.match(body, our_number)
    if not matches:
        return []
    contact = await find_contact(session, from_number)
    ctx = RuleContext(
        session=session,
        body=body,
        phone_number=from_number,
        our_number=our_number,
        now=now or utcnow(),
        settings=await bot_settings.load(session),
        contact=contact,
        conversation=await _find_conversation(session, contact, our_number),
        dry_run=True,
    )
    blocked = await _blocked(session, body, from_number, our_number)
    if blocked is None:
        return await evaluate(ctx, matches)
    ids = [m.rule_id for m in matches]
    rows = await session.execute(select(Rule.id, Rule.name).where(Rule.id.in_(ids)))
    names = {rule_id: name for rule_id, name in rows}
    return [
        RuleTrace(m.rule_id, names[m.rule_id], m.term, [], False, errors=[blocked])
        for m in matches
        if m.rule_id in names
    ]


async def _find_conversation(
    session: AsyncSession, contact: Contact | None, our_number: str
) -> Conversation | None:
    if contact is None:
        return None
    return await session.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact.id, Conversation.our_number == our_number
        )
    )


async def _blocked(session: AsyncSession, body: str, phone: str, our_number: str) -> str | None:
    """Why rules would not run at all: an opted-out number or a compliance keyword."""
    opted_out = await is_opted_out(session, phone, our_number)
    vocabulary = (await compliance_settings.load(session)).vocabulary()
    intent = classify(body, opted_out=opted_out, vocabulary=vocabulary)
    if intent is Intent.OPT_IN and not opted_out:
        intent = Intent.NONE  # START from a subscribed number is an ordinary message
    if intent is not Intent.NONE:
        return f"rules do not run: the compliance step handles this message ({intent})"
    if opted_out:
        return "rules do not run: this number has opted out"
    return None
