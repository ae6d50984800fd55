"""Telegram's command menus, derived from the core's registry: one per shipped locale and per
scope (private chats, group chats)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)

from core.i18n import Translator, shipped_locales
from core.registry import Registry, Where

DESCRIPTION_LIMIT = 256


@dataclass(frozen=True)
class Menu:
    scope: BotCommandScope
    language_code: str | None
    """Telegram's two-letter code; None for the default menu (English)."""
    commands: tuple[BotCommand, ...]


def menus(registry: Registry) -> list[Menu]:
    """Every menu to set. Private chats list every command but the group-only ones; groups
    list every command whose answers stay in the group."""
    scopes = {
        BotCommandScopeAllPrivateChats(): lambda where: where is not Where.GROUP,
        BotCommandScopeAllGroupChats(): lambda where: where is not Where.PRIVATE,
    }
    found: list[Menu] = []
    for locale in shipped_locales():
        t = Translator(locale)
        code = None if locale == "en" else locale.split("_")[0]
        for scope, shown in scopes.items():
            commands = tuple(
                BotCommand(command.name, t(command.summary)[:DESCRIPTION_LIMIT])
                for command in registry
                if shown(command.where)
            )
            found.append(Menu(scope, code, commands))
    return found
