"""The supervisor's policy: a crashed adapter starts again, a stopped one stays stopped, and
neither holds up the others; a server out of reach is one line a try, without a traceback."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import socket
from contextlib import suppress

import aiohttp
import httpx
import pytest
from telegram.error import BadRequest, NetworkError, TimedOut

from adapters.base import AdapterStopped, Backoff
from bots.supervisor import Ended, none_could_serve, run_adapters, supervise, unreachable


@pytest.fixture(autouse=True)
def unfrozen():
    """``run_adapters`` freezes the collector's generations; other tests start without."""
    yield
    gc.unfreeze()


class Scripted:
    """An adapter that crashes ``crashes`` times, then serves until cancelled."""

    def __init__(
        self, name: str, crashes: int = 0, stop: bool = False, error: Exception | None = None
    ) -> None:
        self.name = name
        self.crashes = crashes
        self.stop = stop
        self.error = error or RuntimeError("a bug")
        self.runs = 0
        self.serving = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.stop:
            raise AdapterStopped("no token")
        if self.runs <= self.crashes:
            raise self.error
        self.serving.set()
        await asyncio.Event().wait()


async def test_a_crashed_adapter_starts_again_and_a_stopped_one_does_not(caplog):
    flaky, stopped, steady = (
        Scripted("flaky", crashes=2),
        Scripted("off", stop=True),
        Scripted("ok"),
    )
    quick = {"base": 0.01, "cap": 0.02}
    with caplog.at_level(logging.WARNING):
        tasks = [
            asyncio.create_task(supervise(a, Backoff(**quick))) for a in (flaky, stopped, steady)
        ]
        await asyncio.wait_for(asyncio.gather(flaky.serving.wait(), steady.serving.wait()), 5)
        await asyncio.sleep(0.05)
        assert tasks[1].done() and not tasks[0].done() and not tasks[2].done()
        for task in tasks:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    assert (flaky.runs, stopped.runs, steady.runs) == (3, 1, 1)
    messages = [r.getMessage() for r in caplog.records]
    crashed = [m for m in messages if m.startswith("flaky adapter crashed: ")]
    assert len(crashed) == 2
    assert all(
        m.startswith("flaky adapter crashed: RuntimeError at tests/test_supervisor.py:")
        and "in run; starting it again in " in m
        and "a bug" not in m
        for m in crashed
    )
    assert all(r.exc_info for r in caplog.records if r.getMessage() in crashed)
    assert messages.count("off adapter stopped: no token") == 1
    assert all(task.cancelled() for task in (tasks[0], tasks[2]))
    assert tasks[1].result() is Ended.STOPPED


def connection_error(inner: BaseException, *wrappers: type[Exception]) -> Exception:
    """``inner`` raised and wrapped by each of ``wrappers`` in turn, as libraries do."""
    error: BaseException = inner
    for wrapper in wrappers:
        try:
            raise wrapper("wrapped: https://api.telegram.org/bot123:secret/getMe") from error
        except wrapper as wrapped:
            error = wrapped
    assert isinstance(error, Exception)
    return error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            connection_error(
                ConnectionRefusedError(111, "Connect call failed"), httpx.ConnectError, NetworkError
            ),
            "ConnectionRefusedError: Connect call failed",
        ),
        (
            connection_error(socket.gaierror(-2, "Name or service not known"), httpx.ConnectError),
            "gaierror: Name or service not known",
        ),
        (connection_error(httpx.ReadTimeout("slow"), TimedOut), "ReadTimeout"),
        (aiohttp.ServerDisconnectedError(), "ServerDisconnectedError"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "OSError: Network is unreachable"),
    ],
)
def test_what_counts_as_a_server_out_of_reach(error, said):
    assert unreachable(error) == said


@pytest.mark.parametrize(
    "error", [BadRequest("Chat not found"), RuntimeError("a bug"), PermissionError(13, "No")]
)
def test_other_errors_are_crashes(error):
    assert unreachable(error) is None


async def test_a_server_out_of_reach_is_one_warning_line_per_try(caplog):
    refused = connection_error(
        ConnectionRefusedError(111, "Connect call failed"), httpx.ConnectError, NetworkError
    )
    offline = Scripted("telegram", crashes=3, error=refused)
    with caplog.at_level(logging.WARNING):
        task = asyncio.create_task(supervise(offline, Backoff(base=0.01, cap=0.02)))
        await asyncio.wait_for(offline.serving.wait(), 5)
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    assert offline.runs == 4
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 3
    assert not any(r.exc_info for r in caplog.records)
    for record in caplog.records:
        assert record.getMessage().startswith(
            "telegram adapter cannot reach its server "
            "(ConnectionRefusedError: Connect call failed); trying again in "
        )
    assert "secret" not in caplog.text


async def test_run_reports_whether_any_adapter_could_serve():
    assert await run_adapters([Scripted("a", stop=True), Scripted("b", stop=True)]) == [
        Ended.STOPPED,
        Ended.STOPPED,
    ]
    assert none_could_serve([Ended.STOPPED, Ended.STOPPED])
    assert not none_could_serve([Ended.STOPPED, Ended.FINISHED])
    assert not none_could_serve([])  # stopped by a signal


async def test_run_freezes_what_start_up_made_out_of_the_collectors_sight():
    made_at_start = [object()]
    assert any(o is made_at_start for o in gc.get_objects())
    await run_adapters([Scripted("a", stop=True)])
    assert gc.get_freeze_count() > 0
    assert all(o is not made_at_start for o in gc.get_objects())
