"""The Discord stand-in (tests/discord_server.py), proven with unmodified discord.py.

A real ``discord.Client`` with an ``app_commands.CommandTree`` (no privileged intents) logs
in, connects to the stand-in's gateway, syncs its tree, and answers slash commands,
autocomplete and button presses dispatched as Discord dispatches them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_server import (
    ADMIN,
    APPLICATION_ID,
    BOT,
    CHANNEL_ID,
    DM_USER,
    EPHEMERAL,
    GUILD_ID,
    GUILDS,
    MEMBER,
    MESSAGE_CONTENT,
    TOKEN,
    DiscordServer,
    Failure,
    dm_channel_id,
    point_discord_py_at,
)

SKILLS = ["Python", "Translation", "Wikidata", "Wiki Loves Monuments", "Public speaking"]
PORTUGUESE = {
    "find": "procurar",
    "Find people by capacity": "Encontrar pessoas por capacidade",
    "skill": "capacidade",
    "A capacity to look for": "Uma capacidade a procurar",
}


class Portuguese(app_commands.Translator):
    async def translate(self, string, locale, context):
        if locale is discord.Locale.brazil_portuguese:
            return PORTUGUESE.get(string.message)
        return None


class Menu(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=30)

    @discord.ui.button(label="Join", custom_id="join", style=discord.ButtonStyle.primary)
    async def join(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(
            content=f"{interaction.user.name} joined", view=None
        )
        # A view with a timeout keeps a task until it times out or is stopped: closing the
        # client does not stop it.
        self.stop()

    @discord.ui.button(label="Later", custom_id="later")
    async def later(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()  # type 6 for a component: no "thinking" message
        await interaction.edit_original_response(content="Saved for later", view=None)
        self.stop()


class Bot(discord.Client):
    """A bot as the adapter makes one: default intents without message content, a command
    tree, and what it saw recorded."""

    def __init__(self, *, translator: app_commands.Translator | None = None, **options) -> None:
        intents = discord.Intents.default()
        intents.message_content = False
        options.setdefault("intents", intents)
        super().__init__(guild_ready_timeout=0.05, **options)
        self.tree = app_commands.CommandTree(self)
        self.translator = translator or Portuguese()
        self.seen: list[discord.Interaction] = []
        self.messages: list[discord.Message] = []
        self.errors: list[Exception] = []
        self.pressed: list[str] = []
        self._add_commands()

    async def setup_hook(self) -> None:
        await self.tree.set_translator(self.translator)

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.component:
            self.pressed.append(interaction.data["custom_id"])

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(name="find", description="Find people by capacity")
        @app_commands.describe(skill="A capacity to look for")
        async def find(interaction: discord.Interaction, skill: str) -> None:
            self.seen.append(interaction)
            await interaction.response.send_message(f"Looking for {skill}")

        @find.autocomplete("skill")
        async def find_skill(interaction: discord.Interaction, current: str):
            self.seen.append(interaction)
            found = [s for s in SKILLS if current.lower() in s.lower()]
            return [app_commands.Choice(name=s, value=s) for s in found][:25]

        @tree.command(name="organise", description="Community settings")
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.guild_only()
        async def organise(interaction: discord.Interaction) -> None:
            self.seen.append(interaction)
            await interaction.response.send_message("Settings", ephemeral=True)

        @tree.command(name="menu", description="Show a button")
        async def menu(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Pick one", view=Menu())

        @tree.command(name="report", description="A slow answer")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("First")
            await interaction.followup.send("Second")
            await interaction.edit_original_response(content="First, edited")

        @tree.command(name="slow", description="Answers too late")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.1)
            await interaction.response.send_message("Too late")

        @tree.error
        async def on_error(interaction: discord.Interaction, error: Exception) -> None:
            self.errors.append(error)


@pytest.fixture
async def server() -> AsyncIterator[DiscordServer]:
    server = DiscordServer()
    await server.start()
    try:
        with point_discord_py_at(server):
            yield server
    finally:
        await server.stop()
    assert not server.errors, "the stand-in failed answering"


@asynccontextmanager
async def running(bot: discord.Client, token: str = TOKEN) -> AsyncIterator[discord.Client]:
    """``bot`` started and ready (or its start's error raised); closed cleanly after."""
    started = asyncio.create_task(bot.start(token))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({started, ready}, timeout=5, return_when="FIRST_COMPLETED")
        if started in done:
            started.result()
        assert ready in done, "the bot did not get ready within 5 s"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(asyncio.gather(started, return_exceptions=True), 5)
        await no_tasks_left()


async def no_tasks_left(timeout: float = 1) -> None:
    """Every task but the test's own has finished: a closed client leaves nothing pending."""

    def others() -> list[asyncio.Task]:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]

    try:
        await until(lambda: not others(), timeout)
    except TimeoutError:
        raise AssertionError(f"tasks still pending after close: {others()}") from None


