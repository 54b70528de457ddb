"""Operator-editable compliance settings: texts, scope and keyword vocabulary.

Stored as one JSON document in app_settings, validated on save so a bad edit is
refused with a message naming the field, never stored half-valid.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from sqlalchemy.ext.asyncio import AsyncSession

from bot import appsettings
from bot.encoding import measure
from bot.optout_keywords import DEFAULT_VOCABULARY, SPANISH, Vocabulary, merged, normalize

KEY = "compliance"
SCOPES = ("global", "per_number")
MAX_TEXT_PARTS = 2
VOCABULARY_FIELDS = (
    "opt_out_keywords",
    "opt_in_keywords",
    "help_keywords",
    "filler_words",
    "opt_out_phrases",
)


class InvalidSetting(ValueError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


def _default_words(name: str) -> tuple[str, ...]:
    return tuple(sorted(getattr(DEFAULT_VOCABULARY, name)))


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    business_name: str = "our team"
    scope: str = "global"
    confirmation_enabled: bool = True
    confirmation_text: str = (
        "You're unsubscribed from {business} and will get no more messages. "
        "Reply START to resubscribe."
    )
    opt_in_text: str = "You're subscribed to {business} messages again. Reply STOP to opt out."
    help_text: str = (
        "{business}: reply to this message and a person will answer. Reply STOP to opt out."
    )
    help_cooldown_minutes: int = 10
    spanish: bool = False
    opt_out_keywords: tuple[str, ...] = field(
        default_factory=lambda: _default_words("opt_out_keywords")
    )
    opt_in_keywords: tuple[str, ...] = field(
        default_factory=lambda: _default_words("opt_in_keywords")
    )
    help_keywords: tuple[str, ...] = field(default_factory=lambda: _default_words("help_keywords"))
    filler_words: tuple[str, ...] = field(default_factory=lambda: _default_words("filler_words"))
    opt_out_phrases: tuple[str, ...] = field(
        default_factory=lambda: _default_words("opt_out_phrases")
    )

    def render(self, template: str) -> str:
        return template.replace("{business}", self.business_name)

    def vocabulary(self) -> Vocabulary:
        own = replace(
            DEFAULT_VOCABULARY,
            **{name: frozenset(getattr(self, name)) for name in VOCABULARY_FIELDS},
        )
        return merged(own, SPANISH) if self.spanish else own


async def load(session: AsyncSession) -> ComplianceSettings:
    raw = await appsettings.find(session, KEY)
    if raw is None:
        return ComplianceSettings()
    return from_dict(json.loads(raw))


async def save(session: AsyncSession, settings: ComplianceSettings) -> None:
    validate(settings)
    await appsettings.put(session, KEY, json.dumps(asdict(settings)))


def from_dict(data: dict) -> ComplianceSettings:
    """Build settings from submitted values (a form or stored JSON), validating each."""
    known = {f.name for f in fields(ComplianceSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidSetting(unknown[0], "is not a compliance setting")
    values = {name: _coerce(name, value) for name, value in data.items()}
    settings = replace(ComplianceSettings(), **values)
    validate(settings)
    return settings


def _coerce(name: str, value: object) -> object:
    if name in VOCABULARY_FIELDS:
        items = value.splitlines() if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise InvalidSetting(name, "must be a list of words or phrases")
        return tuple(sorted({normalize(str(item)) for item in items} - {""}))
    if name in ("confirmation_enabled", "spanish"):
        return value in (True, "true", "on", "1", 1)
    if name == "help_cooldown_minutes":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidSetting(name, f"{value!r} is not a whole number") from None
    if not isinstance(value, str):
        raise InvalidSetting(name, "must be text")
    return value.strip()


def validate(settings: ComplianceSettings) -> None:
    if not settings.business_name or len(settings.business_name) > 60:
        raise InvalidSetting("business_name", "must be 1 to 60 characters")
    if settings.scope not in SCOPES:
        raise InvalidSetting("scope", f"must be one of: {', '.join(SCOPES)}")
    for name in ("confirmation_text", "opt_in_text", "help_text"):
        _check_text(name, settings.render(getattr(settings, name)))
    if "stop" not in settings.help_text.lower():
        raise InvalidSetting("help_text", "must tell people how to opt out (mention STOP)")
    if not 1 <= settings.help_cooldown_minutes <= 1440:
        raise InvalidSetting("help_cooldown_minutes", "must be between 1 and 1440")
    if not settings.opt_out_keywords:
        raise InvalidSetting("opt_out_keywords", "needs at least one keyword")
    clash = set(settings.opt_out_keywords) & set(settings.opt_in_keywords)
    if clash:
        raise InvalidSetting("opt_in_keywords", f"{sorted(clash)[0]!r} is also an opt-out keyword")
    try:
        settings.vocabulary()  # the classifier's own checks, Spanish merged in when on
    except (ValueError, TypeError) as exc:
        raise InvalidSetting("filler_words", str(exc)) from None


def _check_text(name: str, text: str) -> None:
    if not text:
        raise InvalidSetting(name, "is empty")
    size = measure(text)
    if size.parts > MAX_TEXT_PARTS:
        raise InvalidSetting(name, f"needs {size.parts} SMS parts; keep it to {MAX_TEXT_PARTS}")
