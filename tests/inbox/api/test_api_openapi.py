"""The OpenAPI document describes exactly the routes the API serves."""

from __future__ import annotations

from typing import Any

from inbox.api import create_api_app
from inbox.api.conversations import CONVERSATIONS, MESSAGES
from inbox.api.openapi import DOCUMENT

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _routes() -> set[tuple[str, str]]:
    app = create_api_app()
    return {(route.resource.canonical, route.method.lower()) for route in app.router.routes()}


def _documented() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(ref: str) -> Any:
    node: Any = DOCUMENT
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


async def test_openapi_json_serves_the_document(api):
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert await response.json() == DOCUMENT


def test_every_route_is_documented_and_every_documented_route_exists():
    assert _routes() == _documented()
    assert len(_routes()) == 26


def test_every_ref_resolves():
    refs = _refs(DOCUMENT)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/")
        assert isinstance(_resolve(ref), dict), ref


def test_security_is_http_basic_and_only_the_document_is_public():
    assert DOCUMENT["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
        "description": DOCUMENT["components"]["securitySchemes"]["basicAuth"]["description"],
    }
    assert DOCUMENT["security"] == [{"basicAuth": []}]
    public = {
        path
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("security") == []
    }
    assert public == {"/openapi.json"}


def test_every_authenticated_operation_documents_401_and_500():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS and path != "/openapi.json":
                assert {"200", "401", "500"} <= set(operation["responses"]), (path, method)


def test_item_schemas_list_the_fields_the_handlers_return():
    schemas = DOCUMENT["components"]["schemas"]
    for name in ("Conversation", "Message", "Page"):
        assert set(schemas[name]["required"]) == set(schemas[name]["properties"]), name


def test_search_parameters_name_the_whitelisted_fields():
    listing = DOCUMENT["paths"]["/conversations"]["get"]["parameters"]
    q = next(p for p in listing if p.get("name") == "q")
    assert all(field in q["description"] for field in CONVERSATIONS.fields)
    messages = DOCUMENT["paths"]["/conversations/{conversation_id}/messages"]["get"]
    order_by = next(p for p in messages["parameters"] if p.get("name") == "order_by")
    assert all(field in order_by["description"] for field in MESSAGES.sorts)
