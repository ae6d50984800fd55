"""Every command of the bot, declared once. Each module lists its commands in ``COMMANDS``."""

from __future__ import annotations

from core.commands import contacts, directory, events, find, general, needs, privacy, profile
from core.registry import Registry


def build_registry() -> Registry:
    """A registry holding every command, in the order ``help`` lists them."""
    registry = Registry()
    for module in (general, directory, profile, find, needs, contacts, events, privacy):
        for command in module.COMMANDS:
            registry.add(command)
    return registry
