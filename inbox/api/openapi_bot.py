"""The OpenAPI paths and schemas of the keyword bot resources (/rules, /rules/test,
/rules/import-clicksend, /templates); inbox/api/openapi.py merges them into the document."""

from __future__ import annotations

from typing import Any

from bot.matching import MatchType
from bot.rule_clicksend import CLICKSEND_ACTIONS
from bot.rule_validation import ACTIONS, CONDITIONS
from inbox.api.openapi_common import errors, json_body, ok_data, page_of, ref, search_params
from inbox.api.rules import RULES
from inbox.api.templates import TEMPLATES


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


RULE = ref("schemas", "Rule")
TEMPLATE = ref("schemas", "Template")
DELETED = ok_data("Deleted; `data` is `[]`.", {"type": "array"})

PATHS: dict[str, Any] = {
    "/rules": {
        "get": {
            "summary": "List keyword rules in running order (priority, then id)",
            "operationId": "listRules",
            "parameters": search_params(RULES, "rule_name:price"),
            "responses": {"200": ok_data("A page of rules.", page_of("Rule")), **errors("400")},
        },
        "post": {
            "summary": "Create a rule (ClickSend fields, our extensions, or both)",
            "description": "Without `priority` the rule runs after every existing rule, so "
            "rules created one by one keep ClickSend's creation order. `warnings` lists "
            "unknown template variables and conflicts with other rules.",
            "operationId": "createRule",
            "requestBody": json_body("RuleInput"),
            "responses": {"200": ok_data("The rule.", RULE), **errors("400", "413")},
        },
    },
    "/rules/test": {
        "post": {
            "summary": "Try a message against the rules; nothing is written or sent",
            "operationId": "testRules",
            "requestBody": json_body("RuleTest"),
            "responses": {
                "200": ok_data(
                    "The matching rules in order.",
                    {"type": "array", "items": ref("schemas", "RuleTrace")},
                ),
                **errors("400", "413"),
            },
        }
    },
    "/rules/import-clicksend": {
        "post": {
            "summary": "Import the ClickSend account's inbound rules and SMS templates",
            "description": "Reads every page of ClickSend's `/automations/sms/inbound` and "
            "`/sms/templates`, then creates templates and rules in one transaction: rules in "
            "ClickSend's creation order after every existing rule (priority steps of 10), "
            "DISABLED unless `enable` is true (ClickSend keeps running its own rules; both "
            "answering would reply twice). A rule disabled at ClickSend stays disabled. Each "
            "item is `imported` (with our new id), `skipped` (imported before, or the same "
            "template already here) or `refused` (with the reason). A template whose name is "
            "taken by another body is imported as `name (ClickSend)`. Running it again "
            "imports only what is new.",
            "operationId": "importClickSendRules",
            "requestBody": {**json_body("RuleImportInput"), "required": False},
            "responses": {
                "200": ok_data("The report, item by item.", ref("schemas", "RuleImportReport")),
                **errors("400", "413"),
                "502": ref("responses", "ProviderError"),
            },
        }
    },
    "/rules/{rule_id}": {
        "parameters": [_id("rule_id")],
        "get": {
            "summary": "One rule",
            "operationId": "getRule",
            "responses": {"200": ok_data("The rule.", RULE), **errors("404")},
        },
        "put": {
            "summary": "Change a rule; fields left out keep their values",
            "operationId": "updateRule",
            "requestBody": json_body("RuleInput"),
            "responses": {"200": ok_data("The rule.", RULE), **errors("400", "404", "413")},
        },
        "delete": {
            "summary": "Delete a rule",
            "operationId": "deleteRule",
            "responses": {"200": DELETED, **errors("404")},
        },
    },
    "/templates": {
        "get": {
            "summary": "List message templates (ClickSend /sms/templates shape)",
            "operationId": "listTemplates",
            "parameters": search_params(TEMPLATES, "template_name:hours"),
            "responses": {
                "200": ok_data("A page of templates.", page_of("Template")),
                **errors("400"),
            },
        },
        "post": {
            "summary": "Create a template; the body is validated (syntax, sandbox)",
            "operationId": "createTemplate",
            "requestBody": json_body("TemplateInput"),
            "responses": {"200": ok_data("The template.", TEMPLATE), **errors("400", "413")},
        },
    },
    "/templates/{template_id}": {
        "parameters": [_id("template_id")],
        "get": {
            "summary": "One template",
            "operationId": "getTemplate",
            "responses": {"200": ok_data("The template.", TEMPLATE), **errors("404")},
        },
        "put": {
            "summary": "Change a template; fields left out keep their values",
            "operationId": "updateTemplate",
            "requestBody": json_body("TemplateInput"),
            "responses": {"200": ok_data("The template.", TEMPLATE), **errors("400", "404", "413")},
        },
        "delete": {
            "summary": "Delete a template no rule replies with (400 otherwise)",
            "operationId": "deleteTemplate",
            "responses": {"200": DELETED, **errors("400", "404")},
        },
    },
}

