"""The keyword bot workbench: rules in running order with their hits and
conflicts, the rule form, enable/disable, move up/down, delete, and the
"try a message" box.

Handlers are thin: bot/rules.py holds every invariant and writes in the
view's transaction; a refused form is shown again (400) with the person's
input and each message next to its field or row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import matching, rule_import, rule_trial, rules
from bot.models import ContactList, MessageTemplate, Rule, User
from bot.rule_trial import InvalidTrial
from bot.rule_validation import ACTIONS, CONDITIONS, URL_METHODS
from bot.rules import InvalidRule, RuleDraft
from inbox.keys import SERVICES
from inbox.views import _rule_text as text
from inbox.views._page import (
    form_text,
    just_saved,
    path_id,
    read_form,
    render_page,
    saved_redirect,
)
from inbox.views._rule_form import RuleForm, form_of, read_rule_form

NEW_RULE = {"match_type": "first_word", "actions": [{"type": "reply", "body": ""}]}


@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    enabled: bool
    priority: int
    match: str
    numbers: str
    conditions: list[str]
    actions: list[str]
    continue_matching: bool
    hit_count: int
    last_hit: str
    warnings: list[str]
    first: bool
    last: bool


# -- the list -------------------------------------------------------------------------


async def rules_index(request: web.Request) -> web.Response:
    return await _index(request, {})


async def _index(request: web.Request, extra: dict[str, Any], status: int = 200) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        rows, conflicts = await rule_rows(session)
    context = {
        "rules": rows,
        "conflicts": conflicts,
        "deleted": request.query.get("deleted") == "1",
        "trial": None,
        "try_values": {"body": "", "from": "", "to": ""},
        "try_errors": {},
        "import_error": None,
        "import_enable": False,
        **extra,
    }
    return render_page(request, "rules/index.html", context, status=status)


async def rule_rows(session: AsyncSession) -> tuple[list[RuleRow], list[str]]:
    """Every rule in running order, described, with conflict warnings (3 statements)."""
    stored = await rules.list_rules(session)
    rows = await session.execute(select(MessageTemplate.id, MessageTemplate.name))
    templates = {template_id: name for template_id, name in rows}
    names = {rule.id: rule.name for rule in stored}
    by_rule: dict[int, list[str]] = {rule.id: [] for rule in stored}
    messages = []
    for conflict in rules.conflicts_of(stored):
        message = rules.describe_conflict(conflict, names)
        messages.append(message)
        for rule_id in (conflict.rule_id, conflict.other_rule_id):
            by_rule.setdefault(rule_id, []).append(message)
    last = len(stored) - 1
    rows = [
        _row(rule, templates, by_rule[rule.id], i == 0, i == last) for i, rule in enumerate(stored)
    ]
    return rows, messages


def _row(rule: Rule, templates: dict[int, str], warnings: list[str], first: bool, last: bool):
    return RuleRow(
        id=rule.id,
        name=rule.name,
        enabled=rule.enabled,
        priority=rule.priority,
        match=text.match_text(rule.match_type, rule.terms),
        numbers=text.numbers_text(rule.numbers),
        conditions=[text.condition_text(c) for c in rule.conditions],
        actions=[text.action_text(a, templates) for a in rule.actions],
        continue_matching=rule.continue_matching,
        hit_count=rule.hit_count,
        last_hit=rule.last_hit_at.strftime("%Y-%m-%d %H:%M UTC") if rule.last_hit_at else "",
        warnings=warnings,
        first=first,
        last=last,
    )


# -- create and edit ------------------------------------------------------------------


async def rule_new(request: web.Request) -> web.Response:
    return await _form_page(request, form_of(NEW_RULE), rule_id=None)


async def rule_create(request: web.Request) -> web.Response:
    return await _submit(request, rule_id=None)


async def rule_edit(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id")
    async with request.config_dict[SERVICES].sessionmaker() as session:
        rule = await _rule_or_404(session, rule_id)
        data = rules.fields_of(rule)
    return await _form_page(request, form_of(data), rule_id=rule_id, saved=just_saved(request))


async def rule_save(request: web.Request) -> web.Response:
    return await _submit(request, rule_id=path_id(request, "rule_id"))


async def _submit(request: web.Request, rule_id: int | None) -> web.Response:
    """Save the posted rule (a new one without ``rule_id``) and show it again, or
    the form with its errors."""
    form = read_rule_form(await read_form(request))
    adding = await _adding_row(request, form, rule_id=rule_id)
    if adding is not None:
        return adding
    services = request.config_dict[SERVICES]
    try:
        draft = rules.parse_rule(form.submitted(), default_region=services.settings.default_region)
        async with services.sessionmaker.begin() as session:
            saved_id = await _store(session, rule_id, draft)
    except InvalidRule as exc:
        form.show_errors(exc)
        return await _form_page(request, form, rule_id=rule_id, status=400)
    raise saved_redirect(request, "inbox.rule", rule_id=str(saved_id))


async def _store(session: AsyncSession, rule_id: int | None, draft: RuleDraft) -> int:
    if rule_id is None:
        return (await rules.create_rule(session, draft)).rule.id
    await _rule_or_404(session, rule_id)
    await rules.update_rule(session, rule_id, draft)
    return rule_id


async def _adding_row(request: web.Request, form: RuleForm, rule_id: int | None):
    """Without JavaScript, "Add a condition/action" submits the form: show it again
    with one more empty row, saving nothing."""
    kind = form_text(await request.post(), "add_row")
    if kind not in ("condition", "action"):
        return None
    form.add_row(kind)
    return await _form_page(request, form, rule_id=rule_id)


async def _rule_or_404(session: AsyncSession, rule_id: int) -> Rule:
    rule = await session.get(Rule, rule_id)
    if rule is None:
        raise web.HTTPNotFound(reason="No such rule")
    return rule


async def _form_page(
    request: web.Request,
    form: RuleForm,
    *,
    rule_id: int | None,
    saved: bool = False,
    status: int = 200,
) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        choices = await _choices(session)
        warnings = await _stored_warnings(session, rule_id) if saved else []
    context = {
        "form": form,
        "rule_id": rule_id,
        "saved": saved,
        "warnings": warnings,
        "match_types": [(m.value, matching.label(m)) for m in matching.MatchType],
        "condition_types": [(name, text.CONDITION_LABELS[name]) for name in CONDITIONS],
        "action_types": [(name, text.ACTION_LABELS[name]) for name in ACTIONS],
        "url_methods": URL_METHODS,
        **choices,
    }
    return render_page(request, "rules/form.html", context, status=status)


async def _choices(session: AsyncSession) -> dict[str, Any]:
    """What the form's selects and suggestions offer: templates, agents, lists."""
    templates = (await session.execute(select(MessageTemplate.id, MessageTemplate.name))).all()
    users = (await session.execute(select(User.email, User.name).order_by(User.email))).all()
    lists = list(await session.scalars(select(ContactList.name).order_by(ContactList.name)))
    return {
        "templates": [(str(i), name) for i, name in templates],
        "users": [(email, name) for email, name in users],
        "lists": lists,
    }


