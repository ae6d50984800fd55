"""capx-bot on Discord: native slash commands generated from the registry, over discord.py.

- **Commands.** Each command of the registry is a slash command; each parameter an option
  (an integer with its bounds, or a string), completed as it is typed through
  :meth:`Core.complete` where it names something (capacities, places, people, languages) or
  has fixed choices. Descriptions are translated for every shipped locale (an
  ``app_commands.Translator`` over the bot's catalogs). Room-admin commands need Manage
  Server by default and are checked again when run; group-only ones are server-only. The
  tree is synced to the configured guilds (or globally) only when it changed: its hash is
  kept in the database.
- **Answers.** The values come to the core as typed options, never as a rebuilt line. A
  private answer is ephemeral (only its asker sees it); an answer not ready within
  :data:`DEFER_AFTER` seconds is deferred, then sent as a follow-up. Buttons carry
  ``c:<line>`` or ``b:<token>`` like Telegram's, with the same rules of ownership.
- **Outbound.** :meth:`send` posts to a channel or a direct message with the outbox key as
  the message nonce (enforced), so a retry never posts twice.
- No privileged intents. Reconnects and rate limits are discord.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import discord
from discord import app_commands

from adapters import render
from adapters.base import AdapterStopped, Kept
from adapters.discord import messages
from adapters.render import BOUND, RUN
from core.dispatch import Core
from core.i18n import N_, Translator, best_shipped
from core.logs import describe
from core.parsing import split_command_line
from core.registry import Command, Kind, Param, Where, Who
from core.types import (
    Actor,
    Conversation,
    Incoming,
    Later,
    Outcome,
    Reply,
    Sent,
    Target,
    Unreachable,
)
from storage import chats

log = logging.getLogger(__name__)

PLATFORM = "discord"
DEFER_AFTER = 2.0
"""Discord wants a first answer within three seconds; past this, the bot defers."""
DESCRIPTION_LIMIT = 100
COMPLETED = {
    Kind.CAPACITY,
    Kind.CAPACITIES,
    Kind.LANGUAGE,
    Kind.LANGUAGE_LEVELS,
    Kind.TERRITORY,
    Kind.ORGANIZATION,
    Kind.PERSON,
    Kind.SWITCH,
    Kind.BOT_LANGUAGE,
}
"""Kinds whose options are completed as they are typed."""
LARGEST = 2**31 - 1
NAME = re.compile(r"[-_\w]{1,32}")
"""What Discord takes as a command's or an option's name (lower case)."""


@dataclass(frozen=True)
class DiscordSettings:
    token: str
    token_env: str = "CAPX_DISCORD_TOKEN"
    guilds: tuple[int, ...] = ()
    """Servers the commands are synced to (at once, for development); none: globally."""
    guild_ready_timeout: float = 2.0
    """How long discord.py waits for the servers' data after it connects (tests: less)."""

    @classmethod
    def from_config(cls, section: Mapping[str, Any], environ: Mapping[str, str]) -> DiscordSettings:
        return cls(
            token=environ.get(section["token_env"], ""),
            token_env=section["token_env"],
            guilds=tuple(int(guild) for guild in section["guilds"]),
        )


@cache
def _catalog(locale: str) -> Translator | None:
    """The bot's catalog for a Discord locale (``pt-BR``), or None for English or a
    language the bot does not speak."""
    shipped = best_shipped(locale)
    return Translator(shipped) if shipped not in (None, "en") else None


