"""Message templates pages: the list, the form with its validation messages, a
preview rendered with sample values and measured in SMS parts, and delete.

"Preview" submits the form without saving; "Save" validates, saves and shows
the template again with its warnings (unknown variables, too many parts).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot import message_templates, templating
from bot.encoding import measure
from bot.message_templates import InvalidTemplate, TemplateDraft
from bot.models import MessageTemplate
from inbox.keys import SERVICES
from inbox.views._page import (
    form_text,
    just_saved,
    path_id,
    read_form,
    render_page,
    saved_redirect,
)

SAMPLE = templating.build_context(
    contact={"first_name": "Ava", "last_name": "Nguyen", "phone_number": "+14155550101"},
    conversation={"id": 1, "status": "open", "our_number": "+61411111111"},
    message={"body": "price?", "phone_number": "+14155550101"},
    agent={"name": "Sam Agent", "first_name": "Sam"},
    business={"name": "Example Co"},
    match={"term": "price", "groups": [], "named": {}},
)


@dataclass(frozen=True)
class Preview:
    text: str
    encoding: str
    units: int
    parts: int
    warning: str | None
    error: str | None


def preview(body: str) -> Preview | None:
    """The body rendered with sample values, measured in SMS parts."""
    if not body.strip():
        return None
    try:
        rendered = templating.render(body, SAMPLE)
    except templating.RenderError as exc:
        return Preview("", "", 0, 0, None, str(exc))
    size = measure(rendered)
    encoding = "GSM-7" if size.encoding == "gsm7" else "Unicode (UCS-2)"
    return Preview(rendered, encoding, size.units, size.parts, size.warning, None)


async def templates_index(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        templates = await message_templates.list_templates(session)
    rows = [(t.id, t.name, t.body) for t in templates]
    deleted = request.query.get("deleted") == "1"
    return render_page(request, "templates/index.html", {"templates": rows, "deleted": deleted})


async def template_new(request: web.Request) -> web.Response:
    return _form(request, {"template_name": "", "body": ""}, template_id=None)


async def template_create(request: web.Request) -> web.Response:
    return await _submit(request, template_id=None)


async def template_edit(request: web.Request) -> web.Response:
    template_id = path_id(request, "template_id")
    async with request.config_dict[SERVICES].sessionmaker() as session:
        template = await _template_or_404(session, template_id)
    values = {"template_name": template.name, "body": template.body}
    saved = just_saved(request)
    return _form(request, values, template_id=template_id, saved=saved, show_preview=True)


async def template_save(request: web.Request) -> web.Response:
    return await _submit(request, template_id=path_id(request, "template_id"))


async def _submit(request: web.Request, template_id: int | None) -> web.Response:
    """Preview, or save the posted template (a new one without ``template_id``) and
    show it again, or the form with its error."""
    form = await read_form(request)
    values = _values(form)
    if form_text(form, "preview"):
        return _form(request, values, template_id=template_id, show_preview=True)
    try:
        draft = message_templates.parse_template(values["template_name"], values["body"])
        async with request.config_dict[SERVICES].sessionmaker.begin() as session:
            saved_id = await _store(session, template_id, draft)
    except InvalidTemplate as exc:
        errors = {exc.field: str(exc)}
        return _form(request, values, template_id=template_id, errors=errors, status=400)
    raise saved_redirect(request, "inbox.template", template_id=str(saved_id))


async def _store(session, template_id: int | None, draft: TemplateDraft) -> int:
    if template_id is None:
        return (await message_templates.create_template(session, draft)).template.id
    await _template_or_404(session, template_id)
    await message_templates.update_template(session, template_id, draft)
    return template_id


async def template_delete(request: web.Request) -> web.Response:
    template_id = path_id(request, "template_id")
    await read_form(request)
    try:
        async with request.config_dict[SERVICES].sessionmaker.begin() as session:
            template = await _template_or_404(session, template_id)
            values = {"template_name": template.name, "body": template.body}
            await message_templates.delete_template(session, template_id)
    except InvalidTemplate as exc:
        errors = {"delete": exc.problem}
        return _form(request, values, template_id=template_id, errors=errors, status=400)
    url = request.app.router["inbox.templates"].url_for().with_query(deleted="1")
    raise web.HTTPSeeOther(url)


async def _template_or_404(session, template_id: int) -> MessageTemplate:
    template = await session.get(MessageTemplate, template_id)
    if template is None:
        raise web.HTTPNotFound(reason="No such template")
    return template


def _values(form) -> dict[str, str]:
    return {"template_name": form_text(form, "template_name"), "body": form_text(form, "body")}


def _form(
    request: web.Request,
    values: dict[str, str],
    *,
    template_id: int | None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    show_preview: bool = False,
    status: int = 200,
) -> web.Response:
    warnings: list[str] = []
    if not errors and values["body"].strip():
        try:
            warnings = message_templates.check_body(values["body"])
        except InvalidTemplate as exc:
            errors = {"body": str(exc)}
    context = {
        "values": values,
        "errors": errors or {},
        "warnings": warnings,
        "template_id": template_id,
        "saved": saved,
        "preview": preview(values["body"]) if show_preview and not errors else None,
    }
    return render_page(request, "templates/form.html", context, status=status)
