"""The Telegram adapter: python-telegram-bot in front of the core.

Updates arrive by long polling (the default) or by webhook. Each one is handled to the end
(the core's transaction, the replies sent) before its id is saved as the next offset in our
database, so a restart neither repeats nor loses an update. No decision about capacities or
profiles is made here: commands go to the core, replies come back as structure and are
rendered as Telegram HTML with inline buttons.

Who speaks: a person is their Telegram user id. A message with ``sender_chat`` (an anonymous
group admin posting as the group, someone posting as a channel) is no person: its actor is
anonymous, with the account id ``chat:<id of that chat>``, and a room admin only when that
chat is the group itself. Automatic forwards from a linked channel are ignored.

Buttons: ``c:<line>`` runs a look-up line as if the presser typed it; ``b:<token>`` hands the
core the token of a button it keeps (it checks who may press it, and whether it expired).
Answers to a press go to the chat and forum topic of the message holding the button; the
core's ephemeral answer (not yours, expired) is the press's alert, for the presser alone.
Private answers the bot may not deliver yet wait in the outbox until the person opens a chat.

Nothing a person wrote reaches a log: failures are logged as their type and place
(:func:`core.logs.describe`), Telegram's refusals with anything quoted in them blanked.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    CallbackQuery,
    Chat,
    ChatMember,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, ExtBot

from adapters import render
from adapters.base import AdapterStopped, Backoff, Kept
from adapters.telegram import messages
from adapters.telegram.menus import menus
from adapters.telegram.request import PooledRequest
from core.dispatch import Core
from core.i18n import Translator, negotiate
from core.logs import describe
from core.parsing import split_command_line
from core.types import (
    Actor,
    Button,
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

PLATFORM = "telegram"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
IN_CHAT = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
ROOM_ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_IN_FLIGHT = 16
"""Updates handled at once (each chat's in order)."""
SENDS_IN_FLIGHT = 8
"""Bot API calls at once, each on a connection kept alive: Telegram's 30 messages a second
with round trips of up to a quarter of a second."""
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
RETRY_SECONDS = 30.0
NOT_STARTED = "can't initiate conversation"
"""What Telegram says to a bot writing first to someone who never opened a chat with it."""
NOT_STARTED_RETRY = 3600.0
"""Such a message waits for the person to be seen again (or an hour)."""
"""How long a message the network kept from Telegram waits before it is tried again."""
HELD_PAYLOAD = "answers"
"""The deep link's payload: it carries no command and no secret; the person's ``/start``
is what delivers what waits for them."""
NOT_PERSONS = {1087968824, 777000}
"""Telegram's GroupAnonymousBot and its service account (automatic forwards): shared by many
senders, so never one person."""
_QUOTED = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class TelegramSettings:
    """The ``[telegram]`` section of the configuration, with the secrets read from the
    environment variables it names."""

    token: str = field(repr=False)
    token_env: str = "CAPX_TELEGRAM_TOKEN"
    api_url: str = "https://api.telegram.org/bot"
    mode: str = "polling"
    """``polling`` or ``webhook``."""
    poll_timeout: int = 30
    webhook_url: str = ""
    """The public HTTPS address Telegram posts updates to."""
    webhook_listen: str = "127.0.0.1:8081"
    webhook_secret: str = field(default="", repr=False)
    overall_max_rate: float = 30
    """Messages a second to all chats; 0 lifts the limit (benchmarks only)."""
    group_max_rate: float = 20
    """Messages a minute to one group; 0 lifts the limit (benchmarks only)."""
    admin_cache_seconds: float = 60

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], environ: Mapping[str, str]
    ) -> TelegramSettings:
        token_env = str(section.get("token_env", cls.token_env))
        secret_env = str(section.get("webhook_secret_env", "CAPX_TELEGRAM_WEBHOOK_SECRET"))
        return cls(
            token=environ.get(token_env, "").strip(),
            token_env=token_env,
            api_url=str(section.get("api_url", cls.api_url)),
            mode=str(section.get("mode", cls.mode)),
            poll_timeout=int(section.get("poll_timeout", cls.poll_timeout)),
            webhook_url=str(section.get("webhook_url", "")),
            webhook_listen=str(section.get("webhook_listen", cls.webhook_listen)),
            webhook_secret=environ.get(secret_env, "").strip(),
        )


