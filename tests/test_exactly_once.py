"""Each message of the outbox goes out once, through real ``capx-bot run`` processes.

Two processes on one PostgreSQL database share 1,000 due messages, and none goes twice. A
process killed with SIGKILL in the middle of sending, then started again, loses nothing; on
Matrix it sends nothing twice either (the outbox key is the transaction id, so Synapse takes a
resend once). Telegram has no idempotency key: what the killed process had delivered but not
yet recorded goes again; those duplicates are counted, reported (``pytest -s`` shows the line,
and the test's ``record_property`` keeps it) and held to their bound.

The processes are children of the test; the Telegram stand-in runs in the test's own event
loop, so every wait here is asynchronous.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from bots.router import IN_FLIGHT
from core.services import outbox
from core.types import Reply, Target
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.models import OutboxMessage, OutboxState, utcnow
from storage.seed import seed_reference
from tests import synapse_server
from tests.conftest import POSTGRES_URL, new_database
from tests.process import ROOT
from tests.synapse_server import Synapse
from tests.telegram_server import BotApiServer

synapse = synapse_server.synapse

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PostgreSQL: set CAPX_TEST_POSTGRES_URL (CI sets it)"
)

FIRST_TOKEN = "42:first-process-token"
SECOND_TOKEN = "43:second-process-token"
"""Two processes of one bot: the stand-in answers both tokens as the same bot (one getMe), and
records which token each call came with, so that the test can tell who sent what."""
TEXT = "delivery {}"
NUMBER = re.compile(r"delivery (\d+)")
KEY = "exactly-once-{}"
CHATS = [5001 + n for n in range(10)]
"""Private chats (positive ids): Telegram's limit of 20 messages a minute to a group does
not apply to them, only the bot's 30 a second overall."""
SHORT_LEASE = 3
"""The kill tests' lease: the restarted process takes over a dead one's claims this soon."""
STOP_SECONDS = 30.0


# -- databases ------------------------------------------------------------------------------


@contextmanager
def seeded_database(backend: str, directory: Path, reference_db: Path) -> Iterator[str]:
    """A new database on ``backend`` with the capacity directory (``capx-bot run`` refuses an
    unseeded one): a copy of the seeded SQLite template, or a migrated and seeded PostgreSQL
    database, dropped afterwards."""
    if backend == "sqlite":
        path = directory / "capx.db"
        shutil.copyfile(reference_db, path)
        yield str(path)
        return
    with new_database(backend, directory) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with unit_of_work(engine) as session:
                seed_reference(session)
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def postgres_url(tmp_path, reference_db) -> Iterator[str]:
    """A seeded PostgreSQL database of the test's own."""
    with seeded_database("postgresql", tmp_path, reference_db) as url:
        yield url


@pytest.fixture
def production_url(tmp_path, reference_db) -> Iterator[str]:
    """A seeded database of the test's own, on PostgreSQL (as in production) when the suite
    has one, else on SQLite."""
    backend = "postgresql" if POSTGRES_URL else "sqlite"
    with seeded_database(backend, tmp_path, reference_db) as url:
        yield url


class Outbox:
    """The test's own view of the outbox table, read off the event loop's thread."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = make_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def queue(self, targets: list[Target]) -> None:
        """One due message for each target, the n-th saying ``delivery n``."""
        now = utcnow()
        with unit_of_work(self.engine) as session:
            for n, target in enumerate(targets):
                reply = Reply(paragraphs=(TEXT.format(n),))
                assert outbox.enqueue(session, target, reply, key=KEY.format(n), now=now)

    async def states(self) -> Counter[str]:
        def read() -> Counter[str]:
            query = select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            with unit_of_work(self.engine) as session:
                return Counter({state: count for state, count in session.exec(query)})

        return await asyncio.to_thread(read)

    async def sent(self) -> dict[int, str | None]:
        """The messages recorded as sent: their number, and the platform's message id."""

        def read() -> dict[int, str | None]:
            query = select(OutboxMessage.dedupe_key, OutboxMessage.message_id).where(
                OutboxMessage.state == OutboxState.SENT
            )
            with unit_of_work(self.engine) as session:
                return {
                    int(key.rpartition("-")[2]): platform_id
                    for key, platform_id in session.exec(query)
                }

        return await asyncio.to_thread(read)

    async def all_sent(self, total: int) -> bool:
        return (await self.states()) == Counter({OutboxState.SENT: total})


