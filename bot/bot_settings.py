"""The keyword bot's operator settings, kept in app_settings as JSON text values.

- ``business_hours``: the weekly schedule of :mod:`bot.business_hours`;
- ``bot_reply_cap_per_hour``: at most this many bot replies per conversation per
  hour (default 5); when the cap trips the conversation is left for an agent;
- ``business_name``: ``business.name`` in message templates (defaults to the
  compliance settings' business name);
- ``rules_version``: an integer bumped by every rule change, so each process
  recompiles its matcher only when the rules changed.

Values are validated on save and a bad edit is refused with a message naming the
field. A stored value that no longer reads (edited by hand) falls back to its
default with a warning instead of stopping the pipeline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import appsettings, compliance_settings
from bot.business_hours import InvalidSchedule, Schedule, parse_schedule, schedule_to_json
from bot.models import AppSetting

log = logging.getLogger(__name__)

BUSINESS_HOURS = "business_hours"
REPLY_CAP = "bot_reply_cap_per_hour"
BUSINESS_NAME = "business_name"
RULES_VERSION = "rules_version"
KEYS = (BUSINESS_HOURS, REPLY_CAP, BUSINESS_NAME)

DEFAULT_REPLY_CAP = 5
MAX_REPLY_CAP = 100
MAX_BUSINESS_NAME = 60
DEFAULT_SCHEDULE = parse_schedule(
    {
        "timezone": "UTC",
        "windows": {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
)


class InvalidSetting(ValueError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class BotSettings:
    business_hours: Schedule = DEFAULT_SCHEDULE
    reply_cap_per_hour: int = DEFAULT_REPLY_CAP
    business_name: str = ""
    stored: frozenset[str] = field(default=frozenset())  # which keys are set

    def to_json(self) -> dict[str, object]:
        return {
            BUSINESS_HOURS: schedule_to_json(self.business_hours),
            REPLY_CAP: self.reply_cap_per_hour,
            BUSINESS_NAME: self.business_name,
        }


async def load(session: AsyncSession) -> BotSettings:
    rows = await session.execute(
        select(AppSetting.key, AppSetting.value).where(AppSetting.key.in_(KEYS))
    )
    raw = {key: value for key, value in rows}
    values: dict[str, object] = {}
    for key, value in raw.items():
        try:
            values[key] = PARSERS[key](json.loads(value))
        except (InvalidSetting, InvalidSchedule, ValueError) as exc:
            log.warning("app setting %s is unreadable (%s); using its default", key, exc)
    name = values.get(BUSINESS_NAME) or (await compliance_settings.load(session)).business_name
    return BotSettings(
        business_hours=values.get(BUSINESS_HOURS, DEFAULT_SCHEDULE),
        reply_cap_per_hour=values.get(REPLY_CAP, DEFAULT_REPLY_CAP),
        business_name=name,
        stored=frozenset(values),
    )


async def save(session: AsyncSession, data: Mapping[str, object]) -> BotSettings:
    """Validate and store the given settings (any subset of the three keys).

    Values may come from JSON (objects, numbers) or from a form (text): the
    business hours as a JSON document, the cap as a whole number."""
    parsed = parse(data)
    for key, value in parsed.items():
        stored = schedule_to_json(value) if key == BUSINESS_HOURS else value
        await appsettings.put(session, key, json.dumps(stored))
    await session.flush()
    return await load(session)


def parse(data: Mapping[str, object]) -> dict[str, object]:
    """Validate submitted values; raise InvalidSetting naming the first bad field."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise InvalidSetting(unknown[0], "is not a bot setting")
    return {key: PARSERS[key](_from_text(key, value)) for key, value in data.items()}


def _from_text(key: str, value: object) -> object:
    if key == BUSINESS_HOURS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise InvalidSetting(key, f"is not valid JSON ({exc})") from None
    return value


def _schedule(value: object) -> Schedule:
    try:
        return parse_schedule(value)  # type: ignore[arg-type]
    except InvalidSchedule as exc:
        raise InvalidSetting(f"{BUSINESS_HOURS}.{exc.field}", exc.problem) from None


def _reply_cap(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidSetting(REPLY_CAP, "must be a whole number")
    try:
        number = int(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidSetting(REPLY_CAP, f"{value!r} is not a whole number") from None
    if isinstance(value, float) and value != number:
        raise InvalidSetting(REPLY_CAP, f"{value!r} is not a whole number")
    if not 1 <= number <= MAX_REPLY_CAP:
        raise InvalidSetting(REPLY_CAP, f"must be between 1 and {MAX_REPLY_CAP}")
    return number


def _business_name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidSetting(BUSINESS_NAME, "must be text")
    name = " ".join(value.split())
    if len(name) > MAX_BUSINESS_NAME:
        raise InvalidSetting(BUSINESS_NAME, f"must be at most {MAX_BUSINESS_NAME} characters")
    return name


PARSERS = {BUSINESS_HOURS: _schedule, REPLY_CAP: _reply_cap, BUSINESS_NAME: _business_name}


async def rules_version(session: AsyncSession) -> int:
    """The current rules version (0 before any rule change)."""
    raw = await appsettings.find(session, RULES_VERSION)
    return 0 if raw is None else _version(raw)


async def bump_rules_version(session: AsyncSession) -> int:
    """Call in the transaction that changes rules; every process then recompiles.
    The row is locked (PostgreSQL) so two concurrent bumps give two versions."""
    row = await session.get(AppSetting, RULES_VERSION, with_for_update=True)
    if row is None:
        try:
            async with session.begin_nested():
                session.add(AppSetting(key=RULES_VERSION, value="1"))
            return 1
        except IntegrityError:
            row = await session.get_one(
                AppSetting, RULES_VERSION, with_for_update=True, populate_existing=True
            )
    version = max(_version(row.value), 0) + 1
    row.value = str(version)
    await session.flush()
    return version


def _version(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return -1
