"""The core's single entry: an :class:`Incoming` command in, the replies out.

Each command runs in one transaction: either everything it writes is kept, or (on a user
error or a crash) nothing is; a transaction that lost a race with another process (two
first commands of one new person at once) runs once more. A crash is logged with the
command's name and the error's type and place only, never the message text, and the person
gets a short translated apology, never a stack trace. What comes in is cleaned first
(control characters and bidirectional overrides removed), and each account's commands are
rate-limited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_thread
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import NoReturn, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, literal, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from core import arguments
from core.arguments import means
from core.commands import build_registry
from core.commands.general import welcome
from core.context import Context, UserError
from core.i18n import Translator, negotiate
from core.limits import Limits, RateLimiter, Verdict
from core.logs import describe
from core.parsing import MAX_INPUT, UsageError, clean, split_command_line
from core.registry import Command, Registry, Where, Who
from core.services import buttons, introductions, outbox, reminders
from core.services.reference import Reference
from core.services.taxonomy import Taxonomy
from core.types import (
    Actor,
    Button,
    Choice,
    Conversation,
    Incoming,
    Outcome,
    Outgoing,
    Reply,
    Target,
)
from storage import chats
from storage.db import unit_of_work
from storage.models import ChatIdentity, Person, Room, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ON_LOOP_FOR = 0.05
"""How long, in seconds, the event loop waits for the database thread's answer, blocked,
before it goes on with its other work: see :meth:`Core._on_database_thread`."""
HELD_FOR = timedelta(hours=1)
"""How long private answers wait for a person to open a chat with the bot."""
T = TypeVar("T")


class Core:
    """The bot without a platform. Adapters call :meth:`handle` (or :meth:`handle_async`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        registry: Registry | None = None,
        clock: Clock = utcnow,
        limits: Limits | None = None,
        limiter_clock: Callable[[], float] | None = None,
        lease: timedelta = outbox.LEASE,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.registry = registry or build_registry()
        self.clock = clock
        self.limits = limits or Limits()
        self._limiter = RateLimiter(self.limits, limiter_clock or time.monotonic)
        self._reference: Reference | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._connections = threading.local()
        self._kept: list[Connection] = []
        """Every thread's kept connection (see :meth:`_unit_of_work`), for :meth:`close`."""
        self._handled = 0
        self._queued = False
        self._outbox_event: asyncio.Event | None = None

    @property
    def reference(self) -> Reference:
        """The capacity tree, territories and affiliates, loaded on first use (and again
        after :meth:`reload`, or while the directory is still empty)."""
        if self._reference is None or not self._reference.taxonomy:
            with Session(self.engine) as session:
                self._reference = Reference.load(session)
        return self._reference

    @property
    def taxonomy(self) -> Taxonomy:
        return self.reference.taxonomy

    def reload(self) -> None:
        """Forget cached reference data, after a seed or a sync."""
        self._reference = None

    async def handle_async(self, incoming: Incoming) -> list[Reply]:
        """:meth:`handle` on the core's own database thread, so the event loop never blocks for
        longer than :data:`ON_LOOP_FOR`; wakes :meth:`wait_for_outbox` when the command
        queued messages."""
        replies = await self._on_database_thread(lambda: self.handle(incoming))
        if self._queued:
            self._queued = False
            self._outbox_waiting().set()
        return replies

    async def due(self, platform: str, limit: int = 20) -> list[Outgoing]:
        """Messages of the outbox due on ``platform``, claimed for the caller to send and
        then :meth:`record`."""
        return await self.in_database(
            lambda session: outbox.claim(session, platform, self.clock(), limit, lease=self.lease)
        )

    async def record_all(self, outcomes: list[tuple[int, Outcome]]) -> None:
        """What became of messages :meth:`due` gave, in one transaction."""

        def work(session: Session) -> None:
            for message_id, outcome in outcomes:
                outbox.record(session, message_id, outcome, self.clock())

        await self.in_database(work)

    async def hold(self, target: Target, replies: list[Reply], cause: str) -> None:
        """Keep ``replies`` for a person the adapter may not write to yet (who never opened a
        chat with the bot), for :data:`HELD_FOR`: they go out when the person is next seen."""

        def keep(session: Session) -> None:
            for number, reply in enumerate(replies):
                key = f"held:{target.platform}:{cause}:{number}"
                outbox.enqueue(
                    session, target, reply, key=key, now=self.clock(), held=True, kept_for=HELD_FOR
                )

        await self.in_database(keep)

    async def housekeeping(self) -> dict[str, int]:
        """The periodic work, in one transaction, safe to run twice at once: reminders
        planned for the events that came within the horizon, unanswered introductions
        expired (their askers told), expired buttons removed; how much of each."""

        def work(session: Session) -> dict[str, int]:
            now = self.clock()
            buttons.remove_expired(session, now)
            return {
                "reminders planned": reminders.plan_due(session, self.taxonomy, now),
                "requests expired": introductions.expire(session, now),
            }

        done = await self.in_database(work)
        if any(done.values()):
            self._outbox_waiting().set()
        return done

    def deliver_to(self, target: Target, send: Callable[[Outgoing], Outcome]) -> int:
        """For an adapter without an event loop (the console): hand the due messages for one
        account or one room to ``send`` and record its outcomes; how many there were."""
        with self._unit_of_work() as session:
            due = outbox.claim(session, target.platform, self.clock(), only=target)
        for message in due:
            outcome = send(message)
            with self._unit_of_work() as session:
                outbox.record(session, message.id, outcome, self.clock())
        return len(due)

    async def wait_for_outbox(self, seconds: float) -> None:
        """Until a command queues a message for the outbox, or ``seconds`` have passed."""
        waiting = self._outbox_waiting()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiting.wait(), seconds)
        waiting.clear()

    def _outbox_waiting(self) -> asyncio.Event:
        if self._outbox_event is None:
            self._outbox_event = asyncio.Event()
        return self._outbox_event

    async def in_database(self, work: Callable[..., T], *args: object) -> T:
        """``work(session, *args)`` in one transaction on the core's database thread; for the
        adapters' own records (sync cursors, unreachable chats)."""

        def run() -> T:
            with self._unit_of_work() as session:
                return work(session, *args)

        return await self._on_database_thread(run)

    async def _on_database_thread(self, work: Callable[[], T]) -> T:
        """``work()`` on the core's database thread. The loop first waits for it, blocked, up
        to :data:`ON_LOOP_FOR`, and runs nothing else meanwhile: most commands end well within
        it, and two threads that both run Python take the interpreter lock in turns at every
        step of every statement (``sqlite3`` gives it up at each), which costs each about
        twice its processor time. Slower work is awaited, the loop going on meanwhile."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capx-core")
        started = self._executor.submit(work)
        wait_for_thread([started], timeout=ON_LOOP_FOR)
        if started.done():
            return started.result()
        future = asyncio.wrap_future(started)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The work is under way in its thread: a cancelled caller still waits for it, so
            # that what it writes is written before the caller's own clean-up goes on.
            await asyncio.wait([future])
            raise

    async def welcome(self, conversation: Conversation, locale_hint: str | None = None) -> Reply:
        """The greeting for a room the bot has just joined, in the room's language if it has
        one, else in ``locale_hint``'s."""

        def greeting() -> Reply:
            with self._unit_of_work() as session:
                room = chats.room(session, conversation.platform, conversation.room_id)
                reply = welcome(Translator(negotiate([room and room.locale, locale_hint])))
                return buttons.bind(session, self.registry, reply, None, self.clock())

        return await self._on_database_thread(greeting)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        while self._kept:
            self._kept.pop().close()

    def _unit_of_work(self) -> contextlib.AbstractContextManager[Session]:
        """:func:`unit_of_work`; on SQLite on this thread's connection, kept from one
        transaction to the next, since taking a connection from the pool and giving it back
        costs more there than a short command. A server's connections come from the pool,
        which checks each before use: the server may have dropped it."""
        if self.engine.dialect.name != "sqlite":
            return unit_of_work(self.engine)
        connection = getattr(self._connections, "kept", None)
        if connection is None or connection.closed:
            connection = self._connections.kept = self.engine.connect()
            self._kept.append(connection)
        return unit_of_work(connection)

    def complete(
        self, actor: Actor, conversation: Conversation, command: str, parameter: str, text: str
    ) -> list[Choice]:
        """What ``actor``, typing ``text`` for ``parameter`` of ``command``, may be after: up
        to 25 choices in their language, best first; none for a command or parameter that
        does not exist. It only reads, and is bounded (a platform asks at every key press,
        with any text)."""
        found = self.registry.get(command)
        param = next((p for p in found.params if p.name == parameter), None) if found else None
        if found is None or param is None or not self.taxonomy:
            return []
        with self._unit_of_work() as session:
            seen = _looked_up(session, actor, conversation, self.clock())
            t = Translator(_reader_locale(seen, actor))
            incoming = Incoming(actor, conversation, found.name)
            ctx = Context(
                incoming,
                found,
                session,
                self.reference,
                self.registry,
                t,
                self.clock(),
                seen.person_id,
            )
            return arguments.complete(ctx, param, clean(text)[:MAX_INPUT])

    async def complete_async(
        self, actor: Actor, conversation: Conversation, command: str, parameter: str, text: str
    ) -> list[Choice]:
        """:meth:`complete` on the core's database thread."""
        return await self._on_database_thread(
            lambda: self.complete(actor, conversation, command, parameter, text)
        )

    def handle(self, incoming: Incoming) -> list[Reply]:
        """The replies to one command. Never raises for anything a user can type."""
        incoming = _cleaned(incoming)
        t = Translator(negotiate([incoming.actor.locale_hint]))
        verdict = self._limiter.check((incoming.actor.platform, incoming.actor.account_id))
        if verdict is Verdict.IGNORE:
            return []
        if verdict is Verdict.SLOW_DOWN:
            message = t("You are sending commands too fast. Please wait a minute.")
            return [Reply(paragraphs=(message,), locale=t.locale, is_error=True)]
        for attempt in (1, 2):
            try:
                with self._unit_of_work() as session:
                    return self._handle(session, incoming)
            except UserError as error:
                return [self._bound_on_its_own(error.reply, incoming.actor)]
            except (IntegrityError, OperationalError) as error:
                if attempt == 1:
                    log.info(
                        "command %r lost a race (%s); running it again",
                        _name(incoming),
                        describe(error),
                    )
                    continue
                failure = error
            except Exception as error:
                failure = error
            log.error("command %r failed: %s", _name(incoming), describe(failure))
            message = t("Sorry, something went wrong. Please try again later.")
            return [Reply(paragraphs=(message,), locale=t.locale, is_error=True)]
        raise AssertionError("unreachable")

    def _handle(self, session: Session, incoming: Incoming) -> list[Reply]:
        actor = incoming.actor
        conversation = incoming.conversation
        now = self.clock()
        seen = _looked_up(session, actor, conversation, now)
        if seen.identity_id is not None and seen.person_id is not None:
            _refresh(session, seen, actor, now)
        title = conversation.title[:255] if conversation.title else None
        if seen.room_id is not None and title and seen.room_title != title:
            session.execute(update(Room).where(Room.id == seen.room_id).values(title=title))
        locale = _reader_locale(seen, actor)
        t = Translator(locale)
        if seen.waiting:
            outbox.wake(session, actor.platform, actor.account_id, now)
            self._queued = True

        confirmed = False
        if incoming.pressed is not None:
            line, confirmed = self._pressed(session, t, incoming, now)
            command_name, arguments_text = split_command_line(line)
        else:
            command_name, arguments_text = incoming.command, incoming.arguments
            answer = self._answered(session, t, actor, command_name, arguments_text, now)
            if isinstance(answer, Reply):
                return [answer]
            if answer is not None:
                (command_name, arguments_text), confirmed = split_command_line(answer), True
        typed = sum(map(len, incoming.options.values())) if incoming.options else 0
        if len(command_name) + len(arguments_text) + typed > MAX_INPUT:
            message = t.plural(
                "That is too long: I read at most {n} character.",
                "That is too long: I read at most {n} characters.",
                MAX_INPUT,
            )
            return [Reply(paragraphs=(message,), locale=locale, is_error=True)]
        if not self.taxonomy:
            message = t("The capacity directory is empty. An operator must run “capx-bot seed”.")
            return [Reply(paragraphs=(message,), locale=locale, is_error=True)]
        command = self.registry.get(command_name)
        if command is None:
            if command_name.isdigit():
                message = t("That choice is no longer there. Please send the command again.")
                return [Reply(paragraphs=(message,), locale=locale, is_error=True)]
            return [
                self._bound(session, self._unknown(t, command_name, arguments_text), actor, now)
            ]
        ctx = Context(
            incoming,
            command,
            session,
            self.reference,
            self.registry,
            t,
            now,
            seen.person_id,
            self.limits,
        )
        ctx.confirmed = confirmed
        if command.where is Where.GROUP and incoming.conversation.is_direct:
            ctx.fail(t("“{command}” works in group rooms only.", command=command.name))
        if command.who is Who.ROOM_ADMIN and not actor.is_room_admin:
            ctx.fail(t("Only an admin of this room may use “{command}”.", command=command.name))
        if actor.is_anonymous and not _anonymous_may_run(command):
            ctx.fail(ctx.as_yourself())
        try:
            if incoming.options is not None and incoming.pressed is None:
                values = arguments.parse_options(ctx, command, incoming.options)
            else:
                values = arguments.parse(ctx, command, arguments_text)
        except UsageError:
            ctx.fail(t("Usage: {usage}", usage=command.usage(t)))
        replies = command.handler(ctx, values)
        replies = replies if isinstance(replies, list) else [replies]
        if ctx.read_as and replies:
            replies[0] = replace(replies[0], paragraphs=(*ctx.read_as, *replies[0].paragraphs))
        if ctx.private and not incoming.conversation.is_direct:
            replies.append(
                Reply(
                    paragraphs=(t("I have answered you in a private message."),),
                    locale=locale,
                    private_notice=True,
                )
            )
        bound = [self._bound(session, reply, actor, now) for reply in replies]
        return self._queue_for_others(session, incoming, bound, now)

    def _queue_for_others(
        self, session: Session, incoming: Incoming, replies: list[Reply], now: datetime
    ) -> list[Reply]:
        """``replies`` without those for another person (the author of a need), which go to
        the outbox in this same transaction, to be delivered on whichever platform that
        person is; a redelivered command queues nothing twice."""
        cause = incoming.event_id or uuid.uuid4().hex
        answers = []
        for number, reply in enumerate(replies):
            if reply.recipient is None:
                answers.append(reply)
                continue
            target = Target(reply.recipient.platform, account_id=reply.recipient.account_id)
            key = f"reply:{incoming.actor.platform}:{cause}:{number}"
            if outbox.enqueue(session, target, replace(reply, recipient=None), key=key, now=now):
                self._queued = True
        return answers

    def _pressed(
        self, session: Session, t: Translator, incoming: Incoming, now: datetime
    ) -> tuple[str, bool]:
        """The command line a pressed button stands for, and whether it confirms; a
        :class:`UserError` when it expired or is someone else's."""
        actor = incoming.actor
        stored = buttons.find(session, incoming.pressed or "", now)
        if stored is None or (stored.confirms and not buttons.use_up(session, stored)):
            _refuse(t, t("This button has expired. Please send the command again."))
        if not buttons.owned_by(stored, (actor.platform, actor.account_id)):
            _refuse(t, t("This button is not yours: send the command yourself."))
        return stored.command, stored.confirms

    def _answered(
        self, session: Session, t: Translator, actor: Actor, word: str, rest: str, now: datetime
    ) -> str | Reply | None:
        """A typed "yes" or "no" (in the reader's language too) to the confirmation the actor
        was last asked for: the line it confirms, or the reply that nothing was done; None
        when the words are not such an answer."""
        if rest or self.registry.get(word) is not None:
            return None
        pending = buttons.pending_confirmation(session, (actor.platform, actor.account_id), now)
        if pending is None or not means(t, word, arguments.YES, arguments.NO):
            return None
        if not buttons.use_up(session, pending):
            return None
        if means(t, word, arguments.YES):
            return pending.command
        return Reply(paragraphs=(t("All right: I have done nothing."),), locale=t.locale)

    def _bound_on_its_own(self, reply: Reply, actor: Actor) -> Reply:
        """:meth:`_bound` for the answer to a command that failed (its transaction undone):
        its choices ("which capacity do you mean?") are bound like any other buttons."""
        if not reply.buttons:
            return reply
        with self._unit_of_work() as session:
            return self._bound(session, reply, actor, self.clock())

    def _bound(self, session: Session, reply: Reply, actor: Actor, now: datetime) -> Reply:
        """``reply`` with its buttons bound to the person it is for (see :mod:`buttons`)."""
        self._handled += 1
        if self._handled % 500 == 0:
            buttons.remove_expired(session, now)
        recipient = reply.recipient
        owner = (
            (recipient.platform, recipient.account_id)
            if recipient
            else (actor.platform, actor.account_id)
        )
        return buttons.bind(session, self.registry, reply, owner, now)

    def _unknown(self, t: Translator, name: str, arguments: str) -> Reply:
        """“Did you mean”, with buttons that run the suggested commands; the arguments are
        carried only into look-ups, never into a command that writes."""
        suggestions = self.registry.suggest(name)
        text = t("I do not know the command “{name}”.", name=t.user_text(name[:64]))
        if suggestions:
            text += " " + t("Did you mean: {names}?", names=t.list(suggestions))
        else:
            text += " " + t("Say “help” to see what I can do.")
        choices = []
        for suggestion in suggestions:
            command = self.registry.get(suggestion)
            line = (
                f"{suggestion} {arguments}".strip() if command and command.read_only else suggestion
            )
            choices.append(Button(suggestion, line))
        return Reply(paragraphs=(text,), buttons=tuple(choices), locale=t.locale, is_error=True)


