"""One declaration per command; help, usage, menus and parsers are all derived from it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.i18n import Translator
from core.services.names import closest

if TYPE_CHECKING:
    from core.context import Context
    from core.types import Reply


class Where(StrEnum):
    """Where a command's answer belongs."""

    ANYWHERE = "anywhere"
    PRIVATE = "private"
    """Runs anywhere, but every answer goes to a private chat with the actor."""
    GROUP = "group"
    """Only meaningful in a group room."""


class Who(StrEnum):
    ANYONE = "anyone"
    ROOM_ADMIN = "room_admin"


class Kind(StrEnum):
    """What a parameter's text is resolved to before the handler sees it."""

    CAPACITY = "capacity"
    CAPACITIES = "capacities"
    """One or more capacities, separated by commas."""
    LANGUAGE = "language"
    BOT_LANGUAGE = "bot_language"
    """One of the languages the bot speaks (the handler picks the closest)."""
    LANGUAGE_LEVELS = "language_levels"
    TERRITORY = "territory"
    ORGANIZATION = "organization"
    NUMBER = "number"
    SWITCH = "switch"
    """on or off."""
    PERSON = "person"
    """Someone's username, handle or chat name (the handler looks them up)."""
    WORD = "word"
    TEXT = "text"
    """The rest of the line, as typed."""


@dataclass(frozen=True)
class Param:
    """A parameter. ``label`` is shown in usage and describes it where a platform types
    options (translated); ``keyword`` introduces it."""

    name: str
    kind: Kind
    label: str
    required: bool = True
    keyword: str | None = None
    """An English word that introduces the value (``in``, ``near``); its translation works too."""
    choices: tuple[str, ...] = ()
    """The values it takes, when they are a short fixed list (English words, translated where
    shown, or codes)."""


Handler = Callable[["Context", dict[str, Any]], "Reply | list[Reply]"]


@dataclass(frozen=True)
class Command:
    """A command of the bot. ``summary`` and ``help`` are English msgids, marked with ``N_``."""

    name: str
    summary: str
    help: str
    handler: Handler
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    where: Where = Where.ANYWHERE
    who: Who = Who.ANYONE
    examples: tuple[str, ...] = ()
    read_only: bool = False
    """It only looks up what anyone may see, and changes nothing: its buttons work for
    whoever presses them. Every other command's buttons work only for the person they were
    shown to."""

    def example_lines(self, t: Translator) -> list[str]:
        """The examples, their keywords (``in``, ``near``) in ``t``'s language."""
        keywords = {param.keyword: t(param.keyword) for param in self.params if param.keyword}
        return [
            " ".join(keywords.get(word, word) for word in example.split(" "))
            for example in self.examples
        ]

    def usage(self, t: Translator) -> str:
        """``name <required> [optional] [keyword <value>]`` with translated labels."""
        parts = [self.name]
        for param in self.params:
            shown = f"<{t(param.label)}>"
            if param.keyword:
                shown = f"{t(param.keyword)} {shown}"
            parts.append(shown if param.required else f"[{shown}]")
        return " ".join(parts)


@dataclass(eq=False)
class Registry:
    """The set of commands, looked up by name or alias (one registry equals only itself, so
    that what is worked out from it can be kept by it)."""

    _commands: dict[str, Command] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def add(self, command: Command) -> Command:
        for name in (command.name, *command.aliases):
            if name in self._names:
                raise ValueError(f"command name {name!r} declared twice")
            self._names[name] = command.name
        self._commands[command.name] = command
        return command

    def get(self, name: str) -> Command | None:
        canonical = self._names.get(name.lower())
        return self._commands[canonical] if canonical else None

    def __iter__(self) -> Iterator[Command]:
        return iter(self._commands.values())

    def suggest(self, name: str, limit: int = 3) -> list[str]:
        """Command names close to a mistyped ``name``, best first."""
        found = closest(name.lower(), self._names, limit)
        return list(dict.fromkeys(self._names[n] for n in found))
