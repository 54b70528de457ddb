"""Bring a ClickSend account's inbound rules and SMS templates over in one step.

:func:`fetch_account` (bot/rule_import_fetch.py) reads every page of both
lists from the provider before anything is written (no write lock is held over
the network; a provider error leaves the database untouched).
:func:`import_fetched` then writes them in the caller's transaction through
the ordinary services (bot/message_templates.py, bot/rule_clicksend.py and
bot/rules.py), so an imported rule obeys every invariant of one created by
hand, and returns one :class:`ItemResult` per item:

- ``imported`` with our new id;
- ``skipped``: imported before (the ClickSend ids already imported are kept in
  the ``clicksend_import`` app setting, so re-running duplicates nothing, and a
  rule deleted here after an import is not brought back), or a template whose
  exact twin (same name, or the same name with the " (ClickSend)" suffix, and
  the same body) is already here;
- ``refused`` with the reason, e.g. an AUTO_REPLY without a reply text.

Templates come first, in ClickSend's order (by id). A template whose name is
taken here by a different body is imported as "name (ClickSend)" (then
"name (ClickSend 2)" …): both are kept, nothing is overwritten.

Rules are created in ClickSend's running order (creation order, i.e. by
``inbound_rule_id``) after every existing rule, in steps of ten. They are
created DISABLED unless the caller asks to enable them: ClickSend keeps running
its own rules until they are switched off there, and both answering would reply
twice to each customer. A rule disabled at ClickSend stays disabled either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import message_templates, rules
from bot.message_templates import InvalidTemplate
from bot.models import AppSetting, MessageTemplate, Role, Rule, User
from bot.providers.base import InboundRule, SmsTemplate
from bot.rule_clicksend import InvalidClickSendRule, Mapped, from_request
from bot.rule_fields import MAX_PRIORITY, InvalidRule, RuleDraft
from bot.rule_import_fetch import Fetched, ImportFailed, fetch_account

__all__ = ["Fetched", "ImportFailed", "ImportReport", "ItemResult", "fetch_account"]

log = logging.getLogger(__name__)

MEMORY_KEY = "clicksend_import"  # AppSetting: {"rules": {cs id: our id}, "templates": {...}}
NAME_SUFFIX = "ClickSend"
MAX_RENAMES = 5

Status = Literal["imported", "skipped", "refused"]


@dataclass(frozen=True)
class ItemResult:
    clicksend_id: int
    name: str
    status: Status
    message: str
    id: int | None = None  # ours: the rule or template created, or the one already here
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    templates: tuple[ItemResult, ...]
    rules: tuple[ItemResult, ...]
    enabled: bool  # whether rules enabled at ClickSend were imported enabled

    def count(self, status: Status) -> int:
        return sum(1 for item in (*self.templates, *self.rules) if item.status == status)


# -- writing --------------------------------------------------------------------------


@dataclass
class Memory:
    """The ClickSend ids imported before, as text (JSON keys), → our ids."""

    row: AppSetting
    rules: dict[str, int] = field(default_factory=dict)
    templates: dict[str, int] = field(default_factory=dict)

    def save(self) -> None:
        self.row.value = json.dumps({"rules": self.rules, "templates": self.templates})


async def import_fetched(
    session: AsyncSession,
    fetched: Fetched,
    *,
    enable: bool,
    user_email: str | None,
    default_region: str,
    account: str = "",
) -> ImportReport:
    """Create the fetched templates, then rules, in the caller's transaction.

    ``user_email`` stands for ClickSend's account user (EMAIL_USER's address);
    ``account`` names the ClickSend account (its API username): what was imported is
    remembered per account, since two accounts number their rules alike.
    """
    memory = await _memory(session, memory_key(account))
    templates = [await _import_template(session, item, memory) for item in fetched.templates]
    importer = _RuleImporter(session, memory, enable, user_email, default_region)
    rule_results = await importer.run_all(fetched.rules)
    memory.save()
    await session.flush()
    return ImportReport(tuple(templates), tuple(rule_results), enable)


async def first_admin_email(session: AsyncSession) -> str | None:
    """Who stands for ClickSend's account user (EMAIL_USER) when nobody signed in
    asked: the first admin."""
    return await session.scalar(
        select(User.email).where(User.role == Role.ADMIN).order_by(User.id).limit(1)
    )


def memory_key(account: str) -> str:
    """The AppSetting key of an account's import memory (a digest: usernames are long)."""
    if not account:
        return MEMORY_KEY
    return f"{MEMORY_KEY}:{hashlib.sha256(account.encode()).hexdigest()[:32]}"


