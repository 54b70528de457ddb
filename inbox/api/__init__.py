"""JSON API v1, mounted at /api/v1: ClickSend's envelope, pagination and search.

Basic auth (email : API key) on every route but the OpenAPI document. The
document in inbox/api/openapi.py describes exactly the routes registered here; a
test keeps the two in step.
"""

from __future__ import annotations

from aiohttp import web

from inbox.api import conversations, messages, openapi, optouts, rule_import, rules, templates
from inbox.api.auth import basic_auth
from inbox.api.envelope import api_errors

CONVERSATION = r"/conversations/{conversation_id:\d{1,18}}"
OPT_OUT = "/opt-outs/{phone_number}"
RULE = r"/rules/{rule_id:\d{1,18}}"
TEMPLATE = r"/templates/{template_id:\d{1,18}}"


def create_api_app() -> web.Application:
    app = web.Application(middlewares=[api_errors, basic_auth])
    router = app.router
    router.add_get("/openapi.json", openapi.openapi_json, name="api.openapi", allow_head=False)
    router.add_get(
        "/conversations",
        conversations.list_conversations,
        name="api.conversations",
        allow_head=False,
    )
    router.add_get(
        CONVERSATION + "/messages",
        conversations.list_messages,
        name="api.conversation.messages",
        allow_head=False,
    )
    router.add_post(CONVERSATION + "/messages", messages.reply, name="api.conversation.reply")
    router.add_post("/messages", messages.send, name="api.messages.send")
    _add_consent_routes(router)
    _add_bot_routes(router)
    return app


def _add_consent_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/opt-outs", optouts.list_opt_outs, name="api.opt_outs", allow_head=False)
    router.add_post("/opt-outs", optouts.create_opt_out, name="api.opt_outs.create")
    router.add_post("/opt-outs/import", optouts.import_list, name="api.opt_outs.import_list")
    router.add_post(
        "/opt-outs/import-clicksend-list",
        optouts.import_provider_list,
        name="api.opt_outs.import_clicksend_list",
    )
    router.add_delete(OPT_OUT, optouts.delete_opt_out, name="api.opt_out.delete")
    router.add_get(
        OPT_OUT + "/history", optouts.history, name="api.opt_out.history", allow_head=False
    )
    router.add_get(
        "/consent/export.csv", optouts.export_csv, name="api.consent.export", allow_head=False
    )
    router.add_post(
        CONVERSATION + "/possible-opt-out/confirm",
        optouts.confirm_possible,
        name="api.conversation.possible_opt_out.confirm",
    )
    router.add_post(
        CONVERSATION + "/possible-opt-out/dismiss",
        optouts.dismiss_possible,
        name="api.conversation.possible_opt_out.dismiss",
    )


def _add_bot_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/rules", rules.list_rules, name="api.rules", allow_head=False)
    router.add_post("/rules", rules.create_rule, name="api.rules.create")
    router.add_post("/rules/test", rules.test_message, name="api.rules.test")
    router.add_post(
        "/rules/import-clicksend", rule_import.import_clicksend, name="api.rules.import_clicksend"
    )
    router.add_get(RULE, rules.get_rule, name="api.rule", allow_head=False)
    router.add_put(RULE, rules.update_rule, name="api.rule.update")
    router.add_delete(RULE, rules.delete_rule, name="api.rule.delete")
    router.add_get("/templates", templates.list_templates, name="api.templates", allow_head=False)
    router.add_post("/templates", templates.create_template, name="api.templates.create")
    router.add_get(TEMPLATE, templates.get_template, name="api.template", allow_head=False)
    router.add_put(TEMPLATE, templates.update_template, name="api.template.update")
    router.add_delete(TEMPLATE, templates.delete_template, name="api.template.delete")
