"""JSON API v1, mounted at /api/v1: ClickSend's envelope, pagination and search.

Basic auth (email : API key) on every route but the OpenAPI document. The
document in inbox/api/openapi.py describes exactly the routes registered here; a
test keeps the two in step.
"""

from __future__ import annotations

from aiohttp import web

from inbox.api import conversations, messages, openapi
from inbox.api.auth import basic_auth
from inbox.api.envelope import api_errors

CONVERSATION = r"/conversations/{conversation_id:\d{1,18}}"


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
    return app
