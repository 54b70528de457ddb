"""ClickSend search and sort (v3 §1.8) over a whitelist of fields per resource.

``q=field:value[,field:value]`` filters, ``operator=AND|OR`` combines the terms
(AND by default), ``order_by=field:asc|desc`` sorts. Matching is case-insensitive;
``field:`` with an empty value matches rows that have any value there. Each
resource declares a :class:`Searchable`: public field names mapped to matcher
functions over columns, so no SQL is ever built from request text.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_
from sqlalchemy.sql.elements import ColumnElement

from inbox.api.envelope import bad_request

MAX_TERMS = 10
MAX_VALUE = 100
MAX_ID = 2**31 - 1  # INTEGER primary keys on PostgreSQL; a larger bound value is an error

Matcher = Callable[[str], ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class Searchable:
    """The fields one resource can be searched (``fields``) and sorted (``sorts``) by.

    A sort maps a public name to columns; the last is a unique tie-breaker so pages
    are stable. ``default_order`` is used when the request gives no ``order_by``.
    """

    fields: Mapping[str, Matcher]
    sorts: Mapping[str, Sequence[Any]]
    default_order: tuple[str, str]


def text_field(column: Any) -> Matcher:
    """Case-insensitive substring match (spaces trimmed, so an unencoded ``+`` is harmless)."""

    def match(value: str) -> ColumnElement[bool]:
        needle = value.strip().lower()
        if not needle:
            return and_(column.is_not(None), column != "")
        return func.lower(column).contains(needle, autoescape=True)

    return match


def choice_field(column: Any, kind: type[enum.StrEnum]) -> Matcher:
    """Case-insensitive exact match against one of the enum's values."""

    def match(value: str) -> ColumnElement[bool]:
        wanted = value.strip().lower()
        if not wanted:
            return column.is_not(None)
        if wanted not in {member.value for member in kind}:
            allowed = ", ".join(member.value for member in kind)
            raise ValueError(f"{wanted!r} is not one of: {allowed}")
        return column == kind(wanted)

    return match


def int_field(column: Any) -> Matcher:
    """Exact match on a whole number; one no row can have matches nothing."""

    def match(value: str) -> ColumnElement[bool]:
        text = value.strip()
        if not text:
            return column.is_not(None)
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"{text!r} is not a whole number")
        return column == int(text) if int(text) <= MAX_ID else false()

    return match


def where_clause(query: Mapping[str, str], searchable: Searchable) -> ColumnElement[bool] | None:
    """The filter for ``q`` and ``operator``, or None when there is no ``q``."""
    raw = query.get("q", "")
    if "\x00" in raw:
        raise bad_request("q", "must not contain NUL characters")
    terms = [t for t in raw.split(",") if t.strip()]
    if not terms:
        return None
    if len(terms) > MAX_TERMS:
        raise bad_request("q", f"at most {MAX_TERMS} terms")
    combine = _operator(query)
    return combine(*(_term(term, searchable) for term in terms))


def _operator(query: Mapping[str, str]) -> Callable[..., ColumnElement[bool]]:
    operator = query.get("operator", "AND").strip().upper() or "AND"
    if operator not in ("AND", "OR"):
        raise bad_request("operator", "must be AND or OR")
    return and_ if operator == "AND" else or_


def _term(term: str, searchable: Searchable) -> ColumnElement[bool]:
    name, colon, value = term.partition(":")
    name = name.strip().lower()
    if not colon:
        raise bad_request("q", f"{term[:MAX_VALUE]!r} is not field:value")
    if name not in searchable.fields:
        raise bad_request("q", f"unknown field {name[:MAX_VALUE]!r}; {_choices(searchable.fields)}")
    if len(value) > MAX_VALUE:
        raise bad_request("q", f"the value for {name} is longer than {MAX_VALUE} characters")
    try:
        return searchable.fields[name](value)
    except ValueError as exc:
        raise bad_request("q", f"{name}: {exc}") from None


def order_clause(query: Mapping[str, str], searchable: Searchable) -> list[Any]:
    """ORDER BY columns for ``order_by`` (``field:asc`` or ``field:desc``)."""
    raw = query.get("order_by", "").strip()
    name, direction = _split_order(raw) if raw else searchable.default_order
    if name not in searchable.sorts:
        raise bad_request(
            "order_by", f"unknown field {name[:MAX_VALUE]!r}; {_choices(searchable.sorts)}"
        )
    if direction not in ("asc", "desc"):
        raise bad_request("order_by", f"direction must be asc or desc, not {direction[:10]!r}")
    descending = direction == "desc"
    return [column.desc() if descending else column.asc() for column in searchable.sorts[name]]


def _split_order(raw: str) -> tuple[str, str]:
    name, _, direction = raw.partition(":")
    return name.strip().lower(), direction.strip().lower() or "asc"


def _choices(names: Mapping[str, object]) -> str:
    return "use one of: " + ", ".join(names)