@contextmanager
def the_outbox(url: str) -> Iterator[Outbox]:
    view = Outbox(url)
    try:
        yield view
    finally:
        view.close()


# -- the processes --------------------------------------------------------------------------


class BotProcess:
    """One ``capx-bot run``, its standard output and error in a file of its own."""

    def __init__(self, name: str, url: str, config: Path, env: dict[str, str], directory: Path):
        self.name = name
        self.log = directory / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "--db", url, "--config", str(config), "run"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, **env},
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 30) -> str:
        return f"--- {self.name} ---\n" + "\n".join(self.output().splitlines()[-lines:])

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited early with {self.process.returncode}\n{self.tail()}")

    async def ended(self, timeout: float) -> int | None:
        """The exit status, once the process has ended within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.process.poll()

    async def terminate(self) -> int:
        """Stop it as an operator does, with SIGTERM; its exit status."""
        self.process.send_signal(signal.SIGTERM)
        status = await self.ended(STOP_SECONDS)
        if status is None:
            self.process.kill()
            pytest.fail(f"{self.name} did not stop within {STOP_SECONDS:g} s\n{self.tail()}")
        return status

    async def kill(self) -> None:
        """SIGKILL: nothing of the process's own runs after it."""
        self.process.send_signal(signal.SIGKILL)
        assert await self.ended(10) == -signal.SIGKILL


@asynccontextmanager
async def processes(
    url: str, config: Path, directory: Path
) -> AsyncIterator[Callable[..., BotProcess]]:
    """``start(name, **env)`` starts a process on ``url`` with ``config``; every process
    still running when the block ends is killed."""
    started: list[BotProcess] = []

    def start(name: str, **env: str) -> BotProcess:
        started.append(BotProcess(name, url, config, env, directory))
        return started[-1]

    try:
        yield start
    finally:
        for each in started:
            if each.process.poll() is None:
                each.process.kill()
        for each in started:
            with suppress(subprocess.TimeoutExpired):
                each.process.wait(10)


async def until(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float,
    running: tuple[BotProcess, ...] = (),
    poll: float = 0.05,
) -> None:
    """Wait until ``condition()`` holds; a failure after ``timeout`` seconds, or as soon as
    one of the ``running`` processes has ended."""
    deadline = time.monotonic() + timeout
    while True:
        for each in running:
            each.check_running()
        if await condition():
            return
        if time.monotonic() > deadline:
            logs = "\n".join(each.tail() for each in running)
            pytest.fail(f"not within {timeout:g} s: {what}\n{logs}")
        await asyncio.sleep(poll)


def assert_stopped_cleanly(bot: BotProcess, status: int) -> None:
    assert status == 0, bot.tail()
    assert "Traceback" not in bot.output(), bot.tail(200)


# -- Telegram -------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[BotApiServer]:
    server = BotApiServer(tokens={FIRST_TOKEN, SECOND_TOKEN})
    await server.start()
    yield server
    await server.stop()


def telegram_config(directory: Path, server: BotApiServer, lease_seconds: int) -> Path:
    path = directory / "telegram.toml"
    path.write_text(
        '[logging]\nlevel = "INFO"\n\n'
        f'[telegram]\nenabled = true\napi_url = "{server.url}"\npoll_timeout = 5\n\n'
        f"[delivery]\nlease_seconds = {lease_seconds}\n",
        encoding="utf-8",
    )
    return path


def telegram_targets(total: int) -> list[Target]:
    return [Target("telegram", account_id=str(CHATS[n % len(CHATS)])) for n in range(total)]


