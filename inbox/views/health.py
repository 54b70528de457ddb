"""GET /healthz: the process is up and the database answers."""

from __future__ import annotations

import time

from aiohttp import web
from sqlalchemy import text

from inbox.keys import SERVICES


async def healthz(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    started = time.perf_counter()
    try:
        async with services.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        body = {"status": "error", "database": f"unavailable: {type(exc).__name__}"}
        return web.json_response(body, status=503)
    return web.json_response(
        {
            "status": "ok",
            "database": "ok",
            "database_ms": round((time.perf_counter() - started) * 1000, 2),
            "provider": services.settings.provider.value,
            "sender_paused": services.sender_state.pause_reason
            if services.sender_state.paused_until
            else None,
        }
    )
