"""The OpenAPI paths and schemas of opt-outs and consent (/opt-outs and its imports,
re-subscribing, a number's ledger, the ledger's CSV export, and confirming or
dismissing a conversation's possible opt-out)."""

from __future__ import annotations

from typing import Any

from bot.models import ConsentKind, ConsentMethod
from bot.optout_import import MAX_BYTES, MAX_ROWS, PHONE_HEADERS
from inbox.api.openapi_common import (
    FORBIDDEN,
    NULLABLE_STRING,
    UNIX,
    errors,
    json_body,
    ok,
    page_of,
    ref,
    search_params,
    values,
)
from inbox.api.optouts import OPT_OUTS


def _unix_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "integer"}, "description": description}


def _possible_opt_out(verb: str, description: str) -> dict[str, Any]:
    return {
        "parameters": [ref("parameters", "conversation_id")],
        "post": {
            "summary": f"{verb.capitalize()} the conversation's possible opt-out",
            "description": description,
            "operationId": f"{verb}PossibleOptOut",
            "responses": {
                "200": ok("The conversation, its flag cleared.", "Conversation"),
                **errors("400", "404"),
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
    "/opt-outs": {
        "get": {
            "summary": "List opt-outs, newest first",
            "operationId": "listOptOuts",
            "parameters": search_params(OPT_OUTS),
            "responses": {"200": ok("A page of opt-outs.", "OptOutPage"), **errors("400")},
        },
        "post": {
            "summary": "Record an opt-out; messages queued to the number are suppressed",
            "description": "Idempotent: a number already opted out answers 200 with "
            "`already_opted_out: true` and records nothing.",
            "operationId": "createOptOut",
            "requestBody": json_body("NewOptOut"),
            "responses": {
                "200": ok("The opt-out that blocks the number.", "OptOutResult"),
                **errors("400", "413"),
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
                    "application/json": {"schema": ref("schemas", "OptOutImport")},
                },
            },
            "responses": {
                "200": ok("The report, row by row.", "ImportReport"),
                **errors("400", "413"),
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
            "requestBody": json_body("ProviderListImport"),
            "responses": {
                "200": ok("The report, number by number.", "ImportReport"),
                **errors("400", "413"),
                **FORBIDDEN,
                "502": ref("responses", "ProviderError"),
            },
        }
    },
    "/opt-outs/{phone_number}": {
        "parameters": [ref("parameters", "phone_number")],
        "delete": {
            "summary": "Re-subscribe a number, with a reason and evidence of consent",
            "description": "Admins only. Lifts the number's opt-outs for all our numbers.",
            "operationId": "deleteOptOut",
            "requestBody": json_body("OptIn"),
            "responses": {
                "200": ok("The opt-in written to the consent ledger.", "ConsentEvent"),
                **errors("400", "404", "413"),
                **FORBIDDEN,
            },
        },
    },
    "/opt-outs/{phone_number}/history": {
        "parameters": [ref("parameters", "phone_number")],
        "get": {
            "summary": "The number's consent ledger, oldest first",
            "operationId": "optOutHistory",
            "parameters": [ref("parameters", "page"), ref("parameters", "limit")],
            "responses": {
                "200": ok("A page of ledger events.", "ConsentEventPage"),
                **errors("400"),
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
                **errors("400"),
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

SCHEMAS: dict[str, Any] = {
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
            ref("schemas", "OptOut"),
            {
                "required": ["already_opted_out"],
                "properties": {"already_opted_out": {"type": "boolean"}},
            },
        ]
    },
    "OptOutPage": page_of("OptOut"),
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
            "kind": {"type": "string", "enum": values(ConsentKind)},
            "method": {"type": "string", "enum": values(ConsentMethod)},
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
    "ConsentEventPage": page_of("ConsentEvent"),
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
            "rows": {"type": "array", "items": ref("schemas", "ImportRow")},
        },
    },
}