def _refuse(t: Translator, message: str) -> NoReturn:
    raise UserError(Reply(paragraphs=(message,), locale=t.locale, is_error=True, ephemeral=True))


def _anonymous_may_run(command: Command) -> bool:
    """What an actor who is not a person may do: look things up, and run a room's admin
    commands (an anonymous admin is an admin of the room)."""
    return command.read_only or command.who is Who.ROOM_ADMIN


_ONE_ROW = select(literal(1).label("one")).subquery()
_SEEN = (
    select(
        ChatIdentity.id.label("identity_id"),
        ChatIdentity.handle,
        Person.id.label("person_id"),
        Person.display_name,
        Person.source,
        Person.locale.label("person_locale"),
        Person.last_active_at,
        Room.id.label("room_id"),
        Room.title.label("room_title"),
        Room.locale.label("room_locale"),
        outbox.WAITING.label("waiting"),
    )
    .select_from(_ONE_ROW)
    .outerjoin(
        ChatIdentity,
        and_(
            ChatIdentity.platform == bindparam("actor_platform"),
            ChatIdentity.account_id == bindparam("actor_account"),
        ),
    )
    .outerjoin(Person, Person.id == ChatIdentity.person_id)
    .outerjoin(
        Room, and_(Room.platform == bindparam("room_platform"), Room.room_id == bindparam("room"))
    )
)
"""The actor's identity and person, the room's settings and whether the outbox holds
messages for the actor: everything a command needs first, in one statement, read as a row
(a command that needs the person loads it, :attr:`Context.person`)."""
SEEN_WITHIN = timedelta(hours=1)
"""How stale a person's last activity may be before a command writes it anew (it counts in
days)."""


