"""Every URL of the inbox in one place; route names are dotted and templates
mirror them (``inbox.conversation`` → templates/inbox/conversation.html)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from inbox.api import create_api_app
from inbox.views import clicksend_settings, consent, conversations, health, settings, simulate

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
    router.add_static("/static", STATIC, name="static")
    app.add_subapp("/api/v1", create_api_app())
