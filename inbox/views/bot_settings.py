"""Settings for the keyword bot: business hours (timezone, weekly windows,
holidays), the cap on bot replies per conversation per hour, and the business
name templates use. Validated by bot/bot_settings.py; a refused form is shown
again (400) with the input kept and the message next to its field."""

from __future__ import annotations

import re

from aiohttp import web
from multidict import MultiDictProxy

from bot import bot_settings
from bot.bot_settings import BUSINESS_HOURS, BUSINESS_NAME, REPLY_CAP, BotSettings, InvalidSetting
from bot.business_hours import DAYS, schedule_to_json
from inbox.keys import SERVICES
from inbox.views._page import form_text, just_saved, read_form, render_page, saved_redirect

DAY_NAMES = dict(
    zip(
        DAYS,
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        strict=True,
    )
)
_RANGE = re.compile(r"\s*(\S+)\s*[-–]\s*(\S+)\s*")


class FormProblem(ValueError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field_name


async def bot_settings_form(request: web.Request) -> web.Response:
    async with request.config_dict[SERVICES].sessionmaker() as session:
        current = await bot_settings.load(session)
    return _render(request, form_values(current), {}, saved=just_saved(request))


async def bot_settings_save(request: web.Request) -> web.Response:
    values = submitted(await read_form(request))
    try:
        data = settings_data(values)
        async with request.config_dict[SERVICES].sessionmaker.begin() as session:
            await bot_settings.save(session, data)
    except FormProblem as exc:
        return _render(request, values, {exc.field: str(exc)}, status=400)
    except InvalidSetting as exc:
        return _render(request, values, {_field_of(exc.field): str(exc)}, status=400)
    raise saved_redirect(request, "inbox.settings.bot")


def form_values(settings: BotSettings) -> dict[str, str]:
    schedule = schedule_to_json(settings.business_hours)
    windows = schedule["windows"]
    values = {
        "business_name": settings.business_name,
        "reply_cap": str(settings.reply_cap_per_hour),
        "timezone": str(schedule["timezone"]),
        "holidays": "\n".join(schedule["holidays"]),
    }
    for day in DAYS:
        values[day] = ", ".join(f"{start}-{end}" for start, end in windows.get(day, []))
    return values


def submitted(form: MultiDictProxy) -> dict[str, str]:
    names = ("business_name", "reply_cap", "timezone", "holidays", *DAYS)
    return {name: form_text(form, name) for name in names}


def settings_data(values: dict[str, str]) -> dict[str, object]:
    """The form as bot_settings.save reads it; a window not written "09:00-17:00" is refused."""
    windows = {day: _ranges(day, values[day]) for day in DAYS if values[day].strip()}
    holidays = [line.strip() for line in values["holidays"].splitlines() if line.strip()]
    schedule = {"timezone": values["timezone"].strip(), "windows": windows, "holidays": holidays}
    return {
        BUSINESS_HOURS: schedule,
        REPLY_CAP: values["reply_cap"],
        BUSINESS_NAME: values["business_name"],
    }


def _ranges(day: str, text: str) -> list[list[str]]:
    ranges = []
    for part in text.split(","):
        found = _RANGE.fullmatch(part)
        if found is None:
            problem = f"{part.strip()[:30]!r} is not a time range like 09:00-17:00"
            raise FormProblem(day, f"{DAY_NAMES[day]}: {problem}")
        ranges.append([found.group(1), found.group(2)])
    return ranges


def _field_of(path: str) -> str:
    """The form field for an error path such as ``business_hours.windows.mon[0]``."""
    if path == REPLY_CAP:
        return "reply_cap"
    for name in ("timezone", "holidays", *DAYS):
        if name in path:
            return name
    return path if path == BUSINESS_NAME else "form"


def _render(
    request: web.Request,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    saved: bool = False,
    status: int = 200,
) -> web.Response:
    context = {"values": values, "errors": errors, "saved": saved, "days": DAY_NAMES}
    return render_page(request, "settings/bot.html", context, status=status)
