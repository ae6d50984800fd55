"""The Discord adapter (discord.py)."""

from adapters.discord.adapter import DiscordAdapter, DiscordSettings

__all__ = ["DiscordAdapter", "DiscordSettings"]
