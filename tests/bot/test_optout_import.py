"""Importing an opt-out list: CSV parsing (tables of files), normalising, and applying."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import ConsentEvent, ConsentMethod, Message, MessageStatus, OptOut, Role
from bot.optout_import import (
    MAX_BYTES,
    MAX_ROWS,
    CsvRow,
    ImportRejected,
    ImportReport,
    ImportTooLarge,
    Pending,
    RowResult,
    delimiter_of,
    header_key,
    import_opt_outs,
    import_provider_list,
    looks_like_number,
    parse_csv,
    plan,
)
from bot.outbox import enqueue_to_number
from bot.providers.base import Page, PermanentProviderError
from inbox.auth import create_user
from tests.consent_helpers import ledger, opt_outs

# -- parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phone_number\n4155550101\n", [(2, "4155550101")]),
        ("Phone\n4155550101\n", [(2, "4155550101")]),
        ("MOBILE\n4155550101\n", [(2, "4155550101")]),
        (" Number \n4155550101\n", [(2, "4155550101")]),
        ("Phone Number\n4155550101\n", [(2, "4155550101")]),
        ("phone-number\n4155550101\n", [(2, "4155550101")]),
        ("name,email,phone\nAnn,a@x.io,4155550101\n", [(2, "4155550101")]),
        ("number,phone\n1,4155550101\n", [(2, "4155550101")]),  # phone wins over number
        ("\ufeffphone\n4155550101\n", [(2, "4155550101")]),  # UTF-8 BOM
        ("phone\r\n4155550101\r\n4155550102", [(2, "4155550101"), (3, "4155550102")]),
        ("name;phone\nAnn;+61 412 345 678\n", [(2, "+61 412 345 678")]),
        ("name\tphone\nAnn\t4155550101\n", [(2, "4155550101")]),
        ('phone;name\n"4155550101";"Doe, Ann"\n', [(2, "4155550101")]),
        ("\n\nphone\n\n4155550101\n  \n,\n4155550102\n", [(5, "4155550101"), (8, "4155550102")]),
        (
            'phone,note\n4155550101,"two\nlines"\n4155550102,x\n',
            [(2, "4155550101"), (4, "4155550102")],
        ),
        (
            "phone,reason\n4155550101,asked by email\n4155550102,\n",
            [(2, "4155550101", "asked by email"), (3, "4155550102")],
        ),
        ("phone,reason\n4155550101\n", [(2, "4155550101")]),  # short row
        (
            "phone\n=1+2\n+14155550101\n@SUM(A1)\n",
            [(2, "=1+2"), (3, "+14155550101"), (4, "@SUM(A1)")],
        ),
        ("phone\n", []),
        # one column, no header: every row looks like a number
        (
            "4155550101\n+1 (415) 555-0102\n\n(415) 555.0103\n",
            [(1, "4155550101"), (2, "+1 (415) 555-0102"), (4, "(415) 555.0103")],
        ),
        ("\ufeff4155550101;\n", [(1, "4155550101")]),
        ("123\n", [(1, "123")]),  # looks like a number; the normaliser says it is not one
    ],
)
def test_parse_csv_reads_the_phone_column(text, expected):
    assert parse_csv(text) == [CsvRow(*row) for row in expected]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "csv: the file has no rows"),
        ("\ufeff\n \n,,\n", "csv: the file has no rows"),
        ("name,email\nAnn,a@x.io\n", "csv: no phone column; the header row must name one of: "),
        ("4155550101\nAnn\n", "csv: no phone column"),  # headerless, but a row is not a number
        ("4155550101,Ann\n", "csv: no phone column"),  # headerless needs a single column
        ("telephone\n4155550101\n", "csv: no phone column"),
        ("phone\n" + "4" * 200_000 + "\n", "csv: line 2: field larger than field limit"),
        ("phone\n4155550101 \ud800\n", "csv: is not valid Unicode text"),
    ],
)
def test_a_file_that_cannot_be_read_is_rejected_whole(text, message):
    with pytest.raises(ImportRejected) as caught:
        parse_csv(text)
    assert str(caught.value).startswith(message)
    assert not isinstance(caught.value, ImportTooLarge)


def _numbers(count: int) -> list[str]:
    return [f"415{i:07d}" for i in range(count)]


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("phone\n" + "\n".join(_numbers(MAX_ROWS)), MAX_ROWS),
        ("\n".join(_numbers(MAX_ROWS)), MAX_ROWS),
        ("phone\n" + "\n\n".join(_numbers(MAX_ROWS)) + "\n\n\n", MAX_ROWS),  # blanks are free
        ("phone,note\n4155550101," + "x" * 100_000 + "\n", 1),
    ],
)
def test_files_up_to_the_bounds_are_read(text, rows):
    assert len(parse_csv(text)) == rows


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phone\n" + "\n".join(_numbers(MAX_ROWS + 1)), f"more than {MAX_ROWS} rows"),
        ("\n".join(_numbers(MAX_ROWS + 1)), f"more than {MAX_ROWS} rows"),
        ("phone\n4155550101\n" + " " * MAX_BYTES, "larger than 5 MB"),
        ("phone,note\n4155550101," + "é" * (MAX_BYTES // 2), "larger than 5 MB"),  # bytes count
    ],
)
def test_files_beyond_the_bounds_are_refused_with_a_clear_message(text, message):
    with pytest.raises(ImportTooLarge) as caught:
        parse_csv(text)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("csv: ") and message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b;c\n", ","),
        ("a;b;c,d\n", ";"),
        ("a\tb\n", "\t"),
        ("4155550101\n", ","),
        ("\n\n  \na;b\n", ";"),
        ("", ","),
    ],
)
def test_delimiter_is_the_most_frequent_on_the_first_line(text, expected):
    assert delimiter_of(text) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("4155550101", True),
        ("+61 412 345 678", True),
        ("(415) 555-0101", True),
        ("415.555.0101", True),
        ("12", False),
        ("phone", False),
        ("=1+2", False),
        ("+", False),
        ("", False),
    ],
)
def test_looks_like_number(cell, expected):
    assert looks_like_number(cell) is expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(" Phone Number ", "phone_number"), ("MOBILE", "mobile"), ("phone-number", "phone_number")],
)
def test_header_key(cell, expected):
    assert header_key(cell) == expected


# -- normalising --------------------------------------------------------------------


def test_plan_reports_invalid_rows_and_repeats_with_their_lines():
    rows = [
        CsvRow(2, "(415) 555-0101", "asked"),
        CsvRow(3, "abc"),
        CsvRow(4, "+1 415 555 0101"),
        CsvRow(5, "415 555 01"),
        CsvRow(7, "=1+2"),
        CsvRow(8, "415555"),
        CsvRow(9, "4155550102", "bad\x00reason"),
        CsvRow(10, "4" * 40),
    ]
    assert plan(rows, "US") == [
        Pending(2, "(415) 555-0101", "+14155550101", "asked"),
        RowResult(
            3,
            "abc",
            "invalid",
            "'abc' is not a phone number (The string supplied did not seem to be a phone number.)",
        ),
        RowResult(4, "+1 415 555 0101", "already", "+14155550101 repeats line 2"),
        RowResult(
            5, "415 555 01", "invalid", "'415 555 01' has the wrong length for a phone number"
        ),
        RowResult(
            7,
            "=1+2",
            "invalid",
            "'=1+2' is not a phone number (The string supplied did not seem to be a phone number.)",
        ),
        RowResult(8, "415555", "invalid", "'415555' has the wrong length for a phone number"),
        RowResult(9, "4155550102", "invalid", "reason: must not contain NUL characters"),
        RowResult(10, "4" * 40, "invalid", "phone number is longer than 32 characters"),
    ]


def test_plan_uses_the_default_region():
    assert plan([CsvRow(2, "0412 345 678")], "AU") == [
        Pending(2, "0412 345 678", "+61412345678", None)
    ]


def test_report_raw_text_is_capped():
    (result,) = plan([CsvRow(2, "x" * 500)], "US")
    assert result.status == "invalid" and result.raw == "x" * 100


def test_report_counts():
    report = ImportReport(
        (
            RowResult(2, "a", "added", ""),
            RowResult(3, "b", "added", ""),
            RowResult(4, "c", "already", ""),
            RowResult(5, "d", "invalid", ""),
        )
    )
    assert (report.added, report.already, report.invalid) == (2, 1, 1)
    assert report.counts == {"added": 2, "already": 1, "invalid": 1}


# -- applying -----------------------------------------------------------------------


async def _ledger(sessionmaker) -> list[tuple]:
    return await ledger(sessionmaker, ConsentEvent.user_id)


async def test_import_adds_each_number_once_with_one_ledger_event(sessionmaker):
    async with sessionmaker.begin() as session:
        admin = await create_user(session, "admin@example.com", "password123", Role.ADMIN)
    text = (
        "\ufeffName;Phone;Reason\r\n"
        "Ann;(415) 555-0101;asked by email\r\n"
        "Bob;not a number;\r\n"
        "\r\n"
        "Cy;+1 415 555 0102;\r\n"
        "Ann again;415-555-0101;\r\n"
    )
    async with sessionmaker.begin() as session:
        report = await import_opt_outs(session, text, default_region="US", user_id=admin.id)
    assert report == ImportReport(
        (
            RowResult(2, "(415) 555-0101", "added", "+14155550101 opted out"),
            RowResult(
                3,
                "not a number",
                "invalid",
                "'not a number' is not a phone number "
                "(The string supplied did not seem to be a phone number.)",
            ),
            RowResult(5, "+1 415 555 0102", "added", "+14155550102 opted out"),
            RowResult(6, "415-555-0101", "already", "+14155550101 repeats line 2"),
        )
    )
    assert report.counts == {"added": 2, "already": 1, "invalid": 1}
    assert await _ledger(sessionmaker) == [
        ("+14155550101", "", "opt_out", "import", "asked by email", admin.id),
        ("+14155550102", "", "opt_out", "import", "imported opt-out list", admin.id),
    ]
    assert await opt_outs(sessionmaker) == [("+14155550101", ""), ("+14155550102", "")]


async def test_a_number_already_opted_out_is_reported_and_not_recorded_again(sessionmaker):
    async with sessionmaker.begin() as session:
        session.add(OptOut(phone_number="+14155550101", our_number=""))
        session.add(OptOut(phone_number="+14155550102", our_number="+15550001111"))
    async with sessionmaker.begin() as session:
        report = await import_opt_outs(
            session,
            "phone\n4155550101\n4155550102\n",
            default_region="US",
            user_id=None,
            method=ConsentMethod.ADMIN,
            reason="list from the old CRM",
        )
    assert report.rows == (
        RowResult(2, "4155550101", "already", "+14155550101 is already opted out"),
        RowResult(3, "4155550102", "added", "+14155550102 opted out"),  # now for all numbers
    )
    assert await _ledger(sessionmaker) == [
        ("+14155550102", "", "opt_out", "admin", "list from the old CRM", None)
    ]
    assert await opt_outs(sessionmaker) == [
        ("+14155550101", ""),
        ("+14155550102", ""),
        ("+14155550102", "+15550001111"),
    ]


async def test_import_suppresses_messages_queued_to_the_numbers(sessionmaker):
    async with sessionmaker.begin() as session:
        queued = await enqueue_to_number(session, "+14155550101", "Sale today!")
        other = await enqueue_to_number(session, "+14155550199", "Hello")
    async with sessionmaker.begin() as session:
        await import_opt_outs(session, "4155550101\n", default_region="US", user_id=None)
    async with sessionmaker() as session:
        statuses = dict(
            (await session.execute(select(Message.id, Message.status).order_by(Message.id))).all()
        )
    assert statuses == {queued.id: MessageStatus.SUPPRESSED, other.id: MessageStatus.QUEUED}


async def test_a_row_whose_reason_is_too_long_is_invalid_and_the_rest_imported(sessionmaker):
    text = f"phone,reason\n4155550101,{'x' * 2001}\n4155550102,ok\n"
    async with sessionmaker.begin() as session:
        report = await import_opt_outs(session, text, default_region="US", user_id=None)
    assert report.rows == (
        RowResult(2, "4155550101", "invalid", "reason: is longer than 2000 characters"),
        RowResult(3, "4155550102", "added", "+14155550102 opted out"),
    )
    assert await opt_outs(sessionmaker) == [("+14155550102", "")]


async def test_a_refused_file_writes_nothing(sessionmaker):
    text = "phone\n" + "\n".join(_numbers(MAX_ROWS + 1))
    with pytest.raises(ImportTooLarge):
        async with sessionmaker.begin() as session:
            await import_opt_outs(session, text, default_region="US", user_id=None)
    assert await _ledger(sessionmaker) == []
    assert await opt_outs(sessionmaker) == []


# -- a provider's contact list ------------------------------------------------------------


class FakeListProvider:
    """Serves ``pages`` of list 77 and records each call; other lists raise."""

    name = "fake"

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.calls: list[tuple[int, int, int]] = []

    async def fetch_list_numbers(self, list_id: int, page: int = 1, limit: int = 100) -> Page[str]:
        self.calls.append((list_id, page, limit))
        if list_id != 77:
            raise PermanentProviderError(f"list {list_id} does not exist")
        return Page(items=self.pages[page - 1], has_more=page < len(self.pages))


async def test_import_provider_list_pages_through_and_records_provider_opt_outs(sessionmaker):
    async with sessionmaker.begin() as session:
        admin = await create_user(session, "admin@example.com", "password123", Role.ADMIN)
        session.add(OptOut(phone_number="+14155550103", our_number=""))
    provider = FakeListProvider(
        [["+14155550101", "call me"], ["(415) 555-0102", "+1 415 555 0101"], ["+14155550103"]]
    )
    async with sessionmaker.begin() as session:
        report = await import_provider_list(
            session, provider, 77, default_region="US", user_id=admin.id
        )
    assert provider.calls == [(77, 1, 100), (77, 2, 100), (77, 3, 100)]
    assert report == ImportReport(
        (
            RowResult(1, "+14155550101", "added", "+14155550101 opted out"),
            RowResult(
                2,
                "call me",
                "invalid",
                "'call me' is not a phone number "
                "(The string supplied did not seem to be a phone number.)",
            ),
            RowResult(3, "(415) 555-0102", "added", "+14155550102 opted out"),
            RowResult(4, "+1 415 555 0101", "already", "+14155550101 repeats line 1"),
            RowResult(5, "+14155550103", "already", "+14155550103 is already opted out"),
        )
    )
    assert await _ledger(sessionmaker) == [
        ("+14155550101", "", "opt_out", ConsentMethod.PROVIDER, "ClickSend list 77", admin.id),
        ("+14155550102", "", "opt_out", ConsentMethod.PROVIDER, "ClickSend list 77", admin.id),
    ]


async def test_import_provider_list_errors_write_nothing(sessionmaker):
    provider = FakeListProvider([["+14155550101"]])
    with pytest.raises(PermanentProviderError, match="list 5 does not exist"):
        async with sessionmaker.begin() as session:
            await import_provider_list(session, provider, 5, default_region="US", user_id=None)
    assert await _ledger(sessionmaker) == []


async def test_a_provider_list_beyond_the_bound_is_refused_whole(sessionmaker):
    page = [f"+1415{i:07d}" for i in range(100)]
    provider = FakeListProvider([page] * (MAX_ROWS // 100 + 2))
    with pytest.raises(ImportTooLarge, match=f"more than {MAX_ROWS} numbers"):
        async with sessionmaker.begin() as session:
            await import_provider_list(session, provider, 77, default_region="US", user_id=None)
    assert len(provider.calls) == MAX_ROWS // 100 + 1
    assert await _ledger(sessionmaker) == []
