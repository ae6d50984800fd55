"""Telegram: python-telegram-bot in front of the shared core."""

from adapters.telegram.adapter import TelegramAdapter, TelegramSettings

__all__ = ["TelegramAdapter", "TelegramSettings"]
