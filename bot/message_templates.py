"""Named message templates (ClickSend's ``/sms/templates``: template_id,
template_name, body), shared by rules, agents' canned replies and campaigns.

Saving validates the body with the sandboxed renderer's checks
(``templating.validate``): a syntax error or an attempt to reach Python
internals refuses the save with the line and column; an unknown variable is a
warning returned to the caller. Names are unique. A template a rule replies
with cannot be deleted. Service functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import templating
from bot.contacts import NotFound
from bot.models import MessageTemplate, Rule
from bot.rule_validation import issue_text

MAX_NAME = 100
MAX_BODY = 1600


class InvalidTemplate(ValueError):
    """A field of a template is refused; ``field`` is its ClickSend name."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class TemplateDraft:
    name: str
    body: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SavedTemplate:
    template: MessageTemplate
    warnings: list[str]


def parse_template(name: object, body: object) -> TemplateDraft:
    """Validate a template's name and body; raise InvalidTemplate naming the field."""
    if name is None:
        raise InvalidTemplate("template_name", "is required")
    if not isinstance(name, str):
        raise InvalidTemplate("template_name", "must be a string")
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidTemplate("template_name", f"must be 1 to {MAX_NAME} characters")
    text = _body(body)
    return TemplateDraft(name=name, body=text, warnings=tuple(check_body(text)))


def _body(body: object) -> str:
    if body is None:
        raise InvalidTemplate("body", "is required")
    if not isinstance(body, str):
        raise InvalidTemplate("body", "must be a string")
    if not body.strip():
        raise InvalidTemplate("body", "must not be empty")
    if len(body) > MAX_BODY:
        raise InvalidTemplate("body", f"must be at most {MAX_BODY} characters")
    return body


def check_body(body: str) -> list[str]:
    """The template's warnings; raise InvalidTemplate for its first error."""
    result = templating.validate(body)
    if result.errors:
        raise InvalidTemplate("body", issue_text(result.errors[0]))
    return [f"body: {issue_text(issue)}" for issue in result.warnings]


async def list_templates(session: AsyncSession) -> list[MessageTemplate]:
    return list(await session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)))


async def get_template(session: AsyncSession, template_id: int) -> MessageTemplate:
    template = await session.get(MessageTemplate, template_id)
    if template is None:
        raise NotFound(f"template {template_id} does not exist")
    return template


async def create_template(session: AsyncSession, draft: TemplateDraft) -> SavedTemplate:
    template = MessageTemplate(name=draft.name, body=draft.body)
    await _save(session, template)
    return SavedTemplate(template, list(draft.warnings))


async def update_template(
    session: AsyncSession, template_id: int, draft: TemplateDraft
) -> SavedTemplate:
    template = await get_template(session, template_id)
    template.name, template.body = draft.name, draft.body
    await _save(session, template)
    return SavedTemplate(template, list(draft.warnings))


async def _save(session: AsyncSession, template: MessageTemplate) -> None:
    """Flush in a savepoint: a name taken meanwhile is a field error, not a failed
    transaction (the unique index decides races)."""
    taken = await session.scalar(
        select(func.count())
        .select_from(MessageTemplate)
        .where(MessageTemplate.name == template.name, MessageTemplate.id != template.id)
    )
    if taken:
        raise _name_taken(template.name)
    try:
        async with session.begin_nested():
            session.add(template)
    except IntegrityError:
        raise _name_taken(template.name) from None


def _name_taken(name: str) -> InvalidTemplate:
    return InvalidTemplate("template_name", f"a template named {name!r} already exists")


async def delete_template(session: AsyncSession, template_id: int) -> None:
    template = await get_template(session, template_id)
    users = await rules_using(session, template_id)
    if users:
        names = ", ".join(repr(name) for name in users[:3])
        raise InvalidTemplate("template_id", f"is used by rule {names}; change the rule first")
    await session.delete(template)
    await session.flush()


async def rules_using(session: AsyncSession, template_id: int) -> list[str]:
    """Names of the rules that reply with the template (actions are JSON: read in Python)."""
    rows = await session.execute(select(Rule.name, Rule.actions).order_by(Rule.id))
    return [
        name
        for name, actions in rows
        if any(action.get("template_id") == template_id for action in actions or [])
    ]


async def template_bodies(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(MessageTemplate.id, MessageTemplate.body).where(MessageTemplate.id.in_(ids))
    )
    return {template_id: body for template_id, body in rows}
