"""The walking skeleton end to end, over real HTTP inside one process:

customer texts (simulator pushes to our webhook) → thread in the API → agent
reply queued → sender calls the simulator's POST /sms/send → receipt pushed back
→ message delivered.
"""

from __future__ import annotations

import asyncio
import base64

from bot.models import Role
from inbox.app import SIM_API_KEY, SIM_USERNAME
from inbox.auth import create_api_key, create_user
from inbox.keys import SERVICES
from tests.conftest import webhook_path


async def api_auth(sessionmaker) -> dict[str, str]:
    async with sessionmaker.begin() as session:
        user = await create_user(session, "agent@example.com", "password123", Role.AGENT)
        key = await create_api_key(session, user)
    token = base64.b64encode(f"agent@example.com:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def eventually(check, seconds: float = 10.0):
    """Poll ``check`` until it returns a truthy value (bounded)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        await asyncio.sleep(0.05)


async def test_inbound_reply_send_and_receipt_round_trip(client, sessionmaker):
    headers = await api_auth(sessionmaker)
    simulator = client.app[SERVICES].simulator
    await simulator.inject_inbound("+14155550123", "+61411111111", "Is my order shipped?")

    async def listed():
        response = await client.get("/api/v1/conversations", headers=headers)
        items = (await response.json())["data"]["data"]
        return items[0] if items else None

    conversation = await eventually(listed)
    assert (conversation["phone_number"], conversation["our_number"]) == (
        "+14155550123",
        "+61411111111",
    )
    assert conversation["unread_count"] == 1

    url = f"/api/v1/conversations/{conversation['conversation_id']}/messages"
    response = await client.post(url, json={"body": "Yes, it left today."}, headers=headers)
    assert response.status == 200
    queued = (await response.json())["data"]
    assert queued["status"] == "queued"

    async def sent_to_provider():
        return [r for r in simulator.requests if r["path"] == "/sms/send"]

    (request,) = await eventually(sent_to_provider)
    expected_auth = base64.b64encode(f"{SIM_USERNAME}:{SIM_API_KEY}".encode()).decode()
    assert request["auth"] == f"Basic {expected_auth}"
    assert request["json"] == {
        "messages": [
            {
                "to": "+14155550123",
                "body": "Yes, it left today.",
                "from": "+61411111111",
                "source": "smsdesk",
                "custom_string": str(queued["message_id"]),
            }
        ]
    }

    async def delivered():
        response = await client.get(url, headers=headers)
        items = (await response.json())["data"]["data"]
        out = [m for m in items if m["direction"] == "out"]
        return out if out and out[0]["status"] == "delivered" else None

    (message,) = await eventually(delivered)
    assert message["provider_message_id"]
    assert simulator.sent_count(str(queued["message_id"])) == 1


async def test_inbound_message_is_handled_by_the_pipeline_worker(client, sessionmaker):
    from sqlalchemy import select

    from bot.models import Message, MessageStatus

    response = await client.post(
        webhook_path(client.app[SERVICES].settings),
        data={"message_id": "E2E-1", "from": "+14155550124", "to": "+61411111111", "body": "hi"},
    )
    assert response.status == 200

    async def handled():
        async with sessionmaker() as session:
            status = await session.scalar(select(Message.status))
        return status is MessageStatus.HANDLED

    await eventually(handled)
