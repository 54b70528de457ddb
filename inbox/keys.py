"""Typed application keys: everything the handlers share lives under these."""

from __future__ import annotations

from aiohttp import web

from inbox.services import Services

SERVICES = web.AppKey("services", Services)
