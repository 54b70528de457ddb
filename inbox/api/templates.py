"""/templates: message templates in ClickSend's ``/sms/templates`` shape
(``template_id``, ``template_name``, ``body``).

Saving validates the body (bot/message_templates.py): a syntax error or a
sandbox escape attempt is a 400 naming ``body`` with the line and column; an
unknown variable is returned in ``warnings``. A PUT may leave out a field to
keep it. Deleting a template a rule replies with is refused (400).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot import message_templates
from bot.contacts import NotFound
from bot.message_templates import InvalidTemplate
from bot.models import MessageTemplate
from inbox.api.envelope import bad_request, envelope
from inbox.api.inputs import json_object
from inbox.api.pagination import page_data, page_request
from inbox.api.search import MAX_ID, Searchable, order_clause, text_field, where_clause
from inbox.keys import SERVICES

TEMPLATES = Searchable(
    fields={"template_name": text_field(MessageTemplate.name)},
    sorts={
        "template_id": (MessageTemplate.id,),
        "template_name": (MessageTemplate.name, MessageTemplate.id),
    },
    default_order=("template_id", "asc"),
)
FIELDS = frozenset({"template_name", "body", "template_id", "warnings"})


def template_item(template: MessageTemplate) -> dict[str, Any]:
    return {"template_id": template.id, "body": template.body, "template_name": template.name}


async def list_templates(request: web.Request) -> web.Response:
    page = page_request(request.query)
    order = order_clause(request.query, TEMPLATES)
    clause = where_clause(request.query, TEMPLATES)
    statement = select(MessageTemplate)
    statement = statement if clause is None else statement.where(clause)
    async with request.config_dict[SERVICES].sessionmaker() as session:
        counted = statement.with_only_columns(func.count(), maintain_column_froms=True)
        total = await session.scalar(counted) or 0
        rows = await session.scalars(
            statement.order_by(*order).limit(page.limit).offset(page.offset)
        )
        items = [template_item(row) for row in rows]
    return envelope(page_data(request.rel_url, page, total, items))


async def get_template(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        template = await message_templates.get_template(session, path_template_id(request))
        return envelope(template_item(template))


async def create_template(request: web.Request) -> web.Response:
    payload = _checked_fields(await json_object(request))
    draft = _draft(payload.get("template_name"), payload.get("body"))
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        saved = await _saving(message_templates.create_template(session, draft))
        item = {**template_item(saved.template), "warnings": saved.warnings}
    return envelope(item, response_msg="New template has been saved.")


async def update_template(request: web.Request) -> web.Response:
    payload = _checked_fields(await json_object(request))
    template_id = path_template_id(request)
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        current = await message_templates.get_template(session, template_id)
        draft = _draft(
            payload.get("template_name", current.name), payload.get("body", current.body)
        )
        saved = await _saving(message_templates.update_template(session, template_id, draft))
        item = {**template_item(saved.template), "warnings": saved.warnings}
    return envelope(item, response_msg="Your template has been updated.")


async def delete_template(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker.begin() as session:
        await _saving(message_templates.delete_template(session, path_template_id(request)))
    return envelope([], response_msg="Your template has been deleted.")


def path_template_id(request: web.Request) -> int:
    template_id = int(request.match_info["template_id"])
    if template_id > MAX_ID:
        raise NotFound(f"template {template_id} does not exist")
    return template_id


def _checked_fields(payload: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise bad_request(str(unknown[0])[:40], "is not a field of a template")
    return payload


def _draft(name: object, body: object) -> message_templates.TemplateDraft:
    try:
        return message_templates.parse_template(name, body)
    except InvalidTemplate as exc:
        raise bad_request(exc.field, exc.problem) from None


async def _saving(call):
    try:
        return await call
    except InvalidTemplate as exc:
        raise bad_request(exc.field, exc.problem) from None
