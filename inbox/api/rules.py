"""/rules: keyword rules in ClickSend's ``/automations/sms/inbound`` shape, plus
our extensions, and POST /rules/test, the try-a-message simulator.

A request may use ClickSend's fields, ours, or both (then they must agree); see
bot/rule_clicksend.py for the mapping. Every refusal is a 400 whose message
starts with the field as the request named it (``rule_name``, ``action_address``,
``actions[2].url``). A create or update answers the rule with ``warnings``
(unknown template variables, conflicts with other rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import rule_trial, rules
from bot.contacts import NotFound
from bot.message_templates import template_bodies
from bot.models import Rule
from bot.phones import InvalidPhoneNumber, to_e164
from bot.rule_clicksend import (
    COVERED_BY,
    InvalidClickSendRule,
    Mapped,
    disagreements,
    from_request,
    to_item,
)
from bot.rule_engine import RuleTrace
from bot.rule_trial import InvalidTrial
from bot.rules import InvalidRule, RuleDraft
from inbox.api.auth import API_USER
from inbox.api.envelope import ApiError, bad_request, envelope
from inbox.api.inputs import json_object, optional_text, required_text
from inbox.api.items import unix
from inbox.api.pagination import page_data, page_request
from inbox.api.search import MAX_ID, Searchable, order_clause, text_field, where_clause
from inbox.keys import SERVICES

RULES = Searchable(
    fields={"rule_name": text_field(Rule.name), "match_type": text_field(Rule.match_type)},
    sorts={
        "priority": (Rule.priority, Rule.id),
        "inbound_rule_id": (Rule.id,),
        "rule_name": (Rule.name, Rule.id),
        "hit_count": (Rule.hit_count, Rule.id),
    },
    default_order=("priority", "asc"),
)
MAX_RULE_BODY = 64 * 1024  # twenty actions with long reply bodies


async def list_rules(request: web.Request) -> web.Response:
    page = page_request(request.query)
    order = order_clause(request.query, RULES)
    clause = where_clause(request.query, RULES)
    statement = select(Rule) if clause is None else select(Rule).where(clause)
    async with request.config_dict[SERVICES].sessionmaker() as session:
        counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
        total = await session.scalar(counted) or 0
        paged = statement.order_by(*order).limit(page.limit).offset(page.offset)
        items = await rule_items(session, list(await session.scalars(paged)))
    data = page_data(request.rel_url, page, total, items)
    return envelope(data, response_msg="Your list of inbound rules.")


async def get_rule(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        rule = await rules.get_rule(session, path_rule_id(request))
        (item,) = await rule_items(session, [rule])
    return envelope(item, response_msg="Your inbound rule.")


async def create_rule(request: web.Request) -> web.Response:
    payload = await json_object(request, MAX_RULE_BODY)
    mapped = _mapped(request, payload, {})
    draft = _draft(request, mapped, payload)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        saved = await _checked(mapped, rules.create_rule(session, draft))
        (item,) = await rule_items(session, [saved.rule])
    item["warnings"] = mapped.warnings + saved.warnings
    return envelope(item, response_msg="Your record has been added.")


async def update_rule(request: web.Request) -> web.Response:
    payload = await json_object(request, MAX_RULE_BODY)
    rule_id = path_rule_id(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        mapped = _mapped(request, payload, rules.fields_of(await rules.get_rule(session, rule_id)))
        draft = _draft(request, mapped, payload)
        saved = await _checked(mapped, rules.update_rule(session, rule_id, draft))
        (item,) = await rule_items(session, [saved.rule])
    item["warnings"] = mapped.warnings + saved.warnings
    return envelope(item, response_msg="Your record has been updated.")


async def delete_rule(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await rules.delete_rule(session, path_rule_id(request))
    return envelope([], response_msg="Your record has been deleted.")


def path_rule_id(request: web.Request) -> int:
    rule_id = int(request.match_info["rule_id"])
    if rule_id > MAX_ID:
        raise NotFound(f"rule {rule_id} does not exist")
    return rule_id


async def rule_items(session: AsyncSession, rows: list[Rule]) -> list[dict[str, Any]]:
    """API items; the bodies of templates the rules reply with in one statement."""
    ids = {a["template_id"] for rule in rows for a in rule.actions if a.get("template_id")}
    bodies = await template_bodies(session, ids)
    return [to_item(rule, last_hit_at=unix(rule.last_hit_at), templates=bodies) for rule in rows]


# -- reading a request --------------------------------------------------------------


def _mapped(request: web.Request, payload: dict[str, Any], base: Mapping[str, Any]) -> Mapped:
    try:
        return from_request(payload, base, user_email=request[API_USER].email)
    except InvalidClickSendRule as exc:
        raise bad_request(exc.field, exc.problem) from None


def _draft(request: web.Request, mapped: Mapped, payload: Mapping[str, Any]) -> RuleDraft:
    region = request.config_dict[SERVICES].settings.default_region
    try:
        draft = rules.parse_rule(mapped.fields, default_region=region)
    except InvalidRule as exc:
        raise _refusal(mapped, exc) from None
    item = to_item(rules.draft_rule(draft), last_hit_at=None, templates={})
    clashing = disagreements(_comparable(payload, region), item)
    if clashing:
        name = clashing[0]
        raise bad_request(name, f"does not agree with {COVERED_BY[name]}; send one or the other")
    return draft


def _comparable(payload: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The payload with ``dedicated_number`` in E.164, as the item shows numbers."""
    number = payload.get("dedicated_number")
    if not isinstance(number, str) or number.strip() in ("", "*"):
        return dict(payload)
    try:
        return {**payload, "dedicated_number": to_e164(number, region)}
    except InvalidPhoneNumber:
        return dict(payload)


async def _checked(mapped: Mapped, call):
    try:
        return await call
    except InvalidRule as exc:
        raise _refusal(mapped, exc) from None


def _refusal(mapped: Mapped, exc: InvalidRule) -> ApiError:
    problems = [f"{mapped.request_field(path)}: {problem}" for path, problem in exc.errors.items()]
    return ApiError(400, "; ".join(problems))


async def test_message(request: web.Request) -> web.Response:
    """POST /rules/test ``{body, from[, to]}``: the rules that would act, in order,
    with their conditions and rendered replies. Nothing is written or sent."""
    payload = await json_object(request)
    body, sender = required_text(payload, "body"), required_text(payload, "from")
    to = optional_text(payload, "to") or ""
    services = request.config_dict[SERVICES]
    region = services.settings.default_region
    try:
        async with services.sessionmaker() as session:
            traces = await rule_trial.trial(session, body, sender, to, default_region=region)
    except InvalidTrial as exc:
        raise bad_request(exc.field, exc.problem) from None
    message = f"{len(traces)} rule(s) match; nothing was sent."
    return envelope([trace_item(trace) for trace in traces], response_msg=message)


def trace_item(trace: RuleTrace) -> dict[str, Any]:
    return {
        "inbound_rule_id": trace.rule_id,
        "rule_name": trace.rule_name,
        "matched_term": trace.matched_term,
        "would_fire": trace.would_fire,
        "conditions": [
            {"description": c.description, "passed": c.passed} for c in trace.conditions
        ],
        "replies": list(trace.replies),
        "actions": list(trace.actions),
        "errors": list(trace.errors),
    }
