"""The console: chat with the bot in a terminal, or feed it commands through a pipe.

On a terminal it is a prompt with line editing and history. On a pipe it reads one command a
line, prints each reply, and stops at the end of input; lines starting with ``#`` are
comments. Typing the number of a choice (``2``) picks that choice of the last reply.
"""

from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from adapters.render import render_plain
from core.dispatch import Core
from core.parsing import split_command_line
from core.types import Actor, Button, Conversation, Incoming, Reply

PLATFORM = "console"
QUIT = {"quit", "exit", ":q"}


@dataclass(frozen=True)
class Identity:
    name: str
    locale: str | None = None
    room: str | None = None


class ConsoleChat:
    """One person chatting in one room (or directly) with the core."""

    def __init__(self, core: Core, identity: Identity, output: TextIO) -> None:
        self.core = core
        self.output = output
        self.actor = Actor(
            platform=PLATFORM,
            account_id=identity.name.lower(),
            display_name=identity.name,
            handle=identity.name.lower(),
            locale_hint=identity.locale,
            is_room_admin=True,
        )
        room = identity.room
        self.conversation = Conversation(
            platform=PLATFORM,
            room_id=f"room:{room}" if room else f"direct:{self.actor.account_id}",
            is_direct=room is None,
            title=room,
        )
        self.choices: list[Button] = []
        self._count = 0

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
                event_id=str(self._count),
                pressed=pressed,
            )
        )
        for reply in replies:
            self._print(reply)
        mine = [r for r in replies if r.recipient is None and r.buttons]
        self.choices = list(mine[-1].buttons) if mine else []
        return replies

    def _print(self, reply: Reply) -> None:
        if reply.recipient is not None and reply.recipient.account_id != self.actor.account_id:
            header = f"── to {reply.recipient.account_id}, privately ──"
        elif reply.private and not self.conversation.is_direct:
            header = "── to you, privately ──"
        else:
            header = "──"
        self.output.write(f"{header}\n{render_plain(reply)}\n\n")
        self.output.flush()

    def run_script(self, lines: Iterable[str]) -> None:
        for line in lines:
            if line.strip() and not line.lstrip().startswith("#"):
                if line.strip().lower() in QUIT:
                    return
                self.output.write(f"» {line.strip()}\n")
                self.say(line)

    def run_interactive(self, history: Path) -> None:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            readline.read_history_file(history)
        self.output.write("capx-bot console: say “help”, or “quit” to leave.\n")
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
