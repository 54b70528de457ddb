"""Business hours: weekly windows, overnight windows, holidays and DST (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.business_hours import InvalidSchedule, parse_schedule, schedule_to_json

NY = ZoneInfo("America/New_York")
SCHEDULE = parse_schedule(
    {
        "timezone": "America/New_York",
        "windows": {
            "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
            "tue": [["09:00", "17:00"]],
            "fri": [["22:00", "06:00"]],
            "sun": [["10:00", "24:00"]],
        },
        "holidays": ["2026-12-25", "2026-03-06"],
    }
)


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (ny(2026, 3, 2, 9, 0), True),  # Monday, first window opens
        (ny(2026, 3, 2, 8, 59), False),
        (ny(2026, 3, 2, 12, 0), False),  # lunch gap: the end is exclusive
        (ny(2026, 3, 2, 12, 59, 59), False),
        (ny(2026, 3, 2, 13, 0), True),
        (ny(2026, 3, 2, 16, 59), True),
        (ny(2026, 3, 2, 17, 0), False),
        (ny(2026, 3, 4, 10, 0), False),  # Wednesday: no windows
        (ny(2026, 3, 13, 23, 30), True),  # Friday night, overnight window
        (ny(2026, 3, 14, 5, 59), True),  # Saturday early morning, same window
        (ny(2026, 3, 14, 6, 0), False),
        (ny(2026, 3, 13, 21, 59), False),
        (ny(2026, 3, 6, 23, 0), False),  # Friday 6 March is a holiday
        (ny(2026, 3, 7, 2, 0), False),  # ... so its overnight window stays closed
        (ny(2026, 3, 15, 23, 59), True),  # Sunday until 24:00
        (ny(2026, 3, 16, 0, 0), False),  # Monday midnight
        (ny(2026, 12, 25, 10, 0), False),  # Friday holiday (no daytime window anyway)
        (ny(2026, 12, 26, 1, 0), False),  # after the holiday's overnight window
    ],
)
def test_open_inside_windows_only(when, expected):
    assert SCHEDULE.is_open(when) is expected


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # DST starts in New York on Sunday 8 March 2026: 09:00 local is 14:00 UTC
        # on Monday 2 March (EST) and 13:00 UTC on Monday 9 March (EDT).
        (dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 3, 9, 12, 30, tzinfo=dt.UTC), False),
        # DST ends on Sunday 1 November 2026; Sunday opens at 10:00 local both times.
        (dt.datetime(2026, 11, 1, 14, 0, tzinfo=dt.UTC), False),  # 09:00 EST
        (dt.datetime(2026, 11, 1, 15, 0, tzinfo=dt.UTC), True),  # 10:00 EST
        (dt.datetime(2026, 10, 25, 14, 0, tzinfo=dt.UTC), True),  # 10:00 EDT
    ],
)
def test_windows_keep_local_hours_across_dst(utc, expected):
    assert SCHEDULE.is_open(utc) is expected


def test_round_trip_through_json():
    data = schedule_to_json(SCHEDULE)
    assert data == {
        "timezone": "America/New_York",
        "windows": {
            "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
            "tue": [["09:00", "17:00"]],
            "fri": [["22:00", "06:00"]],
            "sun": [["10:00", "24:00"]],
        },
        "holidays": ["2026-03-06", "2026-12-25"],
    }
    assert parse_schedule(data) == SCHEDULE


def test_naive_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        SCHEDULE.is_open(dt.datetime(2026, 3, 2, 10, 0))


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA timezone"),
        ({"timezone": "../etc/passwd"}, "timezone", "not an IANA timezone"),
        ({"timezone": 5}, "timezone", "not an IANA timezone"),
        ({"windows": {"monday": []}}, "windows", "'monday' is not one of"),
        ({"windows": []}, "windows", "must map"),
        ({"windows": {"mon": "9-5"}}, "windows.mon", "list of"),
        ({"windows": {"mon": [["09:00"]]}}, "windows.mon[0]", "pair"),
        ({"windows": {"tue": [["9am", "17:00"]]}}, "windows.tue[0]", "'9am' is not a time"),
        ({"windows": {"tue": [["09:00", "25:00"]]}}, "windows.tue[0]", "'25:00' is not a time"),
        ({"windows": {"tue": [["24:00", "09:00"]]}}, "windows.tue[0]", "'24:00' is not a time"),
        ({"windows": {"wed": [["09:00", "09:00"]]}}, "windows.wed[0]", "same time"),
        ({"holidays": "2026-12-25"}, "holidays", "list of dates"),
        ({"holidays": ["2026-12-25", "Christmas"]}, "holidays[1]", "'Christmas' is not a date"),
        ({"holidays": [20261225]}, "holidays[0]", "is not a date"),
        ({"hours": {}}, "business_hours", "unknown field 'hours'"),
        ([], "business_hours", "must be an object"),
    ],
)
def test_bad_schedules_name_the_field(data, field, problem):
    with pytest.raises(InvalidSchedule, match=problem) as caught:
        parse_schedule(data)
    assert caught.value.field == field


def test_empty_schedule_is_always_closed():
    schedule = parse_schedule({})
    assert schedule.timezone == "UTC"
    assert not schedule.is_open(dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC))
