"""JSON API v1, mounted at /api/v1: ClickSend's envelope, pagination and search.

Basic auth (email : API key) on every route but the OpenAPI document. The
document in inbox/api/openapi.py describes exactly the routes registered here; a
test keeps the two in step.
"""

from __future__ import annotations

from aiohttp import web

from inbox.api import conversations, messages, openapi, optouts
from inbox.api.auth import basic_auth
from inbox.api.envelope import api_errors

CONVERSATION = r"/conversations/{conversation_id:\d{1,18}}"
OPT_OUT = "/opt-outs/{phone_number}"


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
