"""Import an existing opt-out list (CSV, or a provider's contact list) into the
suppression list and the ledger.

The file has a header row naming the phone column (``phone_number``, ``phone``,
``mobile`` or ``number``, any case) and optionally a ``reason`` column; a file
of one column and no header is accepted when every row looks like a number.
Delimiters ``,``, ``;`` and tab are recognised, a UTF-8 BOM and blank lines are
ignored, and cells are only ever text (a ``=...`` cell is an invalid number,
never a formula).

Parsing and normalising are pure; :func:`import_opt_outs` applies the result
through :func:`bot.consent.record_opt_outs` in a few statements per 500 rows,
one ledger event per added number,
in the caller's transaction. Every data row gets a :class:`RowResult`: a bad
row is reported with its line number and never stops the import.

:func:`import_provider_list` does the same for a contact list kept at the
provider (ClickSend keeps opt-outs as an ordinary contact list, §7): its numbers
are read page by page, and a number's "line" is its position in the list, from 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot.consent import ConsentError, check_reason, record_opt_outs
from bot.models import ConsentMethod
from bot.phones import InvalidPhoneNumber, to_e164
from bot.providers.base import SmsProvider, read_all_pages

MAX_ROWS = 50_000
MAX_BYTES = 5 * 1024 * 1024
MAX_RAW = 100  # characters of a cell echoed back in the report
PHONE_HEADERS = ("phone_number", "phone", "mobile", "number")
REASON_HEADER = "reason"
DELIMITERS = (",", ";", "\t")
BOM = "\ufeff"
_LOOKS_LIKE_NUMBER = re.compile(r"\+?[0-9(][0-9 ().\-/]*")
MIN_DIGITS = 3
PROVIDER_PAGE_SIZE = 100

Status = Literal["added", "already", "invalid"]


class ImportRejected(ValueError):
    """The file as a whole cannot be imported; nothing was applied."""


class ImportTooLarge(ImportRejected):
    """The file has more than ``MAX_ROWS`` data rows or ``MAX_BYTES`` of text."""


@dataclass(frozen=True)
class RowResult:
    line: int
    raw: str
    status: Status
    message: str


@dataclass(frozen=True)
class ImportReport:
    rows: tuple[RowResult, ...]

    def _count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def added(self) -> int:
        return self._count("added")

    @property
    def already(self) -> int:
        return self._count("already")

    @property
    def invalid(self) -> int:
        return self._count("invalid")

    @property
    def counts(self) -> dict[str, int]:
        return {"added": self.added, "already": self.already, "invalid": self.invalid}


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its first line in the file, the phone cell and the reason cell."""

    line: int
    raw: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """A row whose number normalised and is new in this file: to be opted out."""

    line: int
    raw: str
    phone_number: str
    reason: str | None


# -- parsing (pure) ---------------------------------------------------------------


def parse_csv(csv_text: str) -> list[CsvRow]:
    """The data rows of ``csv_text``; ImportRejected when the file cannot be read."""
    rows = _non_blank_records(_checked_text(csv_text))
    if not rows:
        raise ImportRejected("csv: the file has no rows")
    phone, reason = _columns(rows[0][1])
    if phone is None:
        return _headerless(rows)
    return [_row(line, cells, phone, reason) for line, cells in rows[1:]]