class _Catalogs(app_commands.Translator):
    """Descriptions and choice names in the bot's catalogs, for every shipped locale."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        catalog = _catalog(locale.value)
        if catalog is None:
            return None
        translated = catalog(string.message)
        if translated == string.message:
            return None
        names = (
            app_commands.TranslationContextLocation.command_name,
            app_commands.TranslationContextLocation.parameter_name,
        )
        if context.location in names:  # a name must stay one lower-case word
            return translated if NAME.fullmatch(translated) and translated.islower() else None
        return messages.cut(translated, DESCRIPTION_LIMIT)


class DiscordAdapter:
    name = PLATFORM

    def __init__(self, core: Core, settings: DiscordSettings) -> None:
        self.core = core
        self.settings = settings
        self.client: discord.Client | None = None
        self.tree: app_commands.CommandTree | None = None
        self._ready = False
        self._pages: Kept[str, list[Reply]] = Kept(1024, render.PAGES_KEPT_FOR)

    @property
    def ready(self) -> bool:
        return self._ready

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve Discord until cancelled; :class:`AdapterStopped` for a missing or rejected
        token."""
        if not self.settings.token:
            raise AdapterStopped(
                f"no bot token: set the environment variable {self.settings.token_env}"
            )
        intents = discord.Intents.none()
        intents.guilds = True
        client = discord.Client(
            intents=intents, guild_ready_timeout=self.settings.guild_ready_timeout
        )
        tree = app_commands.CommandTree(client)
        for command in self.core.registry:
            tree.add_command(self._slash(command))
        await tree.set_translator(_Catalogs())
        tree.error(self.on_tree_error)
        client.event(self.on_ready)
        client.event(self.on_interaction)
        self.client, self.tree = client, tree
        try:
            await client.start(self.settings.token)
        except discord.LoginFailure:
            raise AdapterStopped(
                f"Discord rejected the bot token in {self.settings.token_env}"
            ) from None
        finally:
            self._ready = False
            await client.close()

    async def on_ready(self) -> None:
        await self._sync()
        self._ready = True

    async def _sync(self) -> None:
        """Sync the tree where it goes, when it differs from what was synced last."""
        assert self.tree is not None
        translator = self.tree.translator
        assert translator is not None
        payload = [
            await command.get_translated_payload(self.tree, translator)
            for command in self.tree.get_commands()
        ]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        for guild in self.settings.guilds or (None,):
            key = f"discord:commands:{guild or 'global'}"
            if await self.core.in_database(chats.read_cursor, key) == digest:
                continue
            where = discord.Object(id=guild) if guild else None
            if where is not None:
                self.tree.copy_global_to(guild=where)
            await self.tree.sync(guild=where)
            await self.core.in_database(chats.write_cursor, key, digest, self.core.clock())
            log.info("discord commands synced to %s", f"server {guild}" if guild else "all servers")

    # -- the commands ----------------------------------------------------------------------

    def _slash(self, command: Command) -> app_commands.Command:
        """The slash command for ``command``: its options typed from its parameters."""

        async def callback(interaction: discord.Interaction, **values: Any) -> None:
            options = {name: str(value) for name, value in values.items() if value is not None}
            incoming = self._incoming(interaction, command.name, options=options)
            await self._answer(interaction, incoming, private=command.where is Where.PRIVATE)

        signature = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=discord.Interaction,
            )
        ]
        completions = {}
        for param in command.params:
            annotation: Any = (
                app_commands.Range[int, 1, LARGEST] if param.kind is Kind.NUMBER else str
            )
            default = inspect.Parameter.empty if param.required else None
            if not param.required:
                annotation = annotation | None
            signature.append(
                inspect.Parameter(
                    param.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=annotation,
                    default=default,
                )
            )
            if param.kind in COMPLETED or param.choices:
                completions[param.name] = self._completer(command, param)
        # The signature is made here, from the parameters; what discord.py's decorators
        # (describe, autocomplete) would set on a written callback is set the same way.
        callback.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
        callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
            param.name: app_commands.locale_str(messages.cut(param.label, DESCRIPTION_LIMIT))
            for param in command.params
        }
        callback.__discord_app_commands_param_autocomplete__ = completions  # type: ignore[attr-defined]
        slash = app_commands.Command(
            name=command.name,
            description=app_commands.locale_str(messages.cut(command.summary, DESCRIPTION_LIMIT)),
            callback=callback,
        )
        if command.who is Who.ROOM_ADMIN:
            slash.default_permissions = discord.Permissions(manage_guild=True)
        slash.guild_only = command.where is Where.GROUP
        return slash

    def _completer(self, command: Command, param: Param):
        async def complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            actor, conversation = self._actor(interaction), self._conversation(interaction)
            found = await self.core.complete_async(
                actor, conversation, command.name, param.name, current
            )
            return [
                app_commands.Choice(name=messages.cut(c.label, 100), value=c.value[:100])
                for c in found
            ]

        return complete

    # -- interactions ----------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses (slash commands and completions are the tree's)."""
        if interaction.type is not discord.InteractionType.component:
            return
        data = str((interaction.data or {}).get("custom_id", ""))
        if data.startswith(messages.PAGE):
            await self._turn_page(interaction, data.removeprefix(messages.PAGE))
            return
        if data.startswith(BOUND):
            incoming = self._incoming(interaction, "", pressed=data.removeprefix(BOUND))
        elif data.startswith(RUN):
            name, rest = split_command_line(data.removeprefix(RUN))
            incoming = self._incoming(interaction, name, arguments=rest)
        else:
            return
        await self._answer(interaction, incoming, private=False)

    async def _turn_page(self, interaction: discord.Interaction, data: str) -> None:
        """Show another page of the long list whose message holds the pressed button, in
        place; anyone who sees the message may turn its pages. The pages are kept in memory:
        after a restart, the button says it expired."""
        key, _, number = data.rpartition(":")
        paged = self._pages.get(key)
        if paged is None or not number.isdigit() or int(number) >= len(paged):
            await self._brief(
                interaction, N_("This button has expired. Please send the command again.")
            )
            return
        page = messages.Page(key, int(number), len(paged))
        shown = messages.content(paged[page.number], page)
        try:
            await interaction.response.edit_message(embed=shown["embed"], view=shown["view"])
        except discord.HTTPException as error:
            log.info("could not turn a page of a Discord message: %s", describe(error))

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """A command Discord still shows but this tree no longer has (or has changed): a
        short answer to the person, one line in the log, no traceback."""
        log.info("a Discord command could not run: %s", type(error).__name__)
        await self._brief(
            interaction, N_("That command has changed. Please try again in a moment.")
        )

    async def _brief(self, interaction: discord.Interaction, message: str) -> None:
        """``message``, translated for the presser, shown to them alone, when the
        interaction is not answered yet."""
        if interaction.response.is_done():
            return
        t = Translator(best_shipped(interaction.locale.value) or "en")
        reply = Reply(paragraphs=(t(message),), is_error=True, ephemeral=True, locale=t.locale)
        with contextlib.suppress(discord.HTTPException):
            await self._reply(interaction, reply)

    def _actor(self, interaction: discord.Interaction) -> Actor:
        user = interaction.user
        permissions = interaction.permissions
        hint = str(interaction.locale.value) if interaction.locale else None
        if not best_shipped(hint) and interaction.guild_locale is not None:
            hint = interaction.guild_locale.value  # the server's preferred locale
        return Actor(
            platform=PLATFORM,
            account_id=str(user.id),
            display_name=user.display_name,
            handle=f"@{user.name}",
            locale_hint=hint,
            is_room_admin=interaction.guild_id is not None and permissions.manage_guild,
        )

    def _conversation(self, interaction: discord.Interaction) -> Conversation:
        channel = interaction.channel
        return Conversation(
            platform=PLATFORM,
            room_id=str(interaction.channel_id),
            is_direct=interaction.guild_id is None,
            title=getattr(channel, "name", None),
        )

    def _incoming(self, interaction: discord.Interaction, command: str, **extra: Any) -> Incoming:
        return Incoming(
            self._actor(interaction),
            self._conversation(interaction),
            command,
            event_id=f"discord:{interaction.id}",
            timestamp=interaction.created_at,
            **extra,
        )

    async def _answer(
        self, interaction: discord.Interaction, incoming: Incoming, *, private: bool
    ) -> None:
        """The core's replies to ``incoming``, deferred first when they are slow to come."""
        handling = asyncio.ensure_future(self.core.handle_async(incoming))
        done, _ = await asyncio.wait([handling], timeout=DEFER_AFTER)
        try:
            if not done:
                await interaction.response.defer(ephemeral=private, thinking=True)
            for reply in await handling:
                if not reply.private_notice:  # an ephemeral answer shows in place
                    await self._reply(interaction, reply)
        except discord.NotFound:
            log.info("a Discord interaction expired before it was answered")
        except discord.HTTPException as error:
            log.warning("could not answer a Discord interaction: %s", describe(error))

    def _content(self, reply: Reply) -> dict[str, Any]:
        """:func:`messages.content` of ``reply``; a long list's first page, the others kept
        for :meth:`_turn_page`."""
        paged = render.pages(reply)
        if len(paged) == 1:
            return messages.content(reply)
        key = secrets.token_urlsafe(9)
        self._pages.put(key, paged)
        return messages.content(paged[0], messages.Page(key, 0, len(paged)))

    async def _reply(self, interaction: discord.Interaction, reply: Reply) -> None:
        content = {**self._content(reply), "ephemeral": reply.private or reply.ephemeral}
        if interaction.response.is_done():
            await interaction.followup.send(**content)
        else:
            await interaction.response.send_message(**content)

    # -- outbound --------------------------------------------------------------------------

    async def send(self, target: Target, reply: Reply, *, key: str) -> Outcome:
        """Post ``reply`` in a channel or a direct message, its nonce the outbox key."""
        client = self.client
        if client is None:
            return Later(30, "not connected")
        try:
            if target.room_id is not None:
                channel = client.get_channel(int(target.room_id)) or await client.fetch_channel(
                    int(target.room_id)
                )
            else:
                user = await client.fetch_user(int(target.account_id or ""))
                channel = await user.create_dm()
            content = {**self._content(reply), "nonce": _nonce(key)}
            message = await channel.send(**content)  # type: ignore[union-attr]
        except ValueError:
            return Unreachable("not a Discord id")
        except (discord.Forbidden, discord.NotFound) as error:
            return Unreachable(type(error).__name__)
        except discord.HTTPException as error:
            return Later(60, describe(error))
        return Sent(str(message.id))


def _nonce(key: str) -> str:
    """The message nonce for an outbox key: Discord takes 25 characters, and two keys must
    not share one (a key's first 25 characters may be another's), so a digest of it."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