async def _memory(session: AsyncSession, key: str) -> Memory:
    """The memory row, locked (PostgreSQL) so two imports at once run one after the other."""
    row = await session.get(AppSetting, key, with_for_update=True)
    if row is None:
        try:
            async with session.begin_nested():
                row = AppSetting(key=key, value="{}")
                session.add(row)
        except IntegrityError:
            row = await session.get_one(
                AppSetting, key, with_for_update=True, populate_existing=True
            )
    return Memory(row, *_remembered(row.value))


def _remembered(raw: str) -> tuple[dict[str, int], dict[str, int]]:
    try:
        data = json.loads(raw)
        return dict(data.get("rules", {})), dict(data.get("templates", {}))
    except (ValueError, TypeError, AttributeError):
        log.warning("the %s setting is unreadable; starting it again", MEMORY_KEY)
        return {}, {}


# -- templates ------------------------------------------------------------------------


async def _import_template(session: AsyncSession, item: SmsTemplate, memory: Memory) -> ItemResult:
    key = str(item.template_id)
    if key in memory.templates:
        return await _imported_before(session, item, MessageTemplate, memory.templates[key])
    try:
        draft = message_templates.parse_template(item.name, item.body)
        return await _place_template(session, item, draft, memory)
    except InvalidTemplate as exc:
        return ItemResult(item.template_id, item.name, "refused", f"{exc.field}: {exc.problem}")


async def _place_template(
    session: AsyncSession, item: SmsTemplate, draft: message_templates.TemplateDraft, memory: Memory
) -> ItemResult:
    """Under its own name, or the first free "name (ClickSend)" variant; a twin
    (same candidate name, same body) already here counts as imported before."""
    for name in candidate_names(draft.name):
        here = await session.scalar(select(MessageTemplate).where(MessageTemplate.name == name))
        if here is not None and here.body == draft.body:
            memory.templates[str(item.template_id)] = here.id
            message = f"the same template is already here, as template {here.id} {name!r}"
            return ItemResult(item.template_id, item.name, "skipped", message, here.id)
        if here is None:
            named = message_templates.TemplateDraft(name, draft.body, draft.warnings)
            saved = await message_templates.create_template(session, named)
            memory.templates[str(item.template_id)] = saved.template.id
            return _template_imported(item, saved, renamed=name != draft.name)
    message = f"template_name: {draft.name!r} and its {NAME_SUFFIX} variants are all taken"
    return ItemResult(item.template_id, item.name, "refused", message)


def _template_imported(
    item: SmsTemplate, saved: message_templates.SavedTemplate, *, renamed: bool
) -> ItemResult:
    template = saved.template
    message = f"imported as {template.name!r} (the name was taken)" if renamed else "imported"
    return ItemResult(
        item.template_id, item.name, "imported", message, template.id, tuple(saved.warnings)
    )


def candidate_names(name: str) -> Iterator[str]:
    """``name``, then ``name (ClickSend)``, ``name (ClickSend 2)`` …, each within the
    name limit (the name is shortened to make room for the suffix)."""
    yield name
    for number in range(1, MAX_RENAMES + 1):
        suffix = f" ({NAME_SUFFIX})" if number == 1 else f" ({NAME_SUFFIX} {number})"
        yield name[: message_templates.MAX_NAME - len(suffix)].rstrip() + suffix


# -- rules ----------------------------------------------------------------------------


