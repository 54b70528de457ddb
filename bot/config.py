"""Settings from SMSDESK_* environment variables, validated once at start.

A bad value raises :class:`ConfigError` naming the variable; the CLI prints that
one line and exits, so an operator never sees a traceback for a typo.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parseaddr
from typing import TypeVar

import phonenumbers

from bot.sender_id import InvalidSenderId, check_sender_id

EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class InboundMode(enum.StrEnum):
    PUSH = "push"
    POLL = "poll"
    BOTH = "both"


class ProviderName(enum.StrEnum):
    SIMULATOR = "simulator"
    CLICKSEND = "clicksend"


class SmtpTls(enum.StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where rule email forwards go out; None in Settings when SMSDESK_SMTP_HOST is unset."""

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = ""
    tls: SmtpTls = SmtpTls.STARTTLS


SQLITE_SYNC_LEVELS = ("FULL", "EXTRA", "NORMAL")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./smsdesk.db"
DEFAULT_CLICKSEND_BASE_URL = "https://rest.clicksend.com/v3"
DEFAULT_SEND_RATE_PER_S = 10.0
DEFAULT_SEND_TIMEOUT_S = 30.0
MAX_SEND_TIMEOUT_S = 300.0
MAX_SEND_RATE_PER_S = 100_000.0


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = None
    provider: ProviderName = ProviderName.CLICKSEND
    clicksend_base_url: str = DEFAULT_CLICKSEND_BASE_URL
    clicksend_username: str | None = None
    clicksend_api_key: str | None = None
    inbound_mode: InboundMode = InboundMode.PUSH
    poll_interval_s: float = 10.0
    webhook_token: str | None = None
    sender_id: str | None = None
    low_credit_threshold: float = 5.0
    default_region: str = "US"
    sqlite_synchronous: str = "FULL"
    send_rate_per_s: float = DEFAULT_SEND_RATE_PER_S
    send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
    demo: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    smtp: SmtpSettings | None = None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)


def load_settings(
    env: Mapping[str, str] | None = None, *, demo: bool = False, serving: bool = False
) -> Settings:
    """Read and validate every SMSDESK_* variable; raise ConfigError on the first bad one.

    ``serving`` is true for `serve` and `worker`: only they need the secret key and
    provider credentials, so `migrate` or `create-user` work without them.
    """
    env = os.environ if env is None else env
    provider_default = ProviderName.SIMULATOR if demo else ProviderName.CLICKSEND
    settings = Settings(
        database_url=_database_url(env),
        secret_key=_secret_key(env, required=serving and not demo),
        provider=_enum(env, "SMSDESK_PROVIDER", ProviderName, provider_default),
        clicksend_base_url=_base_url(env),
        clicksend_username=_optional(env, "SMSDESK_CLICKSEND_USERNAME"),
        clicksend_api_key=_optional(env, "SMSDESK_CLICKSEND_API_KEY"),
        inbound_mode=_enum(env, "SMSDESK_INBOUND_MODE", InboundMode, InboundMode.PUSH),
        poll_interval_s=_poll_interval(env),
        webhook_token=_webhook_token(env),
        sender_id=_sender_id(env),
        low_credit_threshold=_low_credit_threshold(env),
        default_region=_region(env),
        sqlite_synchronous=_sqlite_sync(env),
        send_rate_per_s=_send_rate(env),
        send_timeout_s=_send_timeout(env),
        demo=demo,
        smtp=_smtp(env),
    )
    if serving:
        _check_provider_credentials(settings)
    return settings


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _database_url(env: Mapping[str, str]) -> str:
    url = _optional(env, "SMSDESK_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    raise ConfigError(
        "SMSDESK_DATABASE_URL",
        f"unsupported URL {url.split('://', 1)[0]!r}; use sqlite+aiosqlite:///path.db "
        "or postgresql+asyncpg://user:pass@host/db",
    )


def _secret_key(env: Mapping[str, str], *, required: bool) -> str | None:
    key = _optional(env, "SMSDESK_SECRET_KEY")
    if key is None and required:
        raise ConfigError("SMSDESK_SECRET_KEY", "required outside --demo (at least 32 characters)")
    if key is not None and len(key) < 32:
        raise ConfigError("SMSDESK_SECRET_KEY", "must be at least 32 characters")
    return key


E = TypeVar("E", bound=enum.StrEnum)


def _enum(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        return kind(raw.lower())
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigError(name, f"{raw!r} is not one of: {allowed}") from None


def _base_url(env: Mapping[str, str]) -> str:
    url = _optional(env, "SMSDESK_CLICKSEND_BASE_URL") or DEFAULT_CLICKSEND_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError("SMSDESK_CLICKSEND_BASE_URL", f"{url!r} is not an http(s) URL")
    return url.rstrip("/")


def _poll_interval(env: Mapping[str, str]) -> float:
    return _float(
        env, "SMSDESK_POLL_INTERVAL_S", 10.0, lambda v: 1 <= v <= 3600, "is outside 1..3600 seconds"
    )


def _float(
    env: Mapping[str, str], name: str, default: float, valid: Callable[[float], bool], problem: str
) -> float:
    """The number in ``name``, or ``default``; ``problem`` says why a number is not ``valid``."""
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"{raw!r} is not a number") from None
    if not valid(value):
        raise ConfigError(name, f"{raw} {problem}")
    return value


