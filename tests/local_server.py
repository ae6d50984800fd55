"""Serving a stand-in's aiohttp application on loopback, for tests and benchmarks."""

from __future__ import annotations

from aiohttp import web


async def serve_locally(app: web.Application, **runner: object) -> tuple[web.AppRunner, str]:
    """``app`` served on a free port of 127.0.0.1: its runner (to clean up) and its base URL
    (``http://127.0.0.1:PORT``). ``runner`` goes to :class:`aiohttp.web.AppRunner`."""
    served = web.AppRunner(app, access_log=None, **runner)
    await served.setup()
    site = web.TCPSite(served, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return served, f"http://127.0.0.1:{port}"