class _RuleImporter:
    """Creates rules one after another, each ten after the previous (after every
    rule already here)."""

    def __init__(
        self,
        session: AsyncSession,
        memory: Memory,
        enable: bool,
        user_email: str | None,
        default_region: str,
    ) -> None:
        self.session, self.memory, self.enable = session, memory, enable
        self.user_email, self.region = user_email, default_region
        self.priority: int | None = None

    async def run_all(self, items: Sequence[InboundRule]) -> list[ItemResult]:
        """Every rule, then one ``rules_version`` bump and one conflict check for all
        (per rule, both would make a large import quadratic, under the write lock)."""
        results = [await self.run(item) for item in items]
        created = {result.id for result in results if result.status == "imported"}
        if not created:
            return results
        await rules.bump_rules_version(self.session)
        found = await _conflicts(self.session, created)
        return [
            replace(result, warnings=(*result.warnings, *found[result.id]))
            if result.status == "imported" and result.id in found
            else result
            for result in results
        ]

    async def run(self, item: InboundRule) -> ItemResult:
        key = str(item.rule_id)
        if key in self.memory.rules:
            return await _imported_before(self.session, item, Rule, self.memory.rules[key])
        if self.priority is None:
            self.priority = await _last_priority(self.session)
        try:
            mapped, saved = await self._create(item, self.priority + rules.PRIORITY_STEP)
        except InvalidClickSendRule as exc:
            message = f"{exc.field}: {exc.problem}"
            return ItemResult(item.rule_id, item.name, "refused", message)
        except RefusedRule as exc:
            return ItemResult(item.rule_id, item.name, "refused", str(exc))
        self.memory.rules[key] = saved.rule.id
        self.priority = saved.rule.priority
        state = "enabled" if saved.rule.enabled else "disabled"
        warnings = (*mapped.warnings, *saved.warnings)
        message = f"imported as rule {saved.rule.id}, {state}"
        return ItemResult(item.rule_id, item.name, "imported", message, saved.rule.id, warnings)

    async def _create(self, item: InboundRule, priority: int) -> tuple[Mapped, rules.SavedRule]:
        mapped = mapped_rule(item, self.user_email)
        mapped.fields["enabled"] = self.enable and item.enabled
        mapped.fields["priority"] = min(priority, MAX_PRIORITY)
        try:
            draft: RuleDraft = rules.parse_rule(mapped.fields, default_region=self.region)
            return mapped, await rules.add_rule(self.session, draft)
        except InvalidRule as exc:
            raise RefusedRule(_named(mapped, exc)) from None


class RefusedRule(ValueError):
    """A rule refused, its message already in ClickSend's field names."""


def mapped_rule(item: InboundRule, user_email: str | None) -> Mapped:
    """Our rule fields for a ClickSend rule (InvalidClickSendRule / RefusedRule)."""
    if item.action.strip().upper() == "EMAIL_USER" and not item.action_address and not user_email:
        raise RefusedRule(
            "action: EMAIL_USER emails ClickSend's account user, and there is no user "
            "here to stand in for them; create an admin user, or recreate the rule "
            "with EMAIL_FIXED and an address"
        )
    payload = {
        "rule_name": item.name,
        "dedicated_number": item.number,
        "message_search_type": item.search_type,
        "message_search_term": item.search_term,
        "action": item.action,
        "action_address": item.action_address,
        "body": item.body,
    }
    if item.webhook_type:
        payload["webhook_type"] = item.webhook_type
    return from_request(payload, {}, user_email=user_email or "")


def _named(mapped: Mapped, exc: InvalidRule) -> str:
    return "; ".join(
        f"{mapped.request_field(path)}: {problem}" for path, problem in exc.errors.items()
    )


async def _imported_before(
    session: AsyncSession,
    item: InboundRule | SmsTemplate,
    model: type[Rule] | type[MessageTemplate],
    our_id: int,
) -> ItemResult:
    """Skipped: imported before. One deleted here since stays deleted (someone chose to)."""
    clicksend_id = item.rule_id if isinstance(item, InboundRule) else item.template_id
    kind = "rule" if model is Rule else "template"
    if await session.get(model, our_id) is None:
        message = f"imported before, as {kind} {our_id}, and deleted here since"
        return ItemResult(clicksend_id, item.name, "skipped", message)
    message = f"imported before, as {kind} {our_id}"
    return ItemResult(clicksend_id, item.name, "skipped", message, our_id)


async def _conflicts(session: AsyncSession, ids: set[int | None]) -> dict[int, list[str]]:
    """Conflicts among the enabled rules that involve the rules ``ids``, by rule."""
    stored = await rules.list_rules(session)
    names = {rule.id: rule.name for rule in stored}
    found: dict[int, list[str]] = {}
    for conflict in rules.conflicts_of(stored):
        message = rules.describe_conflict(conflict, names)
        for rule_id in sorted({conflict.rule_id, conflict.other_rule_id} & ids):
            found.setdefault(rule_id, []).append(message)
    return found


async def _last_priority(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(Rule.priority))) or 0