class _Bot(ExtBot[None]):
    """An ExtBot that also fetches updates as plain JSON, so that one update it cannot parse
    is skipped instead of failing every batch after it."""

    async def get_update_dicts(self, *, offset: int | None, timeout: int) -> list[Any]:
        data = {"offset": offset, "timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        result = await self._post("getUpdates", data, read_timeout=timeout + 10)
        return result if isinstance(result, list) else []


@dataclass
class _Origin:
    """Where a command came from, and so where its public answers go; ``user_id`` is the
    person's private chat, None for an anonymous sender (who has none: their private answers
    stay in place)."""

    chat_id: int
    user_id: int | None
    is_direct: bool
    message_id: int | None = None
    thread_id: int | None = None


class TelegramAdapter:
    """One bot account served until :meth:`run` is cancelled; state that must outlive a
    restart (the offset, buttons, held answers) is in the database, the rest (admin checks,
    pages of long lists) in memory."""

    name = PLATFORM

    def __init__(self, core: Core, settings: TelegramSettings) -> None:
        self.core = core
        self.settings = settings
        self.bot: _Bot | None = None
        self.username = ""
        self._seen = 0
        """The highest update id taken in; anything at or below it is not taken again."""
        self._saved = 0
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._last_of_chat: dict[int, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._admins: Kept[tuple[int, int], bool] = Kept(4096, settings.admin_cache_seconds)
        self._pages: Kept[tuple[int, int], list[str]] = Kept(1024, render.PAGES_KEPT_FOR)
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    async def send(self, target: Target, reply: Reply, *, key: str) -> Outcome:
        """Telegram has no idempotency key: a crash between the send and its record is the
        only window for a duplicate."""
        chat = target.account_id or target.room_id or ""
        if not chat.lstrip("-").isdigit():
            return Unreachable("not a Telegram chat")
        thread = int(target.thread_id) if target.thread_id and target.thread_id.isdigit() else None
        return await self._send(int(chat), reply, thread_id=thread)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve Telegram until cancelled; :class:`AdapterStopped` for a missing or rejected
        token, or a webhook without its secret."""
        settings = self.settings
        if not settings.token:
            raise AdapterStopped(f"no bot token: set the environment variable {settings.token_env}")
        if settings.mode not in ("polling", "webhook"):
            raise AdapterStopped(f"unknown mode {settings.mode!r}: use polling or webhook")
        if settings.mode == "webhook" and not (settings.webhook_url and settings.webhook_secret):
            raise AdapterStopped("webhook mode needs webhook_url and a webhook secret")
        requests = (PooledRequest(SENDS_IN_FLIGHT), PooledRequest(1))
        self.bot = _Bot(
            settings.token,
            base_url=settings.api_url,
            request=requests[0],
            get_updates_request=requests[1],
            rate_limiter=AIORateLimiter(
                overall_max_rate=settings.overall_max_rate,
                group_max_rate=settings.group_max_rate,
                max_retries=3,
            ),
        )
        try:
            await self.bot.initialize()
        except BaseException as error:
            for request in requests:  # PTB shuts down only a bot whose start succeeded
                await request.shutdown()
            if isinstance(error, InvalidToken):
                message = f"Telegram rejected the bot token in {settings.token_env}"
                raise AdapterStopped(message) from None
            raise
        try:
            self.username = self.bot.username
            stored = await self.core.in_database(chats.read_cursor, self._cursor_key)
            self._saved = int(stored) if stored else 0
            self._seen = self._saved - 1
            await self._set_menus()
            self._ready = True
            if settings.mode == "webhook":
                await self._serve_webhook()
            else:
                await self.bot.delete_webhook()
                await self._poll()
        finally:
            self._ready = False
            await self._finish_in_flight()
            await self.bot.shutdown()

    @property
    def _cursor_key(self) -> str:
        assert self.bot is not None
        return f"telegram:{self.bot.id}:offset"

    async def _set_menus(self) -> None:
        assert self.bot is not None
        for menu in menus(self.core.registry):
            try:
                await self.bot.set_my_commands(
                    menu.commands, scope=menu.scope, language_code=menu.language_code
                )
            except TelegramError as error:
                log.warning(
                    "could not set the %s command menu: %s", menu.language_code, _told(error)
                )

    async def _poll(self) -> None:
        assert self.bot is not None
        backoff = Backoff(cap=60)
        while True:
            try:
                batch = await self.bot.get_update_dicts(
                    offset=self._seen + 1 if self._seen >= 0 else None,
                    timeout=self.settings.poll_timeout,
                )
            except InvalidToken:
                raise AdapterStopped(
                    f"Telegram no longer accepts the bot token in {self.settings.token_env}"
                ) from None
            except TelegramError as error:
                delay = backoff.next_delay()
                log.warning("getUpdates failed (%s); trying again in %.0f s", _told(error), delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            for data in batch:
                await self._take(data)
            await self._finish_in_flight()

    async def _serve_webhook(self) -> None:
        assert self.bot is not None
        host, _, port = self.settings.webhook_listen.rpartition(":")
        path = "/" + self.settings.webhook_url.split("://", 1)[-1].partition("/")[2]
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(path, self._on_webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host or "127.0.0.1", int(port)).start()
            await self.bot.set_webhook(
                self.settings.webhook_url,
                secret_token=self.settings.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    async def _on_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.settings.webhook_secret.encode()):
            return web.Response(status=403)
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400)
        task = await self._take(data)
        if task is not None:
            await asyncio.shield(task)
        return web.Response()

    async def _take(self, data: Any) -> asyncio.Task[None] | None:
        """Start handling one update (as JSON): after the earlier updates of its chat, beside
        those of other chats. None when it is skipped: taken before (a webhook delivered
        twice), or unreadable."""
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or update_id <= self._seen:
            return None
        self._seen = update_id
        try:
            update = Update.de_json(data, self.bot)
        except Exception:
            log.warning("skipped update %d: Telegram sent a shape I cannot read", update_id)
            await self._save_offset()
            return None
        await self._slots.acquire()
        chat = update.effective_chat.id if update.effective_chat else 0
        task = asyncio.create_task(self._handle(update, self._last_of_chat.get(chat)))
        self._in_flight[update_id] = self._last_of_chat[chat] = task
        task.add_done_callback(lambda _: self._forget(update_id, chat, task))
        return task

    async def _handle(self, update: Update, after: asyncio.Task[None] | None) -> None:
        if after is not None:
            await asyncio.wait([after])
        try:
            await self._on_update(update)
        except Exception as error:
            log.error("update %d failed: %s", update.update_id, describe(error))

    def _forget(self, update_id: int, chat: int, task: asyncio.Task[None]) -> None:
        self._slots.release()
        del self._in_flight[update_id]
        if self._last_of_chat.get(chat) is task:
            del self._last_of_chat[chat]

    async def _finish_in_flight(self) -> None:
        """Wait for every update taken in, then save the offset past them; even when the
        adapter is being stopped, so that a restart does not handle them again."""
        while self._in_flight:
            await asyncio.wait(list(self._in_flight.values()))
        await self._save_offset()

    async def _save_offset(self) -> None:
        """Save the id of the first update not yet handled, when it has moved on."""
        offset = min(self._in_flight, default=self._seen + 1)
        if offset > self._saved:
            self._saved = offset
            key, now = self._cursor_key, self.core.clock()
            await self.core.in_database(chats.write_cursor, key, str(offset), now)

    # -- updates ---------------------------------------------------------------------------

    async def _on_update(self, update: Update) -> None:
        if update.my_chat_member:
            await self._on_membership(update.my_chat_member)
        elif update.callback_query:
            await self._on_press(update.callback_query)
        elif update.message:
            await self._on_message(update.message, update.update_id)

    async def _on_message(self, message: Message, update_id: int) -> None:
        chat = message.chat
        if message.migrate_to_chat_id:
            await self._move_room(chat.id, message.migrate_to_chat_id)
            return
        if message.migrate_from_chat_id:
            await self._move_room(message.migrate_from_chat_id, chat.id)
            return
        user = message.from_user
        if user is None or message.is_automatic_forward:
            return  # a channel's post, or its copy in the channel's discussion group
        if user.is_bot and message.sender_chat is None:
            return  # another bot (anonymous senders come as bots, with a sender chat)
        direct = chat.type == ChatType.PRIVATE
        text = message.text or ""
        entity = (message.entities or (None,))[0]
        if entity is not None and entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            word = message.parse_entity(entity)
            name, _, addressee = word[1:].partition("@")
            if addressee and addressee.lower() != self.username.lower():
                return
            if not direct and not addressee and self.core.registry.get(name) is None:
                return  # perhaps another bot's command
            line = f"{name} {text[len(word) :]}"
        elif direct and text:
            line = text
        else:
            if direct:
                await self._hint(chat.id, user)
            return
        command, arguments = split_command_line(line)
        actor = await self._actor(user, chat, message)
        origin = _Origin(
            chat.id,
            None if actor.is_anonymous else user.id,
            direct,
            message.message_id,
            message.message_thread_id if message.is_topic_message else None,
        )
        incoming = _incoming(actor, chat, origin, str(update_id), command, arguments)
        await self._deliver(await self.core.handle_async(incoming), origin)

    async def _on_press(self, query: CallbackQuery) -> None:
        """A button pressed: a page turned here, anything else run by the core. The query is
        answered once, after the core has answered: with the core's ephemeral reply as an
        alert for the presser alone, when there is one. The other answers go to the chat of
        the message holding the button, in its forum topic, in reply to it in a group."""
        data = query.data or ""
        holder = query.message  # inaccessible (no text, no topic) when older than 48 hours
        if data.startswith(messages.PAGE) and isinstance(holder, Message):
            await self._turn_page(query, holder, data)
            return
        if holder is None or not data.startswith((messages.RUN, messages.BOUND)):
            await self._answer(query, None if data == messages.NOTHING else _expired(query))
            return
        chat, user = holder.chat, query.from_user
        direct = chat.type == ChatType.PRIVATE
        in_topic = isinstance(holder, Message) and holder.is_topic_message
        topic = holder.message_thread_id if isinstance(holder, Message) and in_topic else None
        origin = _Origin(chat.id, user.id, direct, None if direct else holder.message_id, topic)
        event = f"press:{query.id}"
        replies: list[Reply] = []
        try:
            actor = await self._actor(user, chat, None)
            if data.startswith(messages.BOUND):
                pressed = data.removeprefix(messages.BOUND)
                incoming = _incoming(actor, chat, origin, event, pressed=pressed)
            else:
                line = split_command_line(data.removeprefix(messages.RUN))
                incoming = _incoming(actor, chat, origin, event, *line)
            replies = await self.core.handle_async(incoming)
        finally:
            alert = next((reply for reply in replies if reply.ephemeral), None)
            await self._answer(query, messages.alert(alert) if alert else None, alert=True)
        await self._deliver([reply for reply in replies if reply is not alert], origin)

    async def _turn_page(self, query: CallbackQuery, message: Message, data: str) -> None:
        assert self.bot is not None
        paged = self._pages.get((message.chat.id, message.message_id))
        number = data.removeprefix(messages.PAGE)
        if paged is None or not number.isdigit() or int(number) >= len(paged):
            await self._answer(query, _expired(query))
            return
        page = int(number)
        await self._answer(query, None)
        markup = _markup(message.reply_markup, messages.page_buttons(page, len(paged)))
        try:
            await self.bot.edit_message_text(
                paged[page],
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=markup,
            )
        except TelegramError as error:
            log.info("could not turn a page in chat %s: %s", message.chat.id, _told(error))

    async def _answer(self, query: CallbackQuery, text: str | None, alert: bool = False) -> None:
        """Answer ``query`` (Telegram wants each press answered once): ``text`` as a toast,
        or as an alert when ``alert``; nothing shown without text."""
        try:
            await query.answer(text, show_alert=bool(text) and alert)
        except TelegramError as error:
            log.info("could not answer a button press: %s", _told(error))

    async def _on_membership(self, change: ChatMemberUpdated) -> None:
        chat = change.chat
        was_in = _in_chat(change.old_chat_member)
        is_in = _in_chat(change.new_chat_member)
        if is_in:
            await self.core.in_database(chats.mark_reachable, PLATFORM, str(chat.id))
        elif was_in or change.new_chat_member.status == ChatMemberStatus.BANNED:
            await self._unreachable(chat.id, "left" if chat.type != ChatType.PRIVATE else "blocked")
        if is_in and not was_in and chat.type != ChatType.PRIVATE:
            conversation = Conversation(PLATFORM, str(chat.id), is_direct=False, title=chat.title)
            reply = await self.core.welcome(conversation, change.from_user.language_code)
            await self._send(chat.id, reply)

    async def _move_room(self, old_id: int, new_id: int) -> None:
        await self.core.in_database(chats.move_room, PLATFORM, str(old_id), str(new_id))

    async def _hint(self, chat_id: int, user: User) -> None:
        t = Translator(negotiate([user.language_code]))
        hint = t("I read text commands only. Send /help to see them.")
        await self._send(chat_id, Reply(paragraphs=(hint,), locale=t.locale))

    # -- the core --------------------------------------------------------------------------

    async def _actor(self, user: User, chat: Chat, message: Message | None) -> Actor:
        """Who sent ``message`` (or pressed a button, without one): the person ``user``, or,
        for a message sent as a chat, an anonymous actor named after that chat."""
        sender = message.sender_chat if message is not None else None
        if sender is not None or user.id in NOT_PERSONS:
            source = sender or chat
            return Actor(
                platform=PLATFORM,
                account_id=f"chat:{source.id}",
                display_name=source.effective_name or "",
                locale_hint=user.language_code,
                is_room_admin=sender is not None and sender.id == chat.id,
                is_anonymous=True,
            )
        return Actor(
            platform=PLATFORM,
            account_id=str(user.id),
            display_name=user.full_name,
            handle=f"@{user.username}" if user.username else None,
            locale_hint=user.language_code,
            is_room_admin=await self._is_room_admin(chat, user),
        )

    async def _is_room_admin(self, chat: Chat, user: User) -> bool:
        """In a private chat, the person is its admin; in a group, Telegram says (cached)."""
        if chat.type == ChatType.PRIVATE:
            return True
        known = self._admins.get((chat.id, user.id))
        if known is None:
            assert self.bot is not None
            try:
                member = await self.bot.get_chat_member(chat.id, user.id)
            except TelegramError as error:
                log.info("could not check admins of chat %s: %s", chat.id, _told(error))
                return False
            known = member.status in ROOM_ADMINS
            self._admins.put((chat.id, user.id), known)
        return known

    # -- sending ---------------------------------------------------------------------------

    async def _deliver(self, replies: list[Reply], origin: _Origin) -> None:
        """Send each reply where it belongs. In a group, the notice that answers went private
        gets a button to the private chat; when they could not go (the person never opened a
        chat with the bot), the core keeps them in the outbox until the person is next seen,
        which the button's deep link (``/start``) makes happen."""
        held: list[Reply] = []
        notices: list[Reply] = []
        for reply in replies:
            if reply.private_notice:
                notices.append(reply)
            elif reply.private and not origin.is_direct and origin.user_id is not None:
                if not isinstance(await self._send(origin.user_id, reply), Sent):
                    held.append(reply)
            else:
                await self._send(
                    origin.chat_id, reply, reply_to=origin.message_id, thread_id=origin.thread_id
                )
        for notice in notices if origin.user_id is not None else ():
            await self._send_notice(notice, origin, held)

    async def _send_notice(self, notice: Reply, origin: _Origin, held: list[Reply]) -> None:
        t = Translator(notice.locale)
        if held and origin.user_id is not None:
            person = Target(PLATFORM, account_id=str(origin.user_id))
            await self.core.hold(person, held, uuid.uuid4().hex)
            text = t("I cannot write to you privately yet. Open a chat with me to get my answer.")
            notice = Reply(paragraphs=(text,), locale=notice.locale)
            link = f"https://t.me/{self.username}?start={HELD_PAYLOAD}"
        else:
            link = f"https://t.me/{self.username}"
        button = InlineKeyboardButton(t("Open the private chat"), url=link)
        await self._send(
            origin.chat_id,
            notice,
            reply_to=origin.message_id,
            thread_id=origin.thread_id,
            extra_row=[button],
        )

    async def _send(
        self,
        chat_id: int,
        reply: Reply,
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
        extra_row: list[InlineKeyboardButton] | None = None,
    ) -> Outcome:
        """Send one reply to ``chat_id`` (in forum topic ``thread_id``): long text split, long
        lists paged, choices as buttons, the attachment as a document; a reply with an
        attachment whose text would need several messages goes as the document alone, with
        its first line as the caption. A chat that cannot be reached is recorded, and the
        outcome says so; so does one to try again later (a rate limit, a network error)."""
        assert self.bot is not None
        paged = messages.pages(reply)
        texts = paged[:1] if len(paged) > 1 else messages.split_html(paged[0])
        choices = [[button] for button in map(_choice, reply.buttons) if button is not None]
        navigation = messages.page_buttons(0, len(paged)) if len(paged) > 1 else []
        rows = [*choices, *([_buttons(navigation)] if navigation else []), extra_row or []]
        markup = InlineKeyboardMarkup([row for row in rows if row]) if any(rows) else None
        answering = (
            ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        )
        attachment = reply.attachment
        try:
            if attachment is not None and len(texts) > 1:
                document = await self.bot.send_document(
                    chat_id,
                    InputFile(attachment.data, filename=attachment.filename),
                    caption=messages.caption(reply),
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread_id,
                    reply_parameters=answering,
                    reply_markup=markup,
                )
                return Sent(str(document.message_id))
            for n, text in enumerate(texts):
                sent = await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                    message_thread_id=thread_id,
                    reply_parameters=answering if n == 0 else None,
                    reply_markup=markup if n == len(texts) - 1 else None,
                )
            if len(paged) > 1:
                self._pages.put((chat_id, sent.message_id), paged)
            if attachment is not None:
                document = InputFile(attachment.data, filename=attachment.filename)
                await self.bot.send_document(chat_id, document, message_thread_id=thread_id)
        except ChatMigrated as moved:
            await self._move_room(chat_id, moved.new_chat_id)
            return await self._send(moved.new_chat_id, reply, extra_row=extra_row)
        except Forbidden as error:
            if NOT_STARTED in error.message.lower():
                return Later(NOT_STARTED_RETRY, "never opened a chat")  # sent when next seen
            await self._unreachable(chat_id, "forbidden")
            return Unreachable("forbidden")
        except BadRequest as error:
            if "chat not found" in error.message.lower():
                await self._unreachable(chat_id, "chat not found")
                return Unreachable("chat not found")
            log.warning("Telegram refused a message to chat %s: %s", chat_id, _told(error))
            return Unreachable("refused")
        except RetryAfter as error:
            return Later(_seconds(error.retry_after), "rate limit")
        except NetworkError as error:
            log.warning("could not send to chat %s: %s", chat_id, _told(error))
            return Later(RETRY_SECONDS, "network")
        return Sent(str(sent.message_id))

    async def _unreachable(self, chat_id: int, reason: str) -> None:
        record = chats.mark_unreachable
        if await self.core.in_database(record, PLATFORM, str(chat_id), reason, self.core.clock()):
            log.info("chat %s cannot be reached (%s); recorded", chat_id, reason)


def _seconds(retry_after: float | timedelta) -> float:
    """Telegram's ``retry_after`` in seconds (python-telegram-bot gives a number or, soon, a
    timedelta)."""
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


def _incoming(
    actor: Actor,
    chat: Chat,
    origin: _Origin,
    event: str,
    command: str = "",
    arguments: str = "",
    pressed: str | None = None,
) -> Incoming:
    """What the core gets: ``command`` and ``arguments``, or the token of a ``pressed``
    button, said by ``actor`` in ``chat`` (in ``origin``'s forum topic)."""
    conversation = Conversation(
        PLATFORM,
        str(chat.id),
        is_direct=origin.is_direct,
        thread_id=str(origin.thread_id) if origin.thread_id else None,
        title=chat.title,
    )
    return Incoming(actor, conversation, command, arguments, event_id=event, pressed=pressed)


def _choice(button: Button) -> InlineKeyboardButton | None:
    """``button`` as an inline button; None (and a log line) for one whose data cannot fit."""
    data = messages.button_data(button)
    if data is None:
        log.warning(
            "left out a button whose callback data is over %d bytes", messages.CALLBACK_LIMIT
        )
        return None
    return InlineKeyboardButton(button.label, callback_data=data)


def _expired(query: CallbackQuery) -> str:
    t = Translator(negotiate([query.from_user.language_code]))
    return t("This button has expired. Please send the command again.")


def _told(error: TelegramError) -> str:
    """What Telegram said, for a log line: anything it quoted (a piece of our text) blanked."""
    said = _QUOTED.sub('"…"', error.message)
    return f"{type(error).__name__}: {said}"


def _in_chat(member: ChatMember) -> bool:
    return member.status in IN_CHAT or (
        member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False))
    )


def _buttons(row: list[tuple[str, str]]) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(label, callback_data=data) for label, data in row]


def _is_page_row(row: tuple[InlineKeyboardButton, ...]) -> bool:
    return any((b.callback_data or "").startswith((messages.PAGE, messages.NOTHING)) for b in row)


def _markup(
    current: InlineKeyboardMarkup | None, navigation: list[tuple[str, str]]
) -> InlineKeyboardMarkup:
    """``current``'s buttons with its page row replaced by ``navigation``."""
    rows = current.inline_keyboard if current else ((),)
    return InlineKeyboardMarkup(
        [_buttons(navigation) if _is_page_row(row) or not row else list(row) for row in rows]
    )
