"""ClickSend pagination and search parameters: pure helpers, then over HTTP."""

from __future__ import annotations

import pytest
from yarl import URL

from inbox.api.envelope import ApiError
from inbox.api.pagination import PageRequest, page_data, page_request

URL_ = URL("/api/v1/conversations?q=status:open&limit=15")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, PageRequest(1, 15)),
        ({"page": "3"}, PageRequest(3, 15)),
        ({"page": " 2 ", "limit": "20"}, PageRequest(2, 20)),
        ({"limit": "500"}, PageRequest(1, 100)),
        ({"limit": "1"}, PageRequest(1, 15)),
        ({"limit": "0"}, PageRequest(1, 15)),
        ({"limit": "-7"}, PageRequest(1, 15)),
        ({"limit": "100"}, PageRequest(1, 100)),
        ({"page": "", "limit": ""}, PageRequest(1, 15)),
        ({"page": "1000000"}, PageRequest(1_000_000, 15)),
    ],
)
def test_page_request_reads_and_clamps(query, expected):
    assert page_request(query) == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "1000001"}, "page"),
        ({"page": "9" * 5000}, "page"),
        ({"page": "١"}, "page"),  # an Arabic-Indic digit: int() would accept it
        ({"limit": "many"}, "limit"),
        ({"limit": "2e3"}, "limit"),
    ],
)
def test_bad_page_or_limit_is_a_400_naming_it(query, field):
    with pytest.raises(ApiError) as caught:
        page_request(query)
    assert caught.value.http_code == 400
    assert caught.value.message.startswith(f"{field}: ")


def _page(total: int, page: int, limit: int = 15) -> dict:
    request = PageRequest(page, limit)
    shown = max(0, min(limit, total - request.offset))
    return page_data(URL_.update_query(page=str(page)), request, total, list(range(shown)))


def test_an_empty_result_is_one_empty_page():
    assert _page(0, 1) == {
        "total": 0,
        "per_page": 15,
        "current_page": 1,
        "last_page": 1,
        "next_page_url": None,
        "prev_page_url": None,
        "from": None,
        "to": None,
        "data": [],
    }


def test_page_urls_keep_the_other_query_parameters():
    middle = _page(40, 2)
    assert middle["next_page_url"] == "/api/v1/conversations?q=status:open&limit=15&page=3"
    assert middle["prev_page_url"] == "/api/v1/conversations?q=status:open&limit=15&page=1"
    assert (middle["from"], middle["to"]) == (16, 30)


def test_a_page_past_the_end_is_empty_and_points_back_to_the_last_page():
    past = _page(16, 5)
    assert (past["from"], past["to"], past["data"]) == (None, None, [])
    assert past["next_page_url"] is None
    assert past["prev_page_url"].endswith("page=2")


def _summary(data: dict) -> tuple:
    return (
        data["total"],
        data["per_page"],
        data["current_page"],
        data["last_page"],
        data["from"],
        data["to"],
        len(data["data"]),
        data["next_page_url"],
        data["prev_page_url"],
    )


P = "/api/v1/conversations?limit={limit}&page={page}"


@pytest.mark.parametrize(
    ("count", "limit", "page", "expected"),
    [
        (0, 15, 1, (0, 15, 1, 1, None, None, 0, None, None)),
        (1, 15, 1, (1, 15, 1, 1, 1, 1, 1, None, None)),
        (16, 15, 1, (16, 15, 1, 2, 1, 15, 15, P.format(limit=15, page=2), None)),
        (16, 15, 2, (16, 15, 2, 2, 16, 16, 1, None, P.format(limit=15, page=1))),
        (
            40,
            15,
            2,
            (40, 15, 2, 3, 16, 30, 15, P.format(limit=15, page=3), P.format(limit=15, page=1)),
        ),
        (40, 15, 3, (40, 15, 3, 3, 31, 40, 10, None, P.format(limit=15, page=2))),
        (0, 500, 1, (0, 100, 1, 1, None, None, 0, None, None)),
        (1, 500, 1, (1, 100, 1, 1, 1, 1, 1, None, None)),
        (16, 500, 1, (16, 100, 1, 1, 1, 16, 16, None, None)),
        (40, 500, 1, (40, 100, 1, 1, 1, 40, 40, None, None)),
    ],
)
async def test_conversation_pages_over_http(api, seed, count, limit, page, expected):
    await seed.conversations(count)
    status, doc = await api.get("/conversations", {"limit": limit, "page": page})
    assert status == 200
    assert _summary(doc["data"]) == expected


async def test_pages_cover_every_item_once_in_order(api, seed):
    ids = await seed.conversations(40)
    seen = []
    for page in (1, 2, 3):
        _, doc = await api.get("/conversations", {"page": page})
        seen += [item["conversation_id"] for item in doc["data"]["data"]]
    assert seen == ids


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"limit": "lots"}, "limit"),
        ({"q": "colour:blue"}, "q"),
        ({"q": "phone_number"}, "q"),
        ({"q": "status:sleeping"}, "q"),
        ({"q": "conversation_id:abc"}, "q"),
        ({"q": ",".join(["status:open"] * 11)}, "q"),
        ({"operator": "XOR", "q": "status:open"}, "operator"),
        ({"order_by": "colour:asc"}, "order_by"),
        ({"order_by": "last_message_at:sideways"}, "order_by"),
    ],
)
async def test_bad_list_parameters_are_a_400_naming_the_parameter(api, params, field):
    status, doc = await api.get("/conversations", params)
    assert (status, doc["http_code"], doc["response_code"]) == (400, 400, "BAD_REQUEST")
    assert doc["response_msg"].startswith(f"{field}: ")
    assert doc["data"] == []


async def test_an_unknown_search_field_is_named_in_the_error(api):
    status, doc = await api.get("/conversations", {"q": "status:open,colour:blue"})
    assert status == 400
    assert "'colour'" in doc["response_msg"]
    assert "phone_number" in doc["response_msg"]  # and the fields that exist


@pytest.mark.parametrize("q", ["phone_number:\x00", "first_name:a\x00b", "status:open\x00"])
async def test_a_nul_in_a_search_is_a_400_not_a_database_error(api, q):
    status, doc = await api.get("/conversations", {"q": q})
    assert (status, doc["response_code"]) == (400, "BAD_REQUEST")
    assert doc["response_msg"].startswith("q: ")
