"""The console: chat with the bot in a terminal, or feed it commands through a pipe.

On a terminal it is a prompt with line editing and history. On a pipe it reads one command a
line, prints each reply, and stops at the end of input; lines starting with ``#`` are
comments. Choices are numbered across everything one command answered, ``[1]`` to the last
one, and typing a number (``2``) picks that choice. Messages the bot keeps for the person
(from the outbox: a helper for their need) are shown when the console opens and after each
command.

Who speaks: ``--as Ana`` is a console person of its own, whose account id (``name:ana``) can
never be a demo person's; the demo people (``storage/demo.py``, account ids such as ``ana``)
are reached only as ``--as demo:ana``. In a room, the person is one of its admins only when
asked (``--admin``); in a direct chat, they are the admin of that chat alone.
"""

from __future__ import annotations

import contextlib
import getpass
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from adapters.render import render_plain
from core.dispatch import Core
from core.parsing import split_command_line
from core.types import Actor, Button, Conversation, Incoming, Outgoing, Reply, Sent, Target

PLATFORM = "console"
QUIT = {"quit", "exit", ":q"}
DEMO = "demo:"
"""``--as demo:ana`` speaks as the demo person whose console account id is ``ana``."""
PERSON = "name:"
"""The start of the account id of a console person named with a plain name. Demo account ids
are letters and digits only, so no plain name can ever become a demo person."""


@dataclass(frozen=True)
class Identity:
    """Who chats, where: ``name`` as given to ``--as`` (a plain name, or ``demo:<account>``),
    a room's name or None for a direct chat, and whether the person is that room's admin."""

    name: str
    locale: str | None = None
    room: str | None = None
    admin: bool = False

    @property
    def demo(self) -> str | None:
        """The demo person's console account id, for ``demo:<account>``; else None."""
        if self.name.lower().startswith(DEMO):
            return self.name[len(DEMO) :].strip().lower()
        return None

    @property
    def account_id(self) -> str:
        demo = self.demo
        return demo if demo is not None else PERSON + " ".join(self.name.split()).casefold()

    @property
    def problem(self) -> str | None:
        """What is wrong with the name, for an operator; None when it can be used."""
        if self.demo == "":
            return "--as demo: needs the name of a demo person, such as demo:ana"
        if not self.name.strip():
            return "--as needs a name"
        return None


class ConsoleChat:
    """One person chatting in one room (or directly) with the core."""

    def __init__(self, core: Core, identity: Identity, output: TextIO) -> None:
        self.core = core
        self.output = output
        account = identity.account_id
        self.actor = Actor(
            platform=PLATFORM,
            account_id=account,
            display_name=" ".join(identity.name.split()),
            handle=account,
            locale_hint=identity.locale,
            is_room_admin=identity.admin or identity.room is None,
        )
        room = identity.room
        self.conversation = Conversation(
            platform=PLATFORM,
            room_id=f"room:{room}" if room else f"direct:{account}",
            is_direct=room is None,
            title=room,
        )
        self.choices: list[Button] = []
        """The choices of the last answer, in the order of their numbers."""
        self._count = 0
        self._session = uuid.uuid4().hex
        """Event ids are unique across console sessions, as the outbox's keys need."""

    def say(self, line: str) -> list[Reply]:
        """Send one line; print and return the replies. A bare number picks a choice."""
        line = line.strip()
        pressed = None
        if line.isdigit() and 1 <= int(line) <= len(self.choices):
            chosen = self.choices[int(line) - 1]
            line, pressed = chosen.command, chosen.token
        command, arguments = split_command_line(line)
        self._count += 1
        replies = self.core.handle(
            Incoming(
                self.actor,
                self.conversation,
                command,
                arguments,
                event_id=f"{self._session}:{self._count}",
                pressed=pressed,
            )
        )
        self.choices = []
        for reply in replies:
            self._print(reply)
        self.receive()
        return replies

    def _print(self, reply: Reply, header: str | None = None) -> None:
        """Print ``reply``; its choices get the next numbers."""
        if header is None:
            private = reply.private and not self.conversation.is_direct
            header = "── to you, privately ──" if private else "──"
        text = render_plain(reply, numbered_choices=False)
        if reply.buttons:
            lines = []
            for button in reply.buttons:
                self.choices.append(button)
                lines.append(f"[{len(self.choices)}] {button.label}")
            text = "\n\n".join(filter(None, (text, "\n".join(lines))))
        self.output.write(f"{header}\n{text}\n\n")
        self.output.flush()

    def receive(self) -> int:
        """Print the messages the bot keeps for this person (the author of a need learns of
        a helper here, the next time they open the console) and, in a room, for the room (a
        reminder); how many there were."""
        count = self.core.deliver_to(
            Target(PLATFORM, account_id=self.actor.account_id), self._received
        )
        if not self.conversation.is_direct:
            room = Target(PLATFORM, room_id=self.conversation.room_id)
            count += self.core.deliver_to(room, self._received)
        return count

    def _received(self, message: Outgoing) -> Sent:
        self._print(message.reply, "── a message for you ──")
        return Sent()

    def run_script(self, lines: Iterable[str]) -> None:
        self.receive()
        for line in lines:
            if line.strip() and not line.lstrip().startswith("#"):
                if line.strip().lower() in QUIT:
                    return
                self.output.write(f"» {line.strip()}\n")
                self.say(line)

    def run_interactive(self, history: Path) -> None:
        import readline

        with contextlib.suppress(OSError):
            history.parent.mkdir(parents=True, exist_ok=True)
            readline.read_history_file(history)
        self.output.write("capx-bot console: say “help”, or “quit” to leave.\n")
        self.receive()
        try:
            while True:
                try:
                    line = input(f"{self.actor.display_name}> ")
                except EOFError:
                    break
                if line.strip().lower() in QUIT:
                    break
                if line.strip():
                    self.say(line)
        except KeyboardInterrupt:
            self.output.write("\n")
        finally:
            with contextlib.suppress(OSError):
                readline.write_history_file(history)


def default_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"


def run(core: Core, identity: Identity, history: Path) -> None:
    """Chat on the terminal when there is one, else read commands from standard input."""
    chat = ConsoleChat(core, identity, sys.stdout)
    if sys.stdin.isatty():
        chat.run_interactive(history)
    else:
        chat.run_script(sys.stdin)