def numbers(calls) -> list[int]:
    """The number of each ``delivery n`` the stand-in was sent, in order, once per call."""
    found = []
    for call in calls:
        match = NUMBER.fullmatch(call.fields["text"])
        assert match, call.fields["text"]
        found.append(int(match[1]))
    return found


def mid_group(server: BotApiServer, box: Outbox, total: int) -> Callable[[], Awaitable[bool]]:
    """Whether a quarter or more was delivered, and the process is in the middle of a group:
    some of it delivered, none of it recorded yet, well before its end."""

    async def condition() -> bool:
        delivered = len(server.sent("sendMessage"))
        recorded = (await box.states())[OutboxState.SENT]
        if recorded == total:
            pytest.fail("every message was sent before the process was stopped")
        return delivered >= total // 4 and 4 <= delivered - recorded <= IN_FLIGHT - 8

    return condition


@needs_postgres
async def test_two_processes_on_one_postgresql_send_each_message_once(
    server, postgres_url, tmp_path
):
    total = 1000
    # Longer than a batch takes at Telegram's 30 a second (128 messages, 4.3 s): a claim
    # that lapsed while its process was still sending would be taken by the other process.
    config = telegram_config(tmp_path, server, lease_seconds=30)
    with the_outbox(postgres_url) as box:
        box.queue(telegram_targets(total))
        async with processes(postgres_url, config, tmp_path) as start:
            first = start("first", CAPX_TELEGRAM_TOKEN=FIRST_TOKEN)
            second = start("second", CAPX_TELEGRAM_TOKEN=SECOND_TOKEN)
            both = (first, second)
            await until(lambda: box.all_sent(total), "every message sent", 90, both, poll=0.25)
            stopped = [await first.terminate(), await second.terminate()]
        states = await box.states()
    calls = server.sent("sendMessage")
    by_process = Counter(call.token for call in calls)
    print(
        f"\ntwo processes, {total} messages: {by_process[FIRST_TOKEN]} sent by the first, "
        f"{by_process[SECOND_TOKEN]} by the second"
    )
    for bot, status in zip(both, stopped, strict=True):
        assert_stopped_cleanly(bot, status)
    assert states == Counter({OutboxState.SENT: total})
    assert Counter(numbers(calls)) == Counter(range(total))  # each once, none missing
    assert all(call.result is not None for call in calls)
    # Both processes really sent: the stand-in saw each one's token on its sendMessage calls.
    assert by_process[FIRST_TOKEN] > 0 and by_process[SECOND_TOKEN] > 0
    assert by_process[FIRST_TOKEN] + by_process[SECOND_TOKEN] == total
    # Each message went to its own chat.
    for call in calls:
        [n] = numbers([call])
        assert int(call.fields["chat_id"]) == CHATS[n % len(CHATS)]


