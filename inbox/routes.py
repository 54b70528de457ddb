"""Every URL of the inbox in one place; route names are dotted and templates
mirror them (``inbox.conversation`` → templates/inbox/conversation.html)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from inbox.api import create_api_app
from inbox.views import (
    bot_settings,
    clicksend_settings,
    consent,
    conversations,
    health,
    rules,
    settings,
    simulate,
    templates,
)

STATIC = Path(__file__).resolve().parent / "static"


def setup(app: web.Application) -> None:
    router = app.router
    router.add_get("/healthz", health.healthz, name="healthz")
    router.add_get("/", conversations.conversation_list, name="inbox.conversations")
    router.add_get(
        "/conversations/{conversation_id:\\d+}",
        conversations.conversation_detail,
        name="inbox.conversation",
    )
    router.add_post(
        "/conversations/{conversation_id:\\d+}/reply",
        conversations.conversation_reply,
        name="inbox.conversation.reply",
    )
    router.add_post(
        "/conversations/{conversation_id:\\d+}/opt-out",
        conversations.record_opt_out,
        name="inbox.conversation.optout",
    )
    router.add_post(
        "/conversations/{conversation_id:\\d+}/opt-out/confirm",
        conversations.confirm_opt_out,
        name="inbox.conversation.optout.confirm",
    )
    router.add_post(
        "/conversations/{conversation_id:\\d+}/opt-out/dismiss",
        conversations.dismiss_opt_out,
        name="inbox.conversation.optout.dismiss",
    )
    router.add_get("/consent", consent.consent_index, name="inbox.consent.index")
    router.add_get("/consent/export.csv", consent.consent_export, name="inbox.consent.export")
    router.add_post("/consent/import", consent.consent_import, name="inbox.consent.import_list")
    router.add_get("/contacts/{phone}/consent", consent.contact_consent, name="inbox.consent")
    compliance = router.add_resource("/settings/compliance", name="inbox.settings.compliance")
    compliance.add_route("GET", settings.compliance_form)
    compliance.add_route("POST", settings.compliance_save)
    clicksend = router.add_resource("/settings/clicksend", name="inbox.settings.clicksend")
    clicksend.add_route("GET", clicksend_settings.clicksend_form)
    clicksend.add_route("POST", clicksend_settings.clicksend_save)
    router.add_get("/simulate", simulate.simulate_form, name="inbox.simulate")
    router.add_post("/simulate", simulate.simulate_submit, name="inbox.simulate.submit")
    _add_workbench(router)
    router.add_static("/static", STATIC, name="static")
    app.add_subapp("/api/v1", create_api_app())


RULE = "/rules/{rule_id:\\d+}"
TEMPLATE = "/templates/{template_id:\\d+}"


def _add_workbench(router: web.UrlDispatcher) -> None:
    """The keyword bot workbench: rules, the try-a-message box, message templates."""
    router.add_get("/rules", rules.rules_index, name="inbox.rules")
    router.add_post("/rules/try", rules.rules_try, name="inbox.rules.trial")
    router.add_post(
        "/rules/import-clicksend", rules.rules_import, name="inbox.rules.import_clicksend"
    )
    _form_resource(router, "/rules/new", "inbox.rules.new", rules.rule_new, rules.rule_create)
    _form_resource(router, RULE, "inbox.rule", rules.rule_edit, rules.rule_save)
    router.add_post(RULE + "/enabled", rules.rule_enable, name="inbox.rule.enable")
    router.add_post(RULE + "/move", rules.rule_move, name="inbox.rule.move")
    router.add_post(RULE + "/delete", rules.rule_delete, name="inbox.rule.delete")
    _form_resource(
        router,
        "/settings/bot",
        "inbox.settings.bot",
        bot_settings.bot_settings_form,
        bot_settings.bot_settings_save,
    )
    router.add_get("/templates", templates.templates_index, name="inbox.templates")
    _form_resource(
        router,
        "/templates/new",
        "inbox.templates.new",
        templates.template_new,
        templates.template_create,
    )
    _form_resource(
        router, TEMPLATE, "inbox.template", templates.template_edit, templates.template_save
    )
    router.add_post(TEMPLATE + "/delete", templates.template_delete, name="inbox.template.delete")


def _form_resource(router: web.UrlDispatcher, path: str, name: str, show, submit) -> None:
    resource = router.add_resource(path, name=name)
    resource.add_route("GET", show)
    resource.add_route("POST", submit)
