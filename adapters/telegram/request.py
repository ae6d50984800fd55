"""How the adapter's Bot API calls travel: python-telegram-bot's request interface over one
small aiohttp pool.

PTB's own ``HTTPXRequest`` sends every call as a form, quoting each character of a long text
in Python, and lets every call in flight take a connection of its pool, which httpcore then
scans (a system call per connection) on each request. Here at most ``size`` calls are in
flight, each on a kept-alive connection of a pool of that size; the others wait their turn
(without the pool's deadline). aiohttp, which the other adapters use already, parses answers
in C. Parameters go as one JSON body, which the Bot API accepts for every call but uploads;
those go as multipart forms.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

UPLOAD_WRITE_SECONDS = 60.0
"""Writing a document may take longer than an ordinary call."""
JSON_HEADERS = {"Content-Type": "application/json"}


class PooledRequest(BaseRequest):
    """Bot API calls, at most ``size`` at once over as many connections; ``timeout`` seconds
    for each of connecting, writing and reading, unless a call says otherwise."""

    def __init__(self, size: int, timeout: float = 10.0) -> None:
        self._size = size
        self._timeout = timeout
        self._slots = asyncio.Semaphore(size)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        """Opens the pool (in the running loop); connections are made as calls need them."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size, limit_per_host=self._size)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()

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
        answer came. A timeout left at ``DEFAULT_NONE`` is this request's own, None is none;
        the pool's does not apply, since a call waits for its turn here. Writing has no
        timeout of its own in aiohttp, so the whole call gets the sum of the three."""
        await self.initialize()
        assert self._session is not None
        uploads = request_data is not None and request_data.contains_files
        connect = self._chosen(connect_timeout, self._timeout)
        read = self._chosen(read_timeout, self._timeout)
        write = self._chosen(write_timeout, UPLOAD_WRITE_SECONDS if uploads else self._timeout)
        parts = (connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts), sock_connect=connect, sock_read=read
        )
        body: bytes | aiohttp.FormData | None = None
        headers = None
        if request_data is not None and uploads:
            body = _form(request_data)
        elif request_data is not None:
            body, headers = json.dumps(request_data.parameters).encode(), JSON_HEADERS
        try:
            async with (
                self._slots,
                self._session.request(
                    method, url, data=body, headers=headers, timeout=timeout
                ) as response,
            ):
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:  # its text may quote the address, and so the token
            raise NetworkError(f"aiohttp.{type(error).__name__}") from error

    @staticmethod
    def _chosen(given: Any, default: float) -> float | None:
        return default if given is BaseRequest.DEFAULT_NONE else given


def _form(request_data: RequestData) -> aiohttp.FormData:
    """An upload as a multipart form: each parameter JSON-encoded, then the files."""
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