def _webhook_token(env: Mapping[str, str]) -> str | None:
    token = _optional(env, "SMSDESK_WEBHOOK_TOKEN")
    if token is None:
        return None
    if len(token) < 22 or not all(c.isalnum() or c in "-_" for c in token):
        raise ConfigError(
            "SMSDESK_WEBHOOK_TOKEN",
            "must be at least 22 URL-safe characters (128 random bits), e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`",
        )
    return token


def _sender_id(env: Mapping[str, str]) -> str | None:
    raw = _optional(env, "SMSDESK_SENDER_ID")
    if raw is None:
        return None
    try:
        return check_sender_id(raw)
    except InvalidSenderId as exc:
        raise ConfigError("SMSDESK_SENDER_ID", str(exc)) from None


def _low_credit_threshold(env: Mapping[str, str]) -> float:
    return _float(
        env,
        "SMSDESK_LOW_CREDIT_THRESHOLD",
        5.0,
        lambda v: 0 <= v < 1e9,  # also refuses nan and inf
        "must be a non-negative amount of credit",
    )


def _region(env: Mapping[str, str]) -> str:
    raw = (_optional(env, "SMSDESK_DEFAULT_REGION") or "US").upper()
    if raw not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError("SMSDESK_DEFAULT_REGION", f"{raw!r} is not an ISO 3166 region code")
    return raw


def _sqlite_sync(env: Mapping[str, str]) -> str:
    raw = (_optional(env, "SMSDESK_SQLITE_SYNCHRONOUS") or "FULL").upper()
    if raw not in SQLITE_SYNC_LEVELS:
        allowed = ", ".join(SQLITE_SYNC_LEVELS)
        raise ConfigError("SMSDESK_SQLITE_SYNCHRONOUS", f"{raw!r} is not one of: {allowed}")
    return raw


def _send_timeout(env: Mapping[str, str]) -> float:
    """The whole POST /sms/send call (1,000 messages), from connecting to the last byte."""
    return _float(
        env,
        "SMSDESK_SEND_TIMEOUT_S",
        DEFAULT_SEND_TIMEOUT_S,
        lambda v: 1 <= v <= MAX_SEND_TIMEOUT_S,
        f"is outside 1..{MAX_SEND_TIMEOUT_S:.0f} seconds",
    )


def _send_rate(env: Mapping[str, str]) -> float:
    """Messages per second to the provider, shared by all outbound traffic of a process."""
    return _float(
        env,
        "SMSDESK_SEND_RATE_PER_S",
        DEFAULT_SEND_RATE_PER_S,
        lambda v: 0 < v <= MAX_SEND_RATE_PER_S,  # also refuses nan and inf
        f"is outside 0..{MAX_SEND_RATE_PER_S:,.0f} (more than 0 messages a second)",
    )


def _check_provider_credentials(settings: Settings) -> None:
    if settings.provider is not ProviderName.CLICKSEND:
        return
    if settings.clicksend_username is None:
        raise ConfigError("SMSDESK_CLICKSEND_USERNAME", "required when SMSDESK_PROVIDER=clicksend")
    if settings.clicksend_api_key is None:
        raise ConfigError("SMSDESK_CLICKSEND_API_KEY", "required when SMSDESK_PROVIDER=clicksend")


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = _optional(env, "SMSDESK_SMTP_HOST")
    others = ("PORT", "USERNAME", "PASSWORD", "FROM", "TLS")
    if host is None:
        stray = next(
            (f"SMSDESK_SMTP_{n}" for n in others if _optional(env, f"SMSDESK_SMTP_{n}")), None
        )
        if stray:
            raise ConfigError("SMSDESK_SMTP_HOST", f"required when {stray} is set")
        return None
    if any(c.isspace() or c in "/@" for c in host):
        raise ConfigError("SMSDESK_SMTP_HOST", f"{host!r} is not a host name or address")
    username = _optional(env, "SMSDESK_SMTP_USERNAME")
    password = env.get("SMSDESK_SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        missing = "SMSDESK_SMTP_PASSWORD" if password is None else "SMSDESK_SMTP_USERNAME"
        raise ConfigError(missing, "SMTP username and password go together; set both or neither")
    return SmtpSettings(
        host=host,
        port=_smtp_port(env),
        username=username,
        password=password,
        sender=_smtp_from(env),
        tls=_enum(env, "SMSDESK_SMTP_TLS", SmtpTls, SmtpTls.STARTTLS),
    )


def _smtp_port(env: Mapping[str, str]) -> int:
    raw = _optional(env, "SMSDESK_SMTP_PORT")
    if raw is None:
        return 587
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError("SMSDESK_SMTP_PORT", f"{raw!r} is not a port number (1..65535)")
    return int(raw)


def _smtp_from(env: Mapping[str, str]) -> str:
    sender = _optional(env, "SMSDESK_SMTP_FROM")
    if sender is None:
        raise ConfigError("SMSDESK_SMTP_FROM", "required when SMSDESK_SMTP_HOST is set")
    _, address = parseaddr(sender)
    if not EMAIL_SHAPE.fullmatch(address) or any(c in sender for c in "\r\n"):
        raise ConfigError("SMSDESK_SMTP_FROM", f"{sender!r} is not an email address")
    return sender
