"""Business hours: weekly opening windows in one timezone, with holidays (pure).

A schedule is read from the JSON kept in the ``business_hours`` app setting::

    {"timezone": "America/New_York",
     "windows": {"mon": [["09:00", "17:00"]], "fri": [["22:00", "06:00"]]},
     "holidays": ["2026-12-25"]}

Times are wall-clock times in the schedule's timezone, so a window keeps its
local hours across daylight-saving changes. A window whose end is not after its
start runs overnight: Friday 22:00–06:00 is open from Friday 22:00 to Saturday
06:00. A window belongs to the day it starts on; a holiday closes the windows
that start on that local date. "24:00" as an end means midnight at the end of
the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = dt.timedelta(hours=24)
MAX_HOLIDAYS = 1000


class InvalidSchedule(ValueError):
    """The schedule cannot be used as written; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Window:
    """From ``start`` to ``end`` after local midnight of the day it starts on;
    ``end`` beyond 24 hours runs into the next day."""

    start: dt.timedelta
    end: dt.timedelta


@dataclass(frozen=True, slots=True)
class Schedule:
    timezone: str
    windows: tuple[tuple[Window, ...], ...]  # indexed by weekday, Monday = 0
    holidays: frozenset[dt.date]

    def is_open(self, when: dt.datetime) -> bool:
        """Whether ``when`` (timezone-aware) falls inside an opening window."""
        if when.tzinfo is None:
            raise ValueError("business hours need a timezone-aware time")
        local = when.astimezone(ZoneInfo(self.timezone))
        since_midnight = dt.timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        today, yesterday = local.date(), local.date() - dt.timedelta(days=1)
        return self._open_on(today, since_midnight) or self._open_on(
            yesterday, since_midnight + END_OF_DAY
        )

    def _open_on(self, day: dt.date, offset: dt.timedelta) -> bool:
        if day in self.holidays:
            return False
        return any(w.start <= offset < w.end for w in self.windows[day.weekday()])


def parse_schedule(data: Mapping[str, object]) -> Schedule:
    """Build a schedule from its JSON form; raise InvalidSchedule naming the field."""
    if not isinstance(data, Mapping):
        raise InvalidSchedule("business_hours", "must be an object")
    unknown = set(data) - {"timezone", "windows", "holidays"}
    if unknown:
        raise InvalidSchedule("business_hours", f"unknown field {sorted(unknown)[0]!r}")
    return Schedule(
        timezone=_timezone(data.get("timezone", "UTC")),
        windows=_windows(data.get("windows", {})),
        holidays=_holidays(data.get("holidays", [])),
    )


def schedule_to_json(schedule: Schedule) -> dict[str, object]:
    return {
        "timezone": schedule.timezone,
        "windows": {
            day: [[_clock(w.start), _clock(w.end)] for w in windows]
            for day, windows in zip(DAYS, schedule.windows, strict=True)
            if windows
        },
        "holidays": sorted(day.isoformat() for day in schedule.holidays),
    }


def _timezone(name: object) -> str:
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidSchedule("timezone", f"{name!r} is not an IANA timezone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule("timezone", f"{name!r} is not an IANA timezone name") from None
    return name


def _windows(data: object) -> tuple[tuple[Window, ...], ...]:
    if not isinstance(data, Mapping):
        raise InvalidSchedule("windows", "must map mon..sun to lists of [start, end]")
    unknown = set(data) - set(DAYS)
    if unknown:
        raise InvalidSchedule("windows", f"{sorted(unknown)[0]!r} is not one of {', '.join(DAYS)}")
    return tuple(_day_windows(day, data.get(day, [])) for day in DAYS)


def _day_windows(day: str, items: object) -> tuple[Window, ...]:
    if not isinstance(items, list):
        raise InvalidSchedule(f"windows.{day}", "must be a list of [start, end] pairs")
    windows = []
    for index, item in enumerate(items):
        where = f"windows.{day}[{index}]"
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise InvalidSchedule(where, 'must be a pair like ["09:00", "17:00"]')
        start, end = _time(where, item[0], allow_24=False), _time(where, item[1], allow_24=True)
        if start == end:
            raise InvalidSchedule(where, "start and end are the same time")
        windows.append(Window(start, end if end > start else end + END_OF_DAY))
    return tuple(windows)


def _time(where: str, value: object, *, allow_24: bool) -> dt.timedelta:
    if allow_24 and value == "24:00":
        return END_OF_DAY
    parsed = None
    if isinstance(value, str) and len(value) == 5:
        try:
            parsed = dt.time.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidSchedule(where, f"{value!r} is not a time like 09:30")
    return dt.timedelta(hours=parsed.hour, minutes=parsed.minute)


def _holidays(items: object) -> frozenset[dt.date]:
    if not isinstance(items, list):
        raise InvalidSchedule("holidays", "must be a list of dates like 2026-12-25")
    if len(items) > MAX_HOLIDAYS:
        raise InvalidSchedule("holidays", f"at most {MAX_HOLIDAYS} dates")
    days = set()
    for index, item in enumerate(items):
        try:
            days.add(dt.date.fromisoformat(item) if isinstance(item, str) else None)
        except ValueError:
            days.add(None)
        if None in days:
            raise InvalidSchedule(f"holidays[{index}]", f"{item!r} is not a date like 2026-12-25")
    return frozenset(days)


def _clock(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds() // 60) % (24 * 60)
    if offset == END_OF_DAY:
        return "24:00"
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