def _checked_text(csv_text: str) -> str:
    try:
        size = len(csv_text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no database would store it
        raise ImportRejected("csv: is not valid Unicode text") from None
    if size > MAX_BYTES:
        raise ImportTooLarge(f"csv: the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    return csv_text.removeprefix(BOM)


def _non_blank_records(text: str) -> list[tuple[int, list[str]]]:
    """Records with any text, at most a header and ``MAX_ROWS`` (stops reading beyond)."""
    rows: list[tuple[int, list[str]]] = []
    for line, cells in _records(text):
        if any(cell.strip() for cell in cells):
            rows.append((line, cells))
            _check_row_count(len(rows) - 1)
    return rows


def _check_row_count(count: int) -> None:
    if count > MAX_ROWS:
        raise ImportTooLarge(f"csv: the file has more than {MAX_ROWS} rows; split it")


def delimiter_of(text: str) -> str:
    """The most frequent of ``,``, ``;`` and tab on the first non-blank line (``,`` if none)."""
    first = next((line for line in io.StringIO(text) if line.strip()), "")
    counts = {delimiter: first.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line number, cells)`` for every record, blank ones included."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    line = 1
    try:
        for cells in reader:
            yield line, cells
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportRejected(f"csv: line {reader.line_num}: {exc}") from None


def header_key(cell: str) -> str:
    """``' Phone Number '`` → ``phone_number``."""
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _columns(header: Sequence[str]) -> tuple[int | None, int | None]:
    """Indexes of the phone and reason columns, None where the header has none."""
    keys = [header_key(cell) for cell in header]
    phone = next((keys.index(name) for name in PHONE_HEADERS if name in keys), None)
    reason = keys.index(REASON_HEADER) if REASON_HEADER in keys else None
    return phone, reason


def looks_like_number(cell: str) -> bool:
    text = cell.strip()
    digits = sum(char.isdigit() for char in text)
    return digits >= MIN_DIGITS and bool(_LOOKS_LIKE_NUMBER.fullmatch(text))


def _headerless(rows: list[tuple[int, list[str]]]) -> list[CsvRow]:
    if not all(_single_number(cells) for _, cells in rows):
        names = ", ".join(PHONE_HEADERS)
        raise ImportRejected(f"csv: no phone column; the header row must name one of: {names}")
    _check_row_count(len(rows))
    return [_row(line, cells, 0, None) for line, cells in rows]


def _single_number(cells: list[str]) -> bool:
    filled = [cell for cell in cells if cell.strip()]
    return len(filled) == 1 and cells[0].strip() != "" and looks_like_number(cells[0])


def _row(line: int, cells: list[str], phone: int, reason: int | None) -> CsvRow:
    raw = _cell(cells, phone)
    reason_text = _cell(cells, reason) if reason is not None else ""
    return CsvRow(line=line, raw=raw, reason=reason_text or None)


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


# -- normalising (pure) ---------------------------------------------------------------


def plan(rows: Sequence[CsvRow], default_region: str) -> list[RowResult | Pending]:
    """Normalise every row; invalid numbers and repeats within the file are settled here."""
    first_line: dict[str, int] = {}
    planned: list[RowResult | Pending] = []
    for row in rows:
        planned.append(_plan_row(row, default_region, first_line))
    return planned


def _plan_row(row: CsvRow, region: str, first_line: dict[str, int]) -> RowResult | Pending:
    raw = row.raw[:MAX_RAW]
    try:
        phone_number = to_e164(row.raw, region)
    except InvalidPhoneNumber as exc:
        return RowResult(row.line, raw, "invalid", str(exc))
    if row.reason is not None and "\x00" in row.reason:
        return RowResult(row.line, raw, "invalid", "reason: must not contain NUL characters")
    if phone_number in first_line:
        message = f"{phone_number} repeats line {first_line[phone_number]}"
        return RowResult(row.line, raw, "already", message)
    first_line[phone_number] = row.line
    return Pending(row.line, raw, phone_number, row.reason)


# -- applying -------------------------------------------------------------------------


async def import_opt_outs(
    session: AsyncSession,
    csv_text: str,
    *,
    default_region: str,
    user_id: int | None,
    method: ConsentMethod = ConsentMethod.IMPORT,
    reason: str = "imported opt-out list",
) -> ImportReport:
    """Opt out every number of the file (all our numbers); the caller commits."""
    planned = plan(parse_csv(csv_text), default_region)
    return await _apply(session, planned, method=method, reason=reason, user_id=user_id)


async def fetch_provider_numbers(provider: SmsProvider, list_id: int) -> list[str]:
    """Every phone number of the provider's list ``list_id``, in list order.

    ImportTooLarge beyond ``MAX_ROWS`` numbers; ProviderError as the provider raised it.
    """
    numbers = await read_all_pages(
        partial(provider.fetch_list_numbers, list_id),
        page_size=PROVIDER_PAGE_SIZE,
        max_items=MAX_ROWS,
    )
    if numbers is None:
        raise ImportTooLarge(f"list {list_id}: has more than {MAX_ROWS} numbers; split it")
    return numbers


async def import_provider_list(
    session: AsyncSession,
    provider: SmsProvider,
    list_id: int,
    *,
    default_region: str,
    user_id: int | None,
) -> ImportReport:
    """Opt out every number of the provider's contact list ``list_id``; the caller commits.

    The numbers are all fetched before anything is written: a provider error or a
    list that is too large leaves the database untouched.
    """
    numbers = await fetch_provider_numbers(provider, list_id)
    return await record_provider_numbers(
        session, numbers, list_id, default_region=default_region, user_id=user_id
    )


async def record_provider_numbers(
    session: AsyncSession,
    numbers: Sequence[str],
    list_id: int,
    *,
    default_region: str,
    user_id: int | None,
) -> ImportReport:
    """The writing half of :func:`import_provider_list`, for callers that fetch the
    numbers before they open a transaction (no write lock held over the network)."""
    rows = [CsvRow(line=position, raw=number) for position, number in enumerate(numbers, 1)]
    planned = plan(rows, default_region)
    reason = f"ClickSend list {list_id}"
    return await _apply(
        session, planned, method=ConsentMethod.PROVIDER, reason=reason, user_id=user_id
    )


async def _apply(
    session: AsyncSession,
    planned: Sequence[RowResult | Pending],
    *,
    method: ConsentMethod,
    reason: str,
    user_id: int | None,
) -> ImportReport:
    """Record the planned opt-outs, one report row per planned row, in order."""
    pending: list[Pending] = []
    results: dict[int, RowResult] = {}
    for index, item in enumerate(planned):
        if isinstance(item, RowResult):
            results[index] = item
            continue
        try:
            check_reason(item.reason or reason)
        except ConsentError as exc:
            results[index] = RowResult(item.line, item.raw, "invalid", str(exc))
            continue
        pending.append(item)
    entries = [(item.phone_number, item.reason or reason) for item in pending]
    added = await record_opt_outs(session, entries, method=method, user_id=user_id)
    for index, item in enumerate(planned):
        if index not in results:
            results[index] = _applied(item, added=item.phone_number in added)
    return ImportReport(tuple(results[index] for index in range(len(planned))))


def _applied(item: Pending, *, added: bool) -> RowResult:
    if added:
        return RowResult(item.line, item.raw, "added", f"{item.phone_number} opted out")
    return RowResult(item.line, item.raw, "already", f"{item.phone_number} is already opted out")
