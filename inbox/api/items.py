"""The JSON shapes of API resources: plain dicts built from ORM rows.

Times are unix seconds (ints), as in ClickSend. These field sets are part of
the public contract (shared/ARCHITECTURE.md); add fields, never rename them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.models import Contact, Conversation, Message


def unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def conversation_item(
    conversation: Conversation, contact: Contact, opted_out: bool
) -> dict[str, Any]:
    return {
        "conversation_id": conversation.id,
        "phone_number": contact.phone_number,
        "our_number": conversation.our_number,
        "status": str(conversation.status),
        "unread_count": conversation.unread_count,
        "last_message_at": unix(conversation.last_message_at),
        "opted_out": opted_out,
        "possible_opt_out": conversation.possible_opt_out,
        "needs_agent": conversation.needs_agent,
        "needs_agent_reason": conversation.needs_agent_reason,
        "assigned_user_id": conversation.assigned_user_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
    }


def message_item(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "direction": str(message.direction),
        "body": message.body,
        "status": str(message.status),
        "date": unix(message.created_at),
        "provider_message_id": message.provider_message_id,
        "error_text": message.error_text,
        "parts": message.parts,
    }
