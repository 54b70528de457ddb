"""ClickSend pagination (v3 §1.7): ``page`` from 1, ``limit`` clamped to 15..100.

A page answers ``{total, per_page, current_page, last_page, next_page_url,
prev_page_url, from, to, data}``. ``from``/``to`` are the 1-based positions of
the first and last item shown, null on an empty page. Page URLs are
absolute paths that keep every other query parameter of the request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from inbox.api.envelope import bad_request

DEFAULT_LIMIT = 15
MIN_LIMIT = 15
MAX_LIMIT = 100
MAX_PAGE = 1_000_000
_INTEGER = re.compile(r"[+-]?[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    limit: int = DEFAULT_LIMIT

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def page_request(query: Mapping[str, str]) -> PageRequest:
    """Read ``page`` and ``limit``; a value that is not a whole number is a 400."""
    page = _integer(query, "page", 1)
    if not 1 <= page <= MAX_PAGE:
        raise bad_request("page", f"must be a whole number from 1 to {MAX_PAGE}")
    limit = min(max(_integer(query, "limit", DEFAULT_LIMIT), MIN_LIMIT), MAX_LIMIT)
    return PageRequest(page=page, limit=limit)


def _integer(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not _INTEGER.fullmatch(raw.strip()):
        raise bad_request(name, f"{raw[:20]!r} is not a whole number")
    return int(raw)


def page_data(url: URL, request: PageRequest, total: int, items: Sequence[Any]) -> dict[str, Any]:
    """The paginated ``data`` object for ``items``, the slice of ``total`` at ``request``."""
    last_page = max(1, -(-total // request.limit))
    first = request.offset + 1 if items else None
    return {
        "total": total,
        "per_page": request.limit,
        "current_page": request.page,
        "last_page": last_page,
        "next_page_url": _page_url(url, request.page + 1) if request.page < last_page else None,
        "prev_page_url": _page_url(url, min(request.page - 1, last_page))
        if request.page > 1
        else None,
        "from": first,
        "to": request.offset + len(items) if items else None,
        "data": list(items),
    }


def _page_url(url: URL, page: int) -> str:
    return str(url.update_query(page=str(page)))