async def test_telegram_after_sigkill_loses_nothing_and_duplicates_only_the_unrecorded(
    server, production_url, tmp_path, record_property
):
    total = 600
    config = telegram_config(tmp_path, server, lease_seconds=SHORT_LEASE)
    with the_outbox(production_url) as box:
        box.queue(telegram_targets(total))
        async with processes(production_url, config, tmp_path) as start:
            first = start("first", CAPX_TELEGRAM_TOKEN=FIRST_TOKEN)
            await until(mid_group(server, box, total), "mid-sending", 60, (first,), 0.01)
            await first.kill()
            await asyncio.sleep(0.5)  # what was on the wire reaches the stand-in
            delivered_before = Counter(numbers(server.sent("sendMessage")))
            recorded_before = set(await box.sent())
            again = start("again", CAPX_TELEGRAM_TOKEN=FIRST_TOKEN)
            await until(lambda: box.all_sent(total), "every message sent", 90, (again,), 0.25)
            stopped = await again.terminate()
        states = await box.states()
    assert_stopped_cleanly(again, stopped)
    assert "Traceback" not in first.output(), first.tail(200)
    # The kill came in the middle: some but not all delivered, and the process had recorded
    # only what was delivered (never a message before Telegram took it).
    assert max(delivered_before.values()) == 1
    assert 0 < len(delivered_before) < total
    assert recorded_before < set(delivered_before)
    unrecorded = set(delivered_before) - recorded_before
    counts = Counter(numbers(server.sent("sendMessage")))
    duplicated = {n for n, count in counts.items() if count > 1}
    duplicates = sum(count - 1 for count in counts.values())
    line = f"telegram duplicates after SIGKILL: {duplicates} of {total}"
    print(
        f"\n{line} (the killed process had recorded {len(recorded_before)} of the "
        f"{len(delivered_before)} it delivered)"
    )
    record_property("telegram_duplicates_after_sigkill", duplicates)
    record_property("telegram_messages", total)
    assert states == Counter({OutboxState.SENT: total})
    assert set(counts) == set(range(total)), "lost: " + str(set(range(total)) - set(counts))
    # The only duplicates are what the killed process delivered and never recorded, each
    # once more: at most one group of IN_FLIGHT, since the router records each group before
    # it sends the next.
    assert max(counts.values()) == 2
    assert duplicated == unrecorded
    assert 0 < duplicates <= IN_FLIGHT


async def test_a_stop_by_sigterm_in_the_middle_of_sending_records_what_went(
    server, production_url, tmp_path
):
    total = 600
    config = telegram_config(tmp_path, server, lease_seconds=SHORT_LEASE)
    with the_outbox(production_url) as box:
        box.queue(telegram_targets(total))
        async with processes(production_url, config, tmp_path) as start:
            first = start("first", CAPX_TELEGRAM_TOKEN=FIRST_TOKEN)
            await until(mid_group(server, box, total), "mid-sending", 60, (first,), 0.01)
            stopped = await first.terminate()
            delivered_before = Counter(numbers(server.sent("sendMessage")))
            recorded_before = set(await box.sent())
            again = start("again", CAPX_TELEGRAM_TOKEN=FIRST_TOKEN)
            await until(lambda: box.all_sent(total), "every message sent", 90, (again,), 0.25)
            await again.terminate()
    assert_stopped_cleanly(first, stopped)
    assert recorded_before == set(delivered_before)  # the group on the wire was recorded
    counts = Counter(numbers(server.sent("sendMessage")))
    assert set(counts) == set(range(total)) and max(counts.values()) == 1


# -- Matrix ---------------------------------------------------------------------------------


def _name(what: str) -> str:
    return f"{what}{secrets.token_hex(4)}"


def room_events(synapse: Synapse, room_id: str, token: str, sender: str) -> list[dict]:
    """Every ``m.room.message`` ``sender`` sent in the room, oldest first, as the homeserver
    keeps them."""
    events: list[dict] = []
    page: str | None = None
    while True:
        query = {
            "dir": "b",
            "limit": "1000",
            "filter": json.dumps({"types": ["m.room.message"], "senders": [sender]}),
        }
        if page:
            query["from"] = page
        answer = synapse.request(
            "GET",
            f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?{urlencode(query)}",
            token=token,
        )
        events += answer.get("chunk", [])
        page = answer.get("end")
        if not answer.get("chunk") or not page:
            return events[::-1]


def bot_devices(synapse: Synapse, token: str) -> set[str]:
    answer = synapse.request("GET", "/_matrix/client/v3/devices", token=token)
    return {device["device_id"] for device in answer["devices"]}


def event_numbers(events: list[dict]) -> list[int]:
    found = []
    for event in events:
        match = NUMBER.fullmatch(event["content"]["body"])
        assert match, event["content"]
        found.append(int(match[1]))
    return found


