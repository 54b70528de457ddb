"""The OpenAPI paths and schemas of conversations and messages
(/conversations, /conversations/{id}/messages, /messages)."""

from __future__ import annotations

from typing import Any

from bot.models import ConversationStatus, Direction, MessageStatus
from inbox.api.conversations import CONVERSATIONS, MESSAGES
from inbox.api.openapi_common import (
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

PATHS: dict[str, Any] = {
    "/conversations": {
        "get": {
            "summary": "List conversations, most recently active first",
            "operationId": "listConversations",
            "parameters": search_params(CONVERSATIONS),
            "responses": {
                "200": ok("A page of conversations.", "ConversationPage"),
                **errors("400"),
            },
        }
    },
    "/conversations/{conversation_id}/messages": {
        "parameters": [ref("parameters", "conversation_id")],
        "get": {
            "summary": "List a conversation's messages, oldest first",
            "operationId": "listMessages",
            "parameters": search_params(MESSAGES),
            "responses": {
                "200": ok("A page of messages.", "MessagePage"),
                **errors("400", "404"),
            },
        },
        "post": {
            "summary": "Queue a reply in the conversation, from the number the customer texted",
            "operationId": "replyToConversation",
            "requestBody": json_body("Reply"),
            "responses": {
                "200": ok("The queued message.", "Message"),
                **errors("400", "403", "404", "413"),
            },
        },
    },
    "/messages": {
        "post": {
            "summary": "Queue a message to a number, opening its conversation if needed",
            "description": "Without `from`, the message joins the customer's most recently "
            "active conversation (or a new one sent from the default sender).",
            "operationId": "sendMessage",
            "requestBody": json_body("SendMessage"),
            "responses": {
                "200": ok("The queued message.", "Message"),
                **errors("400", "403", "413"),
            },
        }
    },
}

SCHEMAS: dict[str, Any] = {
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
            "needs_agent",
            "needs_agent_reason",
            "assigned_user_id",
            "first_name",
            "last_name",
        ],  # fmt: skip
        "properties": {
            "conversation_id": {"type": "integer"},
            "phone_number": {"type": "string", "description": "The customer, E.164."},
            "our_number": {"type": "string", "description": "The number the customer texted."},
            "status": {"type": "string", "enum": values(ConversationStatus)},
            "unread_count": {"type": "integer"},
            "last_message_at": UNIX,
            "opted_out": {"type": "boolean", "description": "Sends to this thread are refused."},
            "possible_opt_out": {
                "type": "boolean",
                "description": "A message may have been an opt-out (not an exact keyword); "
                "an agent should confirm or dismiss it.",
            },
            "needs_agent": {
                "type": "boolean",
                "description": "The bot left this thread to a person (reply cap, a reply "
                "template that failed); an agent's reply clears it.",
            },
            "needs_agent_reason": NULLABLE_STRING,
            "assigned_user_id": {"type": ["integer", "null"]},
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
            "direction": {"type": "string", "enum": values(Direction)},
            "body": {"type": "string"},
            "status": {"type": "string", "enum": values(MessageStatus)},
            "date": {**UNIX, "description": "When the message was created, unix seconds."},
            "provider_message_id": NULLABLE_STRING,
            "error_text": NULLABLE_STRING,
            "parts": {"type": "integer", "description": "SMS parts the body needs."},
        },
    },
}

PAGES: dict[str, Any] = {
    "ConversationPage": page_of("Conversation"),
    "MessagePage": page_of("Message"),
}

INPUTS: dict[str, Any] = {
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
                "description": "Our number (any format that parses with "
                "SMSDESK_DEFAULT_REGION) or an alpha sender id: 1 to 11 letters, digits "
                "or `+`, no spaces.",
            },
        },
    },
}
