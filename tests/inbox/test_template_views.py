"""Editing a message template in the inbox: save, preview, errors, a missing one."""

from __future__ import annotations

from sqlalchemy import select

from bot.models import MessageTemplate
from tests.inbox.test_rules_views import post


async def stored_bodies(sessionmaker) -> list[str]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(MessageTemplate.body)))


async def test_saving_an_edited_template_previews_refuses_bad_input_and_404s(
    quiet_client, sessionmaker
):
    response = await post(quiet_client, "/templates/new", {"template_name": "Hi", "body": "Hi"})
    assert response.status == 303
    location = response.headers["Location"]
    path = location.split("?")[0]
    assert location.endswith("?saved=1")

    fields = {"template_name": "Hi", "body": "Hello {{ contact.first_name }}"}
    response = await post(quiet_client, path, fields)
    assert (response.status, response.headers["Location"]) == (303, location)
    assert await stored_bodies(sessionmaker) == ["Hello {{ contact.first_name }}"]

    response = await post(quiet_client, path, {**fields, "body": "Bye {{ contact.first_name"})
    assert response.status == 400
    assert "Bye {{ contact.first_name</textarea>" in await response.text()
    response = await post(
        quiet_client, path, {**fields, "body": "Bye (First Name)", "preview": "1"}
    )
    assert response.status == 200
    assert "Bye Ava" in await response.text()
    assert await stored_bodies(sessionmaker) == ["Hello {{ contact.first_name }}"]

    response = await post(quiet_client, "/templates/999", fields, token_from="/templates/new")
    assert response.status == 404
