"""Basic auth on /api/v1 and the error envelope for every failure."""

from __future__ import annotations

import base64
import logging

import pytest
from aiohttp import encode_basic_auth

from bot.models import Role
from inbox.api import conversations
from inbox.auth import create_user


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def _assert_error(status: int, doc: dict, http_code: int, response_code: str) -> None:
    assert status == http_code
    assert doc == {
        "http_code": http_code,
        "response_code": response_code,
        "response_msg": doc["response_msg"],
        "data": [],
    }
    assert isinstance(doc["response_msg"], str) and doc["response_msg"]


async def test_missing_credentials_get_a_401_envelope_with_a_challenge(api):
    response = await api.client.get("/api/v1/conversations")
    _assert_error(response.status, await response.json(), 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="smsdesk"'


BAD_HEADERS = {
    "wrong key": lambda email, key: _basic(f"{email}:wrong-{key}"),
    "unknown user": lambda email, key: _basic(f"someone.else@example.com:{key}"),
    "no colon": lambda email, key: _basic(email + key),
    "empty key": lambda email, key: _basic(f"{email}:"),
    "empty user": lambda email, key: _basic(f":{key}"),
    "nul in user": lambda email, key: _basic(f"{email}\x00:{key}"),
    "nul in key": lambda email, key: _basic(f"{email}:{key}\x00"),
    "not utf-8": lambda email, key: "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "not base64": lambda email, key: "Basic !!!not-base64!!!",
    "bearer": lambda email, key: f"Bearer {key}",
    "bare scheme": lambda email, key: "Basic",
}


@pytest.mark.parametrize("kind", BAD_HEADERS)
async def test_wrong_or_malformed_credentials_get_a_401_envelope(api, kind):
    header = BAD_HEADERS[kind](api.email, api.key)
    status, doc = await api.get("/conversations", headers={"Authorization": header})
    _assert_error(status, doc, 401, "UNAUTHORIZED")


async def test_a_key_only_works_with_its_own_user(api, sessionmaker):
    async with sessionmaker.begin() as session:
        await create_user(session, "other@example.com", "another password", Role.AGENT)
    header = encode_basic_auth("other@example.com", api.key)
    status, doc = await api.get("/conversations", headers={"Authorization": header})
    _assert_error(status, doc, 401, "UNAUTHORIZED")


async def test_the_email_is_case_insensitive(api):
    header = encode_basic_auth(api.email.upper(), api.key)
    status, doc = await api.get("/conversations", headers={"Authorization": header})
    assert (status, doc["response_code"]) == (200, "SUCCESS")


async def test_good_credentials_get_the_success_envelope(api):
    status, doc = await api.get("/conversations")
    assert status == 200
    assert {k: v for k, v in doc.items() if k != "data"} == {
        "http_code": 200,
        "response_code": "SUCCESS",
        "response_msg": "Here are your data.",
    }


async def test_the_openapi_document_needs_no_credentials(api):
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert (await response.json())["openapi"] == "3.1.0"


async def test_unknown_path_is_a_404_envelope(api):
    status, doc = await api.get("/no-such-thing")
    _assert_error(status, doc, 404, "NOT_FOUND")


async def test_wrong_method_is_a_405_envelope(api):
    response = await api.client.delete("/api/v1/conversations", headers=api.auth_headers)
    _assert_error(response.status, await response.json(), 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "GET"


async def test_an_unexpected_error_is_a_logged_generic_500(api, monkeypatch, caplog):
    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(conversations, "conversation_page", explode)
    with caplog.at_level(logging.ERROR, logger="inbox.api.envelope"):
        status, doc = await api.get("/conversations")
    _assert_error(status, doc, 500, "INTERNAL_SERVER_ERROR")
    assert "secret" not in doc["response_msg"]
    assert "secret internals" in caplog.text
