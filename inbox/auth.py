"""Agents and API keys.

Passwords are hashed with Argon2id. API keys are 256-bit random strings shown
once; only their SHA-256 is stored, which is enough for a secret that long and
keeps key checks cheap on every API request. Basic auth uses the user's email as
username and the key as password.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import ApiKey, Role, User

_hasher = PasswordHasher()
MIN_PASSWORD = 8


class AuthError(ValueError):
    pass


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise AuthError(f"{email!r} is not an email address")
    return email


async def create_user(
    session: AsyncSession, email: str, password: str, role: Role, name: str = ""
) -> User:
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password must be at least {MIN_PASSWORD} characters")
    user = User(email=email, role=role, name=name, password_hash=_hasher.hash(password))
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AuthError(f"a user with email {email} already exists") from None
    return user


async def find_user(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(session: AsyncSession, user: User) -> str:
    """Create a key for ``user``; return the plain key (shown once, never stored)."""
    key = secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, key_hash=_key_hash(key)))
    await session.flush()
    return key


async def authenticate_api_key(session: AsyncSession, username: str, key: str) -> User | None:
    return await session.scalar(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == _key_hash(key), User.email == username.strip().lower())
    )