@pytest.fixture
async def bot(server: DiscordServer) -> AsyncIterator[Bot]:
    """A ready bot whose commands are synced to the default guild."""
    bot = Bot()
    async with running(bot):
        guild = discord.Object(GUILD_ID)
        bot.tree.copy_global_to(guild=guild)
        await asyncio.wait_for(bot.tree.sync(guild=guild), 5)
        yield bot


async def until(predicate: Callable[[], bool], timeout: float = 2) -> None:
    """Wait for something the bot does on its side."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def test_connects_gets_ready_and_guild_create(server: DiscordServer, bot: Bot) -> None:
    assert bot.user is not None and bot.user.id == APPLICATION_ID and bot.user.bot
    assert bot.application_id == APPLICATION_ID
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None and guild.name == "Wikimedia Test"
    assert guild.get_channel(CHANNEL_ID).name == "general"
    assert guild.me is not None and guild.owner_id is not None
    assert {role.name for role in guild.roles} >= {"@everyone", "Organisers", "CapX"}
    # Login is two REST calls, then the gateway; discord.py asks for transport compression.
    assert [(c.method, c.path) for c in server.calls[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    connection = server.connections[0]
    assert connection.query["v"] == "10" and connection.query["encoding"] == "json"
    assert connection.compression in ("zlib-stream", "zstd-stream")
    assert connection.heartbeats >= 1
    identify = next(frame.d for frame in server.received if frame.op == 2)
    assert identify["token"] == TOKEN
    assert identify["intents"] == bot.intents.value
    assert identify["intents"] & GUILDS and not identify["intents"] & MESSAGE_CONTENT


async def test_rest_answers_are_exactly_application_json(server: DiscordServer) -> None:
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with session.get(server.api_url + "/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["id"] == str(APPLICATION_ID)
        async with session.get(server.api_url + "/users/@me") as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/json"
        async with session.get(server.api_url + "/gateway/bot", headers=headers) as response:
            assert (await response.json())["url"] == server.gateway_url


async def test_tree_sync_registers_commands_with_options_and_localizations(
    server: DiscordServer, bot: Bot
) -> None:
    put = server.calls_to("PUT", f"/applications/{APPLICATION_ID}/guilds/{GUILD_ID}/commands")
    assert len(put) == 1
    registered = server.registered(GUILD_ID)
    assert set(registered) == {"find", "organise", "menu", "report", "slow"}
    find = registered["find"]
    assert find["type"] == 1 and find["guild_id"] == str(GUILD_ID)
    assert find["name_localizations"] == {"pt-BR": "procurar"}
    assert find["description_localizations"] == {"pt-BR": "Encontrar pessoas por capacidade"}
    (skill,) = find["options"]
    assert skill["name"] == "skill" and skill["type"] == 3
    assert skill["required"] is True and skill["autocomplete"] is True
    assert skill["name_localizations"] == {"pt-BR": "capacidade"}
    # discord.py sends the permissions as an integer; Discord keeps and answers a string.
    assert registered["organise"]["default_member_permissions"] == str(1 << 5)
    assert registered["find"]["default_member_permissions"] is None
    fetched = await bot.tree.fetch_commands(guild=discord.Object(GUILD_ID))
    assert {c.name: c.id for c in fetched} == {n: int(c["id"]) for n, c in registered.items()}
    # Syncing again keeps the ids, as Discord does for commands of the same name.
    await bot.tree.sync(guild=discord.Object(GUILD_ID))
    assert server.registered(GUILD_ID)["find"]["id"] == find["id"]


async def test_slash_command_is_answered_with_a_channel_message(
    server: DiscordServer, bot: Bot
) -> None:
    record = await server.slash("find", {"skill": "Python"}, locale="pt-BR")
    (callback,) = await server.wait_answer(record)
    assert callback.path == f"/interactions/{record.id}/{record.token}/callback"
    assert callback.json["type"] == 4 and record.response_type == 4
    assert callback.content == "Looking for Python"
    assert record.content == "Looking for Python" and not record.ephemeral
    seen = bot.seen[-1]
    assert seen.locale is discord.Locale.brazil_portuguese
    assert seen.guild_locale is discord.Locale.american_english
    assert isinstance(seen.user, discord.Member) and seen.user.id == MEMBER.id
    assert not seen.permissions.manage_guild
    assert seen.channel is not None and seen.channel.id == CHANNEL_ID
    # Discord also dispatches the bot's own (non-ephemeral) response as MESSAGE_CREATE.
    await until(lambda: any(m.content == "Looking for Python" for m in bot.messages))
    echoed = next(m for m in bot.messages if m.content == "Looking for Python")
    assert echoed.author.id == APPLICATION_ID and echoed.interaction_metadata.id == record.id


async def test_autocomplete_is_answered_with_choices(server: DiscordServer, bot: Bot) -> None:
    record = await server.complete("find", "skill", "wiki")
    await server.wait_answer(record)
    assert record.response_type == 8
    assert record.choices == [
        {"name": "Wikidata", "value": "Wikidata"},
        {"name": "Wiki Loves Monuments", "value": "Wiki Loves Monuments"},
    ]
    focused = record.payload["data"]["options"][0]
    assert focused == {"name": "skill", "type": 3, "value": "wiki", "focused": True}


async def test_button_press_updates_the_message(server: DiscordServer, bot: Bot) -> None:
    shown = await server.slash("menu")
    await server.wait_answer(shown)
    message = shown.original
    assert message is not None and message["content"] == "Pick one"
    assert message["components"][0]["components"][0]["custom_id"] == "join"
    pressed = await server.press(message, "join", user=ADMIN)
    await server.wait_answer(pressed)
    assert pressed.response_type == 7
    assert server.messages[int(message["id"])]["content"] == "bruno joined"
    assert server.messages[int(message["id"])]["components"] == []
    assert bot.pressed == ["join"]


async def test_deferred_button_press_then_edit(server: DiscordServer, bot: Bot) -> None:
    shown = await server.slash("menu")
    await server.wait_answer(shown)
    pressed = await server.press(int(shown.original["id"]), "later")
    callback, edit = await server.wait_answer(pressed, 2)
    assert callback.json == {"type": 6} and callback.result["resource"] == {"type": 6}
    # @original of a component interaction is the message the button is on.
    assert edit.result["id"] == shown.original["id"]
    assert server.messages[int(shown.original["id"])]["content"] == "Saved for later"
    with pytest.raises(LookupError):
        await server.press(shown.original, "no-such-button")


async def test_ephemeral_answer_has_flag_64_and_is_not_dispatched(
    server: DiscordServer, bot: Bot
) -> None:
    record = await server.slash("organise", user=ADMIN)
    await server.wait_answer(record)
    assert record.response_data["flags"] & EPHEMERAL and record.ephemeral
    assert record.content == "Settings"
    assert bot.seen[-1].permissions.manage_guild
    assert int(record.original["id"]) not in server.messages
    await asyncio.sleep(0.02)
    assert not any(m.content == "Settings" for m in bot.messages)


async def test_defer_then_follow_ups_and_edit(server: DiscordServer, bot: Bot) -> None:
    record = await server.slash("report")
    callback, first, second, edit = await server.wait_answer(record, 4)
    assert callback.json == {"type": 5}
    assert (first.method, first.path) == ("POST", f"/webhooks/{APPLICATION_ID}/{record.token}")
    assert first.query["wait"] == "1" and first.json["content"] == "First"
    # The first follow-up fills the "thinking" message: same message, no longer loading.
    assert first.result["id"] == callback.result["resource"]["message"]["id"]
    assert first.result["flags"] & (1 << 7) == 0
    assert second.result["id"] != first.result["id"] and second.result["content"] == "Second"
    assert edit.method == "PATCH" and edit.path.endswith("/messages/@original")
    assert record.content == "First, edited" and [m["content"] for m in record.followups] == [
        "First, edited",
        "Second",
    ]


async def test_channel_message_with_the_same_nonce_is_created_once(
    server: DiscordServer, bot: Bot
) -> None:
    channel = bot.get_channel(CHANNEL_ID)
    first = await channel.send("Reminder: edit-a-thon at 18:00", nonce="outbox-1")
    again = await channel.send("Reminder: edit-a-thon at 18:00", nonce="outbox-1")
    other = await channel.send("Another one", nonce="outbox-2")
    assert again.id == first.id and other.id != first.id
    posts = server.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert len(posts) == 3 and all(call.json["enforce_nonce"] is True for call in posts)
    assert [m["content"] for m in server.channel_messages(CHANNEL_ID)] == [
        "Reminder: edit-a-thon at 18:00",
        "Another one",
    ]


async def test_files_arrive_as_multipart_with_payload_json(server: DiscordServer, bot: Bot) -> None:
    channel = bot.get_channel(CHANNEL_ID)
    sent = await channel.send("Agenda", file=discord.File(io.BytesIO(b"BEGIN:VCALENDAR"), "a.ics"))
    (call,) = server.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert call.json["content"] == "Agenda"
    assert [(f.filename, f.data) for f in call.files] == [("a.ics", b"BEGIN:VCALENDAR")]
    assert sent.attachments[0].filename == "a.ics" and sent.attachments[0].size == 15


async def test_direct_messages(server: DiscordServer, bot: Bot) -> None:
    user = await bot.fetch_user(DM_USER.id)
    channel = await user.create_dm()
    assert channel.id == dm_channel_id(DM_USER.id)
    (opened,) = server.calls_to("POST", "/users/@me/channels")
    assert opened.json == {"recipient_id": DM_USER.id}
    await channel.send("Welcome to CapX")
    assert server.channel_messages(channel.id)[0]["content"] == "Welcome to CapX"
    server.closed_dms.add(DM_USER.id)
    with pytest.raises(discord.Forbidden) as refused:
        await channel.send("Again")
    assert refused.value.code == 50007


async def test_slash_command_in_a_dm(server: DiscordServer, bot: Bot) -> None:
    await bot.tree.sync()  # global commands: the ones a DM can use
    record = await server.slash("find", {"skill": "Wikidata"}, user=DM_USER, guild=None)
    await server.wait_answer(record)
    assert record.content == "Looking for Wikidata"
    seen = bot.seen[-1]
    assert seen.guild is None and isinstance(seen.user, discord.User)
    assert isinstance(seen.channel, discord.DMChannel)
    assert "guild_id" not in record.payload["data"]
    # What Discord's client would not offer is refused rather than dispatched.
    with pytest.raises(LookupError):
        await server.slash("organise", user=DM_USER, guild=None)  # guild_only: contexts [0]
    with pytest.raises(PermissionError):
        await server.slash("organise", user=MEMBER)  # needs MANAGE_GUILD


async def test_scripted_failures(server: DiscordServer, bot: Bot) -> None:
    server.fail_next(Failure.unknown_interaction())
    record = await server.slash("find", {"skill": "Python"})
    (refused,) = await server.wait_calls(1, "POST", "/interactions/")
    assert refused.status == 404 and refused.result["code"] == 10062
    await until(lambda: bool(bot.errors))
    assert isinstance(bot.errors[-1].original, discord.NotFound)
    assert bot.errors[-1].original.code == 10062 and record.callback is None

    server.fail_next(Failure.rate_limited(0.05, "POST", f"/channels/{CHANNEL_ID}/messages"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.get_channel(CHANNEL_ID).send("After a 429")
    assert loop.time() - started >= 0.05
    limited, sent = server.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert limited.status == 429 and limited.result["retry_after"] == 0.05
    assert sent.status == 200


async def test_a_callback_after_the_deadline_is_an_unknown_interaction(
    server: DiscordServer, bot: Bot
) -> None:
    server.callback_deadline = 0.05
    record = await server.slash("slow")
    (late,) = await server.wait_calls(1, "POST", "/interactions/")
    assert late.status == 404 and record.callback is None
    await until(lambda: bool(bot.errors))
    assert bot.errors[-1].original.code == 10062


async def test_an_interaction_is_acknowledged_once(server: DiscordServer, bot: Bot) -> None:
    record = await server.slash("find", {"skill": "Python"})
    await server.wait_answer(record)
    interaction = bot.seen[-1]
    # A second callback (from a state discord.py no longer knows about) is refused.
    interaction.response._response_type = None
    with pytest.raises(discord.HTTPException) as refused:
        await interaction.response.send_message("Twice")
    assert refused.value.code == 40060


async def test_reconnect_resumes_the_session(server: DiscordServer, bot: Bot) -> None:
    (session,) = server.live_sessions
    await server.request_reconnect()
    await server.wait_for(lambda s: session.resumed == 1 and bool(s.live_sessions))
    assert server.connections[-1].path == "/gateway-resume"
    resume = next(frame.d for frame in server.received if frame.op == 6)
    assert resume["session_id"] == session.id
    record = await server.slash("find", {"skill": "Python"})
    await server.wait_answer(record)
    assert record.content == "Looking for Python"


async def test_message_content_without_the_intent(server: DiscordServer, bot: Bot) -> None:
    await server.say(MEMBER, "hello everyone")
    await server.say(MEMBER, f"<@{APPLICATION_ID}> hello", mentions=[BOT])
    await server.say(DM_USER, "hello in private", guild=None)
    await until(lambda: len(bot.messages) == 3)
    assert [m.content for m in bot.messages] == [
        "",
        f"<@{APPLICATION_ID}> hello",
        "hello in private",
    ]
    assert isinstance(bot.messages[2].channel, discord.DMChannel)


async def test_privileged_intents_are_refused(server: DiscordServer) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running(Bot(intents=intents)):
            pass


async def test_a_wrong_token_fails_login(server: DiscordServer) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running(Bot(), token="not-the-token"):
            pass


class BadPortuguese(app_commands.Translator):
    async def translate(self, string, locale, context):
        if locale is discord.Locale.brazil_portuguese and string.message == "find":
            return "Procurar Pessoas"  # capitals and a space: not a valid command name
        return None


async def test_an_invalid_tree_is_refused_with_discords_form_error(server: DiscordServer) -> None:
    bot = Bot(translator=BadPortuguese())
    try:
        await bot.login(TOKEN)
        bot.tree.copy_global_to(guild=discord.Object(GUILD_ID))
        with pytest.raises(app_commands.CommandSyncFailure) as refused:
            await bot.tree.sync(guild=discord.Object(GUILD_ID))
    finally:
        await bot.close()
    assert refused.value.code == 50035
    (put,) = server.calls_to("PUT")
    assert put.status == 400
    assert "APPLICATION_COMMAND_INVALID_NAME" in str(put.result["errors"])
    assert server.registered(GUILD_ID) == {}