_ENTRY = {"type": "object", "required": ["type"], "additionalProperties": True}
_RULE_FIELDS: dict[str, Any] = {
    "rule_name": {"type": "string", "maxLength": 100},
    "dedicated_number": {"type": "string", "description": "Our number, or `*` for all."},
    "message_search_type": {
        "type": ["integer", "null"],
        "enum": [0, 1, 2, 3, None],
        "description": "0 any, 1 starts with, 2 contains, 3 does not contain; null for our "
        "other match types.",
    },
    "message_search_term": {"type": ["string", "null"], "description": "The first term."},
    "action": {
        "type": "string",
        "enum": list(CLICKSEND_ACTIONS),
        "description": "The ClickSend action doing what `actions` does, or the first "
        "action ClickSend can express.",
    },
    "action_address": {
        "type": "string",
        "description": "Email, URL, number(s) or list; empty for AUTO_REPLY.",
    },
    "body": {"type": ["string", "null"], "description": "AUTO_REPLY: the reply template."},
    "enabled": {"type": "integer", "enum": [0, 1]},
    "webhook_type": {"type": ["string", "null"], "enum": ["post", "get", "json", None]},
    "priority": {"type": "integer", "description": "Lower runs first; ties by id."},
    "match_type": {"type": "string", "enum": [m.value for m in MatchType]},
    "terms": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Keywords; any matches.",
    },
    "numbers": {"type": "array", "items": {"type": "string"}, "description": "Empty: all numbers."},
    "conditions": {
        "type": "array",
        "items": {**_ENTRY, "description": "type: " + ", ".join(CONDITIONS)},
    },
    "actions": {"type": "array", "items": {**_ENTRY, "description": "type: " + ", ".join(ACTIONS)}},
    "continue_matching": {"type": "boolean"},
    "cooldown_s": {"type": "integer", "minimum": 0},
}


def _import_item(our_id: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "clicksend_id": {"type": "integer", "description": "The item's id at ClickSend."},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["imported", "skipped", "refused"]},
            our_id: {
                "type": ["integer", "null"],
                "description": "Ours: the one created, or the one imported before.",
            },
            "message": {"type": "string", "description": "What happened, or why refused."},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }


SCHEMAS: dict[str, Any] = {
    "Rule": {
        "type": "object",
        "required": ["inbound_rule_id", *_RULE_FIELDS, "hit_count", "last_hit_at"],
        "properties": {
            "inbound_rule_id": {"type": "integer"},
            **_RULE_FIELDS,
            "hit_count": {"type": "integer"},
            "last_hit_at": {"type": ["integer", "null"], "description": "Unix seconds."},
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "After a create or update only.",
            },
        },
    },
    "RuleInput": {
        "type": "object",
        "description": "ClickSend's fields, our extensions, or both; when both are given "
        "they must agree (400 otherwise). `rule_name` and a match type are required on create.",
        "properties": _RULE_FIELDS,
    },
    "RuleTest": {
        "type": "object",
        "required": ["body", "from"],
        "properties": {
            "body": {"type": "string"},
            "from": {"type": "string", "description": "The customer's number."},
            "to": {"type": "string", "description": "Our number (optional)."},
        },
    },
    "RuleTrace": {
        "type": "object",
        "properties": {
            "inbound_rule_id": {"type": "integer"},
            "rule_name": {"type": "string"},
            "matched_term": {"type": ["string", "null"]},
            "would_fire": {"type": "boolean"},
            "conditions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "description": {"type": "string"},
                        "passed": {"type": "boolean"},
                    },
                },
            },
            "replies": {"type": "array", "items": {"type": "string"}},
            "actions": {"type": "array", "items": {"type": "string"}},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Template": {
        "type": "object",
        "required": ["template_id", "template_name", "body"],
        "properties": {
            "template_id": {"type": "integer"},
            "template_name": {"type": "string"},
            "body": {"type": "string"},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    },
    "TemplateInput": {
        "type": "object",
        "properties": {
            "template_name": {"type": "string", "maxLength": 100},
            "body": {"type": "string", "maxLength": 1600},
        },
    },
    "RuleImportInput": {
        "type": "object",
        "properties": {
            "enable": {
                "type": "boolean",
                "default": False,
                "description": "Enable the imported rules that are enabled at ClickSend. "
                "Switch ClickSend's own rules off first, or customers get two answers.",
            }
        },
    },
    "RuleImportReport": {
        "type": "object",
        "properties": {
            "imported": {"type": "integer"},
            "skipped": {"type": "integer"},
            "refused": {"type": "integer"},
            "enabled": {"type": "boolean", "description": "The request's `enable`."},
            "templates": {"type": "array", "items": _import_item("template_id")},
            "rules": {"type": "array", "items": _import_item("inbound_rule_id")},
        },
    },
}