async def test_matrix_after_sigkill_loses_nothing_and_sends_nothing_twice(
    synapse, production_url, tmp_path, record_property
):
    total = 300
    bot_name, reader_name = _name("capxonce"), _name("reader")
    bot_id = synapse.register(bot_name, "bot-password")
    synapse.register(reader_name, "reader-password")
    # A token login, kept across the restart: the same device, so Synapse's transaction ids
    # (scoped to the device) hold across it.
    bot_token, bot_device = synapse.login(bot_name, "bot-password")
    reader_token, _ = synapse.login(reader_name, "reader-password")
    room_id = synapse.request(
        "POST", "/_matrix/client/v3/createRoom", {"invite": [bot_id]}, token=reader_token
    )["room_id"]
    synapse.request("POST", f"/_matrix/client/v3/join/{quote(room_id)}", {}, token=bot_token)
    config = tmp_path / "matrix.toml"
    config.write_text(
        '[logging]\nlevel = "INFO"\n\n'
        f'[matrix]\nenabled = true\nhomeserver = "{synapse.url}"\nuser_id = "{bot_id}"\n'
        'access_token_env = "CAPX_TEST_MATRIX_TOKEN"\npassword_env = "CAPX_TEST_NO_PASSWORD"\n\n'
        f"[delivery]\nlease_seconds = {SHORT_LEASE}\n",
        encoding="utf-8",
    )

    async def in_room() -> list[dict]:
        return await asyncio.to_thread(room_events, synapse, room_id, reader_token, bot_id)

    env = {"CAPX_TEST_MATRIX_TOKEN": bot_token}
    devices_before = bot_devices(synapse, bot_token)
    assert bot_device in devices_before
    with the_outbox(production_url) as box:
        box.queue([Target("matrix", room_id=room_id) for _ in range(total)])
        async with processes(production_url, config, tmp_path) as start:
            # Kill in the middle of a group, so that a resend really happens; when a kill
            # lands just after a group was recorded, the restarted process is killed again.
            unrecorded: set[int] = set()
            killed = []
            for attempt in range(1, 4):
                bot = start(f"killed-{attempt}", **env)
                killed.append(bot)

                async def mid_group() -> bool:
                    posted = len(await in_room())
                    recorded = (await box.states())[OutboxState.SENT]
                    if recorded == total:
                        pytest.fail("every message was sent before the kill")
                    return posted > recorded and posted < total

                await until(mid_group, "the process in the middle of sending", 60, (bot,), 0.01)
                await bot.kill()
                await asyncio.sleep(0.5)  # what was on the wire reaches the homeserver
                posted_before = event_numbers(await in_room())
                recorded_before = set(await box.sent())
                assert len(posted_before) == len(set(posted_before)) < total
                assert recorded_before <= set(posted_before)
                unrecorded = set(posted_before) - recorded_before
                if unrecorded:
                    break
            again = start("again", **env)
            await until(lambda: box.all_sent(total), "every message sent", 90, (again,), 0.25)
            stopped = await again.terminate()
        states = await box.states()
        recorded = await box.sent()
    events = await in_room()
    print(
        f"\nmatrix after SIGKILL: {len(unrecorded)} of {total} messages sent again with their "
        f"transaction ids, {len(events) - total} duplicates in the room ({len(killed)} kills)"
    )
    record_property("matrix_resent_after_sigkill", len(unrecorded))
    record_property("matrix_duplicates_after_sigkill", len(events) - total)
    assert_stopped_cleanly(again, stopped)
    for bot in killed:
        assert "Traceback" not in bot.output(), bot.tail(200)
    assert unrecorded, "no kill landed between a send and its record"
    assert states == Counter({OutboxState.SENT: total})
    # Every message in the room exactly once, and the outbox holds the id of that one event,
    # also for those the killed process had posted and the restarted one posted again.
    assert Counter(event_numbers(events)) == Counter(range(total))
    assert recorded == {
        n: event["event_id"] for n, event in zip(event_numbers(events), events, strict=True)
    }
    # The bot kept its device across the restarts: no login made another (whose transaction
    # ids would be new).
    assert bot_devices(synapse, bot_token) == devices_before
