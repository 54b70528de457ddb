"""GET /openapi.json: the hand-written OpenAPI 3.1 description of this API.

Written by hand so it reads like documentation; the searchable and sortable
field lists come from the same whitelists the handlers use, and
tests/inbox/api/test_api_openapi.py checks every registered route appears here.
Each resource's paths and schemas live in its own module (openapi_conversations,
openapi_optouts, openapi_bot); openapi_common holds the shared parts. This module
puts them together.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inbox.api import openapi_bot, openapi_conversations, openapi_optouts
from inbox.api.openapi_common import ENVELOPE, PAGE, PARAMETERS, RESPONSES

PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document (not enveloped)."}},
        }
    },
    **openapi_conversations.PATHS,
    **openapi_optouts.PATHS,
    **openapi_bot.PATHS,
}

# In the order the document has always listed them.
SCHEMAS: dict[str, Any] = {
    "Envelope": ENVELOPE,
    **openapi_conversations.SCHEMAS,
    "Page": PAGE,
    **openapi_conversations.PAGES,
    **openapi_optouts.SCHEMAS,
    **openapi_conversations.INPUTS,
    **openapi_bot.SCHEMAS,
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "smsdesk API",
        "version": "1",
        "description": "ClickSend-style JSON API: every response is an envelope "
        "`{http_code, response_code, response_msg, data}`; lists are paginated "
        "(`page`, `limit`) and searchable (`q`, `order_by`, `operator`).",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"basicAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "Username: your email. Password: an API key "
                "(`smsdesk api-key create EMAIL`).",
            }
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
    },
}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(DOCUMENT)