@dataclass(frozen=True)
class _Seen:
    """What :data:`_SEEN` read: ids, and the few columns every command reads first."""

    identity_id: int | None
    handle: str | None
    person_id: int | None
    display_name: str | None
    source: str | None
    person_locale: str | None
    last_active_at: datetime | None
    room_id: int | None
    room_title: str | None
    room_locale: str | None
    waiting: bool

    @property
    def locale_hints(self) -> tuple[str | None, str | None]:
        """The person's chosen language and the room's."""
        return self.person_locale, self.room_locale


def _looked_up(session: Session, actor: Actor, conversation: Conversation, now: datetime) -> _Seen:
    """The identity and person behind ``actor``'s account, the room's settings, and whether
    messages wait for the actor (a person or not yet), in one statement; an anonymous actor
    is nobody, and nothing waits for it."""
    params = {
        "actor_platform": actor.platform,
        "actor_account": actor.account_id,
        "room_platform": conversation.platform,
        "room": conversation.room_id,
        "now": now,
    }
    row = session.connection().execute(_SEEN, params).one()
    seen = _Seen(**{**row._asdict(), "waiting": bool(row.waiting)})
    if actor.is_anonymous:
        nobody = dict.fromkeys(("identity_id", "handle", "person_id", "display_name"))
        return replace(seen, **nobody, source=None, person_locale=None, waiting=False)
    return seen


