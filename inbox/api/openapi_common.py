"""Building blocks of the OpenAPI document: references, the envelope and page
schemas, the shared responses and parameters, and helpers for the usual shapes
(an enveloped 200, the error responses, a JSON body, search parameters)."""

from __future__ import annotations

from typing import Any

from inbox.api.inputs import MAX_BODY_BYTES
from inbox.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, MIN_LIMIT
from inbox.api.search import Searchable

REF = "#/components"

NULLABLE_STRING = {"type": ["string", "null"]}
UNIX = {"type": "integer", "description": "Unix time in seconds."}


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def values(kind: type) -> list[str]:
    return [member.value for member in kind]


def ok_data(description: str, data: dict[str, Any]) -> dict[str, Any]:
    """A 200 whose envelope's `data` has this schema."""
    schema = {"allOf": [ref("schemas", "Envelope"), {"properties": {"data": data}}]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def ok(description: str, data_schema: str) -> dict[str, Any]:
    """A 200 whose envelope's `data` is the named schema."""
    return ok_data(description, ref("schemas", data_schema))


ERROR_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "OptedOut",
    "404": "NotFound",
    "413": "PayloadTooLarge",
    "500": "InternalError",
}


def errors(*codes: str) -> dict[str, Any]:
    """These error responses, plus the 401 and 500 every operation can answer."""
    return {code: ref("responses", ERROR_RESPONSES[code]) for code in (*codes, "401", "500")}


FORBIDDEN = {"403": ref("responses", "Forbidden")}


def json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref("schemas", schema)}}}


def page_of(schema: str) -> dict[str, Any]:
    return {
        "allOf": [
            ref("schemas", "Page"),
            {"properties": {"data": {"items": ref("schemas", schema)}}},
        ]
    }


def search_params(searchable: Searchable, example: str = "status:open") -> list[dict[str, Any]]:
    fields, sorts = ", ".join(searchable.fields), ", ".join(searchable.sorts)
    default = ":".join(searchable.default_order)
    return [
        ref("parameters", "page"),
        ref("parameters", "limit"),
        {
            "name": "q",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Filter: `field:value[,field:value]`, case-insensitive; text fields "
            "match a substring, others exactly; `field:` matches any value. "
            f"Fields: {fields}.",
            "example": example,
        },
        {
            "name": "order_by",
            "in": "query",
            "schema": {"type": "string", "default": default},
            "description": f"`field:asc` or `field:desc`. Fields: {sorts}.",
        },
        ref("parameters", "operator"),
    ]


ENVELOPE: dict[str, Any] = {
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
}

PAGE: dict[str, Any] = {
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
}


def _error(description: str) -> dict[str, Any]:
    schema = ref("schemas", "Envelope")
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
