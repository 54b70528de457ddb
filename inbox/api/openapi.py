"""GET /openapi.json: the hand-written OpenAPI 3.1 description of this API.

Written by hand so it reads like documentation; the searchable and sortable
field lists come from the same whitelists the handlers use, and
tests/inbox/api/test_api_openapi.py checks every registered route appears here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.models import ConversationStatus, Direction, MessageStatus
from inbox.api.conversations import CONVERSATIONS, MESSAGES
from inbox.api.inputs import MAX_BODY_BYTES
from inbox.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, MIN_LIMIT
from inbox.api.search import Searchable

REF = "#/components"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def _values(kind: type) -> list[str]:
    return [member.value for member in kind]


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [_ref("schemas", "Envelope"), {"properties": {"data": data}}]}


def _ok(description: str, data_schema: str) -> dict[str, Any]:
    schema = _envelope(_ref("schemas", data_schema))
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    names = {
        "400": "BadRequest",
        "401": "Unauthorized",
        "403": "OptedOut",
        "404": "NotFound",
        "413": "PayloadTooLarge",
        "500": "InternalError",
    }
    return {code: _ref("responses", names[code]) for code in (*codes, "401", "500")}


def _search_params(searchable: Searchable) -> list[dict[str, Any]]:
    fields, sorts = ", ".join(searchable.fields), ", ".join(searchable.sorts)
    default = ":".join(searchable.default_order)
    return [
        _ref("parameters", "page"),
        _ref("parameters", "limit"),
        {
            "name": "q",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Filter: `field:value[,field:value]`, case-insensitive; text fields "
            "match a substring, others exactly; `field:` matches any value. "
            f"Fields: {fields}.",
            "example": "status:open",
        },
        {
            "name": "order_by",
            "in": "query",
            "schema": {"type": "string", "default": default},
            "description": f"`field:asc` or `field:desc`. Fields: {sorts}.",
        },
        _ref("parameters", "operator"),
    ]


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref("schemas", schema)}}}


PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI document (not enveloped)."}},
        }
    },
    "/conversations": {
        "get": {
            "summary": "List conversations, most recently active first",
            "operationId": "listConversations",
            "parameters": _search_params(CONVERSATIONS),
            "responses": {
                "200": _ok("A page of conversations.", "ConversationPage"),
                **_errors("400"),
            },
        }
    },
    "/conversations/{conversation_id}/messages": {
        "parameters": [_ref("parameters", "conversation_id")],
        "get": {
            "summary": "List a conversation's messages, oldest first",
            "operationId": "listMessages",
            "parameters": _search_params(MESSAGES),
            "responses": {
                "200": _ok("A page of messages.", "MessagePage"),
                **_errors("400", "404"),
            },
        },
        "post": {
            "summary": "Queue a reply in the conversation, from the number the customer texted",
            "operationId": "replyToConversation",
            "requestBody": _json_body("Reply"),
            "responses": {
                "200": _ok("The queued message.", "Message"),
                **_errors("400", "403", "404", "413"),
            },
        },
    },
    "/messages": {
        "post": {
            "summary": "Queue a message to a number, opening its conversation if needed",
            "description": "Without `from`, the message joins the customer's most recently "
            "active conversation (or a new one sent from the default sender).",
            "operationId": "sendMessage",
            "requestBody": _json_body("SendMessage"),
            "responses": {
                "200": _ok("The queued message.", "Message"),
                **_errors("400", "403", "413"),
            },
        }
    },
}

NULLABLE_STRING = {"type": ["string", "null"]}
UNIX = {"type": "integer", "description": "Unix time in seconds."}

SCHEMAS: dict[str, Any] = {
    "Envelope": {
        "type": "object",
        "required": ["http_code", "response_code", "response_msg", "data"],
        "properties": {
            "http_code": {"type": "integer", "description": "Repeats the HTTP status."},
            "response_code": {
                "type": "string",
                "description": "SUCCESS, or BAD_REQUEST, UNAUTHORIZED, OPTED_OUT, NOT_FOUND, "
                "METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, INTERNAL_SERVER_ERROR.",
            },
            "response_msg": {
                "type": "string",
                "description": "Human-readable. On a 400 it starts with the field's name, "
                "e.g. `to: ...`.",
            },
            "data": {"description": "The result; `[]` on errors."},
        },
    },
    "Conversation": {
        "type": "object",
        "required": [
            "conversation_id",
            "phone_number",
            "our_number",
            "status",
            "unread_count",
            "last_message_at",
            "opted_out",
            "possible_opt_out",
            "first_name",
            "last_name",
        ],  # fmt: skip
        "properties": {
            "conversation_id": {"type": "integer"},
            "phone_number": {"type": "string", "description": "The customer, E.164."},
            "our_number": {"type": "string", "description": "The number the customer texted."},
            "status": {"type": "string", "enum": _values(ConversationStatus)},
            "unread_count": {"type": "integer"},
            "last_message_at": UNIX,
            "opted_out": {"type": "boolean", "description": "Sends to this thread are refused."},
            "possible_opt_out": {
                "type": "boolean",
                "description": "A message may have been an opt-out (not an exact keyword); "
                "an agent should confirm or dismiss it.",
            },
            "first_name": NULLABLE_STRING,
            "last_name": NULLABLE_STRING,
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "message_id",
            "conversation_id",
            "direction",
            "body",
            "status",
            "date",
            "provider_message_id",
            "error_text",
            "parts",
        ],  # fmt: skip
        "properties": {
            "message_id": {"type": "integer"},
            "conversation_id": {"type": "integer"},
            "direction": {"type": "string", "enum": _values(Direction)},
            "body": {"type": "string"},
            "status": {"type": "string", "enum": _values(MessageStatus)},
            "date": {**UNIX, "description": "When the message was created, unix seconds."},
            "provider_message_id": NULLABLE_STRING,
            "error_text": NULLABLE_STRING,
            "parts": {"type": "integer", "description": "SMS parts the body needs."},
        },
    },
    "Page": {
        "type": "object",
        "required": [
            "total",
            "per_page",
            "current_page",
            "last_page",
            "next_page_url",
            "prev_page_url",
            "from",
            "to",
            "data",
        ],  # fmt: skip
        "properties": {
            "total": {"type": "integer"},
            "per_page": {"type": "integer"},
            "current_page": {"type": "integer"},
            "last_page": {"type": "integer"},
            "next_page_url": {**NULLABLE_STRING, "description": "Absolute path, or null."},
            "prev_page_url": {**NULLABLE_STRING, "description": "Absolute path, or null."},
            "from": {"type": ["integer", "null"], "description": "1-based; null when empty."},
            "to": {"type": ["integer", "null"], "description": "1-based; null when empty."},
            "data": {"type": "array"},
        },
    },
    "ConversationPage": {
        "allOf": [
            _ref("schemas", "Page"),
            {"properties": {"data": {"items": _ref("schemas", "Conversation")}}},
        ]
    },
    "MessagePage": {
        "allOf": [
            _ref("schemas", "Page"),
            {"properties": {"data": {"items": _ref("schemas", "Message")}}},
        ]
    },
    "Reply": {
        "type": "object",
        "required": ["body"],
        "properties": {"body": {"type": "string", "description": "1 to 6 SMS parts."}},
    },
    "SendMessage": {
        "type": "object",
        "required": ["to", "body"],
        "properties": {
            "to": {
                "type": "string",
                "description": "Any format that parses with SMSDESK_DEFAULT_REGION, "
                "e.g. `(415) 555-0123` or `+14155550123`.",
            },
            "body": {"type": "string", "description": "1 to 6 SMS parts."},
            "from": {
                "type": "string",
                "description": "Our number or sender id (at most 20 characters).",
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    schema = _ref("schemas", "Envelope")
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error("BAD_REQUEST: bad input; `response_msg` starts with the field's name."),
    "Unauthorized": {
        **_error("UNAUTHORIZED: missing or wrong credentials."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
    "OptedOut": _error("OPTED_OUT: the recipient opted out; nothing was queued."),
    "NotFound": _error("NOT_FOUND: no such conversation."),
    "PayloadTooLarge": _error(f"PAYLOAD_TOO_LARGE: the body exceeds {MAX_BODY_BYTES} bytes."),
    "InternalError": _error("INTERNAL_SERVER_ERROR: our fault; it was logged."),
}

PARAMETERS: dict[str, Any] = {
    "page": {
        "name": "page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "description": f"Items per page; values outside {MIN_LIMIT}..{MAX_LIMIT} are clamped.",
        "schema": {"type": "integer", "default": DEFAULT_LIMIT},
    },
    "operator": {
        "name": "operator",
        "in": "query",
        "description": "How `q` terms combine.",
        "schema": {"type": "string", "enum": ["AND", "OR"], "default": "AND"},
    },
    "conversation_id": {
        "name": "conversation_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    },
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