def _refresh(session: Session, seen: _Seen, actor: Actor, now: datetime) -> None:
    """The person's handle, chat name and activity brought up to date with what the platform
    says now (the activity at most every :data:`SEEN_WITHIN`); nothing is written when all
    is as it was."""
    handle = actor.handle[:255] if actor.handle else None
    if seen.handle != handle:
        identity = update(ChatIdentity).where(ChatIdentity.id == seen.identity_id)
        session.execute(identity.values(handle=handle))
    changes: dict[str, object] = {}
    name = actor.display_name[:255]
    if name and seen.source == "chat" and seen.display_name != name:
        changes["display_name"] = name
    if seen.last_active_at is None or seen.last_active_at < now - SEEN_WITHIN:
        changes["last_active_at"] = now
    if changes:
        session.execute(update(Person).where(Person.id == seen.person_id).values(**changes))


def _reader_locale(seen: _Seen, actor: Actor) -> str:
    """The language to answer in: the person's choice, the platform's hint, the room's."""
    person_locale, room_locale = seen.locale_hints
    return negotiate([person_locale, actor.locale_hint, room_locale])


def _cleaned(incoming: Incoming) -> Incoming:
    """``incoming`` with every text a person chose cleaned (see :func:`core.parsing.clean`)."""
    actor = incoming.actor
    return replace(
        incoming,
        actor=replace(
            actor,
            display_name=clean(actor.display_name),
            handle=clean(actor.handle) if actor.handle else actor.handle,
        ),
        conversation=replace(
            incoming.conversation,
            title=clean(incoming.conversation.title) if incoming.conversation.title else None,
        ),
        command=clean(incoming.command),
        arguments=clean(incoming.arguments),
        options=incoming.options
        and {clean(name): clean(value) for name, value in incoming.options.items()},
    )


def _name(incoming: Incoming) -> str:
    """The command's name for a log line: a short word, or ``press`` for a button."""
    return "press" if incoming.pressed is not None else incoming.command[:32]
