"""Conversations with the core, as a test reads them: someone says a line, we read the replies.

This goes through :class:`core.dispatch.Core`, the same entry every adapter uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import count

from sqlmodel import Session, select

from adapters.render import render_plain
from core.dispatch import Core
from core.parsing import split_command_line
from core.types import Actor, Button, Conversation, Incoming, Reply, Target, replies_from_json
from storage.models import OutboxMessage, StoredButton

_events = count(1)


def isolated(text: str) -> str:
    """``text`` as the bot quotes what a person wrote: inside Unicode isolates."""
    return f"\u2068{text}\u2069"


def line_of(core: Core, button: Button) -> str:
    """The command line ``button`` runs, whether it carries it or the core keeps it."""
    if button.token is None:
        return button.command
    with Session(core.engine) as session:
        stored = session.get(StoredButton, button.token)
        assert stored is not None, "a token button the core does not keep"
        return stored.command


@dataclass
class Chat:
    """One account talking in one room (a direct chat unless ``room`` is given)."""

    core: Core
    name: str
    locale: str | None = None
    room: str | None = None
    admin: bool = False
    platform: str = "test"
    replies: list[Reply] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor(
            platform=self.platform,
            account_id=self.name.lower(),
            display_name=self.name,
            handle=f"@{self.name.lower()}",
            locale_hint=self.locale,
            is_room_admin=self.admin,
        )

    @property
    def conversation(self) -> Conversation:
        if self.room:
            return Conversation(self.platform, f"room:{self.room}", is_direct=False)
        return Conversation(self.platform, f"direct:{self.name.lower()}", is_direct=True)

    def incoming(self, line: str) -> Incoming:
        """``line`` as the core receives it from an adapter."""
        command, arguments = split_command_line(line)
        return Incoming(
            self.actor, self.conversation, command, arguments, event_id=str(next(_events))
        )

    def say(self, line: str) -> list[Reply]:
        """Send ``line`` as a command; the replies, also kept in ``self.replies``."""
        self.replies = self.core.handle(self.incoming(line))
        return self.replies

    def ask(self, line: str) -> str:
        """Send ``line``; every reply rendered as plain text, joined."""
        return "\n\n".join(render_plain(reply) for reply in self.say(line))

    def press(self, label: str) -> list[Reply]:
        """Choose the button labelled ``label`` in the last replies, as an adapter would."""
        return self.press_button(self.button(label))

    def button(self, label: str) -> Button:
        """The button labelled ``label`` in the last replies."""
        for reply in self.replies:
            for button in reply.buttons:
                if button.label == label:
                    return button
        raise AssertionError(
            f"no button {label!r} in {[b.label for r in self.replies for b in r.buttons]}"
        )

    def press_button(self, button: Button) -> list[Reply]:
        """Press ``button`` (perhaps one shown to someone else): its line, or its token."""
        if button.token is None:
            return self.say(button.command)
        incoming = replace(self.incoming(""), command="", arguments="", pressed=button.token)
        self.replies = self.core.handle(incoming)
        return self.replies


def queued(core: Core) -> list[tuple[Target, Reply]]:
    """What the core has put in the outbox, oldest first: (where it goes, what it says)."""
    with Session(core.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [
        (Target(r.platform, r.room_id, r.account_id, r.thread_id), replies_from_json(r.content)[0])
        for r in rows
    ]
