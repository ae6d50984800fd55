"""The core's single entry: an :class:`Incoming` command in, the replies out.

Each command runs in one transaction: either everything it writes is kept, or (on a user
error or a crash) nothing is. A crash is logged with the command's name only, never the
message text, and the person gets a short translated apology, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, select

from core import arguments
from core.commands import build_registry
from core.commands.general import welcome
from core.context import Context, UserError
from core.i18n import Translator, negotiate
from core.parsing import MAX_INPUT, UsageError
from core.registry import Registry, Where, Who
from core.services.taxonomy import Taxonomy
from core.types import Button, Conversation, Incoming, Reply
from storage.db import unit_of_work
from storage.models import ChatIdentity, Person, Room, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")


def _room(session: Session, conversation: Conversation) -> Room | None:
    return session.exec(
        select(Room).where(
            Room.platform == conversation.platform, Room.room_id == conversation.room_id
        )
    ).first()


class Core:
    """The bot without a platform. Adapters call :meth:`handle` (or :meth:`handle_async`)."""

    def __init__(
        self, engine: Engine, *, registry: Registry | None = None, clock: Clock = utcnow
    ) -> None:
        self.engine = engine
        self.registry = registry or build_registry()
        self.clock = clock
        self._taxonomy: Taxonomy | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def taxonomy(self) -> Taxonomy:
        """The capacity tree, loaded on first use (and again after :meth:`reload`)."""
        if not self._taxonomy:
            with Session(self.engine) as session:
                self._taxonomy = Taxonomy.load(session)
        return self._taxonomy

    def reload(self) -> None:
        """Forget cached reference data, after a seed or a sync."""
        self._taxonomy = None

    async def handle_async(self, incoming: Incoming) -> list[Reply]:
        """:meth:`handle` on the core's own database thread, so the event loop never blocks."""
        return await self._on_database_thread(lambda: self.handle(incoming))

    async def in_database(self, work: Callable[..., T], *args: object) -> T:
        """``work(session, *args)`` in one transaction on the core's database thread; for the
        adapters' own records (sync cursors, unreachable chats)."""

        def run() -> T:
            with unit_of_work(self.engine) as session:
                return work(session, *args)

        return await self._on_database_thread(run)

    async def _on_database_thread(self, work: Callable[[], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capx-core")
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def welcome(self, conversation: Conversation, locale_hint: str | None = None) -> Reply:
        """The greeting for a room the bot has just joined, in the room's language if it has
        one, else in ``locale_hint``'s."""

        def greeting() -> Reply:
            with Session(self.engine) as session:
                room = _room(session, conversation)
            return welcome(Translator(negotiate([room and room.locale, locale_hint])))

        return await self._on_database_thread(greeting)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def handle(self, incoming: Incoming) -> list[Reply]:
        """The replies to one command. Never raises for anything a user can type."""
        fallback = Translator(negotiate([incoming.actor.locale_hint]))
        try:
            with unit_of_work(self.engine) as session:
                return self._handle(session, incoming)
        except UserError as error:
            return [error.reply]
        except Exception:
            log.exception("command %r failed", incoming.command[:32])
            message = fallback("Sorry, something went wrong. Please try again later.")
            return [Reply(paragraphs=(message,), locale=fallback.locale, is_error=True)]

    def _handle(self, session: Session, incoming: Incoming) -> list[Reply]:
        person = session.exec(
            select(Person)
            .join(ChatIdentity)
            .where(
                ChatIdentity.platform == incoming.actor.platform,
                ChatIdentity.account_id == incoming.actor.account_id,
            )
        ).first()
        room = _room(session, incoming.conversation)
        locale = negotiate(
            [person.locale if person else None, incoming.actor.locale_hint, room and room.locale]
        )
        t = Translator(locale)
        now = self.clock()
        if person is not None:
            person.last_active_at = now

        if len(incoming.command) + len(incoming.arguments) > MAX_INPUT:
            message = t.plural(
                "That is too long: I read at most {n} character.",
                "That is too long: I read at most {n} characters.",
                MAX_INPUT,
            )
            return [Reply(paragraphs=(message,), locale=locale, is_error=True)]
        command = self.registry.get(incoming.command)
        if command is None:
            return [self._unknown(t, incoming.command, incoming.arguments)]
        ctx = Context(incoming, command, session, self.taxonomy, self.registry, t, now, person)
        if command.where is Where.GROUP and incoming.conversation.is_direct:
            ctx.fail(t("“{command}” works in group rooms only.", command=command.name))
        if command.who is Who.ROOM_ADMIN and not incoming.actor.is_room_admin:
            ctx.fail(t("Only an admin of this room may use “{command}”.", command=command.name))
        try:
            values = arguments.parse(ctx, command, incoming.arguments)
        except UsageError:
            ctx.fail(t("Usage: {usage}", usage=command.usage(t)))
        replies = command.handler(ctx, values)
        replies = replies if isinstance(replies, list) else [replies]
        if ctx.private and not incoming.conversation.is_direct:
            replies.append(
                Reply(
                    paragraphs=(t("I have answered you in a private message."),),
                    locale=locale,
                    private_notice=True,
                )
            )
        return replies

    def _unknown(self, t: Translator, name: str, arguments: str) -> Reply:
        """“Did you mean”, with buttons that run the suggested commands on the same arguments."""
        suggestions = self.registry.suggest(name)
        text = t("I do not know the command “{name}”.", name=t.isolate(name[:64]))
        if suggestions:
            text += " " + t("Did you mean: {names}?", names=t.list(suggestions))
        else:
            text += " " + t("Say “help” to see what I can do.")
        buttons = tuple(Button(s, f"{s} {arguments}".strip()) for s in suggestions)
        return Reply(paragraphs=(text,), buttons=buttons, locale=t.locale, is_error=True)
