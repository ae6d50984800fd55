"""How the adapter's Bot API calls travel: python-telegram-bot's request interface over one
small httpx pool.

PTB's own ``HTTPXRequest`` sends every call as a form, quoting each character of a long text
in Python, and lets every call in flight take a connection of its pool, which httpcore then
scans on each request. Here at most ``size`` calls are in flight, each on a kept-alive
connection of a pool of that size; the others wait their turn (without the pool's deadline).
Parameters go as one JSON body, which the Bot API accepts for every call but uploads; those
go as multipart forms.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

UPLOAD_WRITE_SECONDS = 60.0
"""Writing a document may take longer than an ordinary call."""


class PooledRequest(BaseRequest):
    """Bot API calls, at most ``size`` at once over as many connections; ``timeout`` seconds
    for each of connecting, writing and reading, unless a call says otherwise."""

    def __init__(self, size: int, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._client = httpx.AsyncClient(limits=limits, timeout=timeout)

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        """Nothing to open: connections are made as calls need them."""

    async def shutdown(self) -> None:
        await self._client.aclose()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call: its status and body; :class:`TimedOut` or :class:`NetworkError` when no
        answer came. A timeout left at ``DEFAULT_NONE`` is this request's own; the pool's
        does not apply, since a call waits for its turn here."""
        uploads = request_data is not None and request_data.contains_files
        timeout = httpx.Timeout(
            connect=self._chosen(connect_timeout, self._timeout),
            read=self._chosen(read_timeout, self._timeout),
            write=self._chosen(write_timeout, UPLOAD_WRITE_SECONDS if uploads else self._timeout),
            pool=None,
        )
        content = data = files = headers = None
        if request_data is not None and uploads:
            data, files = request_data.json_parameters, request_data.multipart_data
        elif request_data is not None:
            content = json.dumps(request_data.parameters).encode()
            headers = {"Content-Type": "application/json"}
        try:
            async with self._slots:
                response = await self._client.request(
                    method,
                    url,
                    content=content,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=timeout,
                )
        except httpx.TimeoutException as error:
            raise TimedOut from error
        except httpx.HTTPError as error:  # its text may quote the address, and so the token
            raise NetworkError(f"httpx.{type(error).__name__}") from error
        return response.status_code, response.content

    @staticmethod
    def _chosen(given: Any, default: float) -> float | None:
        return default if given is BaseRequest.DEFAULT_NONE else given
