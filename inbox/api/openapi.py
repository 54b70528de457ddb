"""GET /openapi.json: the hand-written OpenAPI 3.1 description of this API.

Written by hand so it reads like documentation; the searchable and sortable
field lists come from the same whitelists the handlers use, and
tests/inbox/api/test_api_openapi.py checks every registered route appears here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.models import ConsentKind, ConsentMethod, ConversationStatus, Direction, MessageStatus
from bot.optout_import import MAX_BYTES, MAX_ROWS, PHONE_HEADERS
from inbox.api import openapi_bot
from inbox.api.conversations import CONVERSATIONS, MESSAGES
from inbox.api.inputs import MAX_BODY_BYTES
from inbox.api.optouts import OPT_OUTS
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


FORBIDDEN = {"403": _ref("responses", "Forbidden")}


def _unix_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "integer"}, "description": description}


def _possible_opt_out(verb: str, description: str) -> dict[str, Any]:
    return {
        "parameters": [_ref("parameters", "conversation_id")],
        "post": {
            "summary": f"{verb.capitalize()} the conversation's possible opt-out",
            "description": description,
            "operationId": f"{verb}PossibleOptOut",
            "responses": {
                "200": _ok("The conversation, its flag cleared.", "Conversation"),
                **_errors("400", "404"),
            },
        },
    }


IMPORT_DESCRIPTION = (
    "Admins only. A CSV with a header row naming the phone column "
    f"({', '.join(PHONE_HEADERS)}; any case) and optionally a `reason` column, "
    "or one column of numbers without a header; `,`, `;` or tab separated. "
    f"At most {MAX_ROWS} rows and {MAX_BYTES // (1024 * 1024)} MB (413 beyond). Each "
    "number is opted out of all our numbers; invalid rows are reported and skipped."
)


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
    "/opt-outs": {
        "get": {
            "summary": "List opt-outs, newest first",
            "operationId": "listOptOuts",
            "parameters": _search_params(OPT_OUTS),
            "responses": {"200": _ok("A page of opt-outs.", "OptOutPage"), **_errors("400")},
        },
        "post": {
            "summary": "Record an opt-out; messages queued to the number are suppressed",
            "description": "Idempotent: a number already opted out answers 200 with "
            "`already_opted_out: true` and records nothing.",
            "operationId": "createOptOut",
            "requestBody": _json_body("NewOptOut"),
            "responses": {
                "200": _ok("The opt-out that blocks the number.", "OptOutResult"),
                **_errors("400", "413"),
            },
        },
    },
    "/opt-outs/import": {
        "post": {
            "summary": "Import an opt-out list",
            "description": IMPORT_DESCRIPTION,
            "operationId": "importOptOuts",
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": _ref("schemas", "OptOutImport")},
                },
            },
            "responses": {
                "200": _ok("The report, row by row.", "ImportReport"),
                **_errors("400", "413"),
                **FORBIDDEN,
            },
        }
    },
    "/opt-outs/import-clicksend-list": {
        "post": {
            "summary": "Import the opt-out list kept in ClickSend",
            "description": "Admins only. ClickSend keeps opt-outs as an ordinary contact "
            f"list; every contact's phone number (at most {MAX_ROWS}, 413 beyond) is opted "
            "out of all our numbers, recorded with method `provider`. Invalid numbers are "
            "reported and skipped; a row's `line` is its position in the list, from 1.",
            "operationId": "importClickSendOptOutList",
            "requestBody": _json_body("ProviderListImport"),
            "responses": {
                "200": _ok("The report, number by number.", "ImportReport"),
                **_errors("400", "413"),
                **FORBIDDEN,
                "502": _ref("responses", "ProviderError"),
            },
        }
    },
    "/opt-outs/{phone_number}": {
        "parameters": [_ref("parameters", "phone_number")],
        "delete": {
            "summary": "Re-subscribe a number, with a reason and evidence of consent",
            "description": "Admins only. Lifts the number's opt-outs for all our numbers.",
            "operationId": "deleteOptOut",
            "requestBody": _json_body("OptIn"),
            "responses": {
                "200": _ok("The opt-in written to the consent ledger.", "ConsentEvent"),
                **_errors("400", "404", "413"),
                **FORBIDDEN,
            },
        },
    },
    "/opt-outs/{phone_number}/history": {
        "parameters": [_ref("parameters", "phone_number")],
        "get": {
            "summary": "The number's consent ledger, oldest first",
            "operationId": "optOutHistory",
            "parameters": [_ref("parameters", "page"), _ref("parameters", "limit")],
            "responses": {
                "200": _ok("A page of ledger events.", "ConsentEventPage"),
                **_errors("400"),
            },
        },
    },
    "/consent/export.csv": {
        "get": {
            "summary": "Download the consent ledger as CSV evidence",
            "description": "Not enveloped: a `text/csv` attachment. Cells a spreadsheet "
            "would run as formulas are prefixed with `'`.",
            "operationId": "exportConsentLedger",
            "parameters": [
                {
                    "name": "phone_number",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "Only this number (any format).",
                },
                _unix_param("date_from", "Events at or after this time, unix seconds."),
                _unix_param("date_to", "Events up to this second, inclusive, unix seconds."),
            ],
            "responses": {
                "200": {
                    "description": "The ledger, one event per row, oldest first.",
                    "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                **_errors("400"),
            },
        }
    },
    "/conversations/{conversation_id}/possible-opt-out/confirm": _possible_opt_out(
        "confirm",
        "Opts the number out (scope from the compliance settings), suppresses its queued "
        "messages and queues the opt-out confirmation if enabled. 400 when nothing is flagged.",
    ),
    "/conversations/{conversation_id}/possible-opt-out/dismiss": _possible_opt_out(
        "dismiss", "The message was not an opt-out. 400 when nothing is flagged."
    ),
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
                "description": "SUCCESS, or BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, OPTED_OUT, "
                "NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, INTERNAL_SERVER_ERROR.",
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
    "OptOut": {
        "type": "object",
        "required": ["phone_number", "scope", "created_at"],
        "properties": {
            "phone_number": {"type": "string", "description": "E.164."},
            "scope": {"type": "string", "description": "`''` for all our numbers, else one."},
            "created_at": UNIX,
        },
    },
    "OptOutResult": {
        "allOf": [
            _ref("schemas", "OptOut"),
            {
                "required": ["already_opted_out"],
                "properties": {"already_opted_out": {"type": "boolean"}},
            },
        ]
    },
    "OptOutPage": {
        "allOf": [
            _ref("schemas", "Page"),
            {"properties": {"data": {"items": _ref("schemas", "OptOut")}}},
        ]
    },
    "NewOptOut": {
        "type": "object",
        "required": ["phone_number", "reason"],
        "properties": {
            "phone_number": {"type": "string", "description": "Any format, as `to`."},
            "reason": {"type": "string", "description": "Kept in the consent ledger."},
            "our_number": {
                "type": "string",
                "description": "Only this number of ours; all of them when absent.",
            },
        },
    },
    "OptIn": {
        "type": "object",
        "required": ["reason", "evidence"],
        "properties": {
            "reason": {"type": "string"},
            "evidence": {"type": "string", "description": "Where the consent is recorded."},
        },
    },
    "ConsentEvent": {
        "type": "object",
        "required": [
            "id",
            "phone_number",
            "kind",
            "method",
            "scope",
            "keyword",
            "raw_text",
            "provider_message_id",
            "message_id",
            "reason",
            "evidence",
            "user_id",
            "created_at",
        ],  # fmt: skip
        "properties": {
            "id": {"type": "integer"},
            "phone_number": {"type": "string"},
            "kind": {"type": "string", "enum": _values(ConsentKind)},
            "method": {"type": "string", "enum": _values(ConsentMethod)},
            "scope": {"type": "string", "description": "`''` for all our numbers."},
            "keyword": NULLABLE_STRING,
            "raw_text": NULLABLE_STRING,
            "provider_message_id": NULLABLE_STRING,
            "message_id": {"type": ["integer", "null"]},
            "reason": NULLABLE_STRING,
            "evidence": NULLABLE_STRING,
            "user_id": {"type": ["integer", "null"]},
            "created_at": UNIX,
        },
    },
    "ConsentEventPage": {
        "allOf": [
            _ref("schemas", "Page"),
            {"properties": {"data": {"items": _ref("schemas", "ConsentEvent")}}},
        ]
    },
    "OptOutImport": {
        "type": "object",
        "required": ["csv"],
        "properties": {"csv": {"type": "string", "description": "The file's text."}},
    },
    "ProviderListImport": {
        "type": "object",
        "required": ["list_id"],
        "properties": {
            "list_id": {
                "type": "integer",
                "minimum": 1,
                "description": "The ClickSend contact list holding the opt-outs.",
            }
        },
    },
    "ImportRow": {
        "type": "object",
        "required": ["line", "raw", "status", "message"],
        "properties": {
            "line": {"type": "integer", "description": "Line of the file, from 1."},
            "raw": {"type": "string"},
            "status": {"type": "string", "enum": ["added", "already", "invalid"]},
            "message": {"type": "string"},
        },
    },
    "ImportReport": {
        "type": "object",
        "required": ["added", "already", "invalid", "total", "rows"],
        "properties": {
            "added": {"type": "integer"},
            "already": {"type": "integer"},
            "invalid": {"type": "integer"},
            "total": {"type": "integer"},
            "rows": {"type": "array", "items": _ref("schemas", "ImportRow")},
        },
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
    "Forbidden": _error("FORBIDDEN: only an admin may do this."),
    "NotFound": _error("NOT_FOUND: no such conversation, or the number is not opted out."),
    "PayloadTooLarge": _error(f"PAYLOAD_TOO_LARGE: the body exceeds {MAX_BODY_BYTES} bytes."),
    "InternalError": _error("INTERNAL_SERVER_ERROR: our fault; it was logged."),
    "ProviderError": _error(
        "PROVIDER_ERROR: the SMS provider refused or failed (e.g. no such list); "
        "`response_msg` says why. Nothing was imported."
    ),
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
    "phone_number": {
        "name": "phone_number",
        "in": "path",
        "required": True,
        "description": "Any format phonenumbers parses; URL-encode `+` as `%2B`.",
        "schema": {"type": "string"},
    },
}

PATHS.update(openapi_bot.PATHS)
SCHEMAS.update(openapi_bot.SCHEMAS)

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