async def _stored_warnings(session: AsyncSession, rule_id: int | None) -> list[str]:
    """Warnings about the saved rule: template variables, missing lists, conflicts."""
    if rule_id is None:
        return []
    rule = await session.get(Rule, rule_id)
    if rule is None:
        return []
    try:
        draft = rules.parse_rule(rules.fields_of(rule))
        warnings = [*draft.warnings, *await rules.check_references(session, draft)]
    except InvalidRule as exc:  # a template it used changed since
        warnings = [str(exc)]
    return warnings + await rules.conflict_warnings(session, rule_id)


# -- one-click changes ----------------------------------------------------------------


async def rule_enable(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id")
    enabled = form_text(await read_form(request), "enabled") == "1"
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await _rule_or_404(session, rule_id)
        await rules.set_enabled(session, rule_id, enabled)
    raise web.HTTPSeeOther(_list_url(request, rule_id))


async def rule_move(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id")
    direction = form_text(await read_form(request), "direction")
    if direction not in ("up", "down"):
        raise web.HTTPBadRequest(reason="direction must be up or down")
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await _rule_or_404(session, rule_id)
        await rules.move_rule(session, rule_id, -1 if direction == "up" else 1)
    raise web.HTTPSeeOther(_list_url(request, rule_id))


async def rule_delete(request: web.Request) -> web.Response:
    rule_id = path_id(request, "rule_id")
    await read_form(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await _rule_or_404(session, rule_id)
        await rules.delete_rule(session, rule_id)
    url = request.app.router["inbox.rules"].url_for().with_query(deleted="1")
    raise web.HTTPSeeOther(url)


def _list_url(request: web.Request, rule_id: int) -> str:
    return str(request.app.router["inbox.rules"].url_for()) + f"#rule-{rule_id}"


# -- try a message --------------------------------------------------------------------


async def rules_try(request: web.Request) -> web.Response:
    """Run a message through the rules without writing or sending anything."""
    form = await read_form(request)
    values = {name: form_text(form, name) for name in ("body", "from", "to")}
    services = request.config_dict[SERVICES]
    region = services.settings.default_region
    try:
        async with services.sessionmaker() as session:
            trial = await rule_trial.trial(
                session, values["body"], values["from"], values["to"], default_region=region
            )
    except InvalidTrial as exc:
        extra = {"try_values": values, "try_errors": {exc.field: exc.problem}}
        return await _index(request, extra, status=400)
    return await _index(request, {"try_values": values, "trial": trial})


# -- import from ClickSend ------------------------------------------------------------


async def rules_import(request: web.Request) -> web.Response:
    """Bring the ClickSend account's rules and templates over (disabled unless asked)
    and show the report; ClickSend failing leaves everything as it was."""
    enable = form_text(await read_form(request), "enable") == "on"
    services = request.config_dict[SERVICES]
    try:
        if services.provider is None:
            raise rule_import.ImportFailed("No SMS provider is configured.")
        fetched = await rule_import.fetch_account(services.provider)
    except rule_import.ImportFailed as exc:
        extra = {"import_error": str(exc), "import_enable": enable}
        return await _index(request, extra, status=502)
    async with services.sessionmaker.begin() as session:
        report = await rule_import.import_fetched(
            session,
            fetched,
            enable=enable,
            user_email=await rule_import.first_admin_email(session),
            default_region=services.settings.default_region,
            account=services.clicksend_account,
        )
    return render_page(request, "rules/import_report.html", {"report": report})
