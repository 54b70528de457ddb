"""Baseline for bench/ingest.py: a bare aiohttp handler that parses the same
ClickSend push form and answers 200, with nothing stored."""

from __future__ import annotations

import gc
import sys

from aiohttp import web


async def inbound(request: web.Request) -> web.Response:
    form = await request.post()
    if "message_id" not in form or "from" not in form:
        return web.json_response({"ok": False}, status=400)
    return web.json_response({"ok": True})


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhooks/clicksend/{token}/inbound", inbound)
    gc.collect()  # the same garbage-collector tuning as `smsdesk serve` (inbox/cli.tune_gc)
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
