"""A local stand-in for the Telegram Bot API, for tests and benchmarks.

It speaks the real protocol to python-telegram-bot (``POST /bot<token>/<method>``, form or
multipart fields, nested objects as JSON strings, ``{"ok": ..., "result": ...}`` answers) and
implements what capx-bot calls, with Telegram's offset semantics for ``getUpdates``: an
update is dropped once a later call asks for an offset past it. Every call is recorded, and
failures (a 429 with ``retry_after``, a 403) can be scripted for the next matching call.

Flood limits are off unless asked for: ``overall_limit`` (all chats) and ``chat_limit`` (each
chat) make a message over either one answered as Telegram does, a 429 with ``retry_after``
(counted, by limit, in ``throttled``).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.local_server import serve_locally

BOT_ID = 7000001
BOT_USERNAME = "CapxTestBot"
JSON_FIELDS = {"reply_markup", "reply_parameters", "commands", "scope", "link_preview_options"}


@dataclass
class Call:
    method: str
    fields: dict[str, Any]
    token: str
    content_type: str
    """How its parameters came: ``application/json``, or a form."""
    result: Any = None
    """What the stand-in answered (the sent message), when it succeeded."""


@dataclass
class Failure:
    method: str
    error_code: int
    description: str
    chat_id: int | None = None
    parameters: dict[str, Any] | None = None


@dataclass(frozen=True)
class Limit:
    """A flood limit: ``rate`` messages a second, in bursts of at most ``burst`` (by default
    one second's worth). A bucket that drains ``rate`` a second and holds ``burst``: a message
    that would overflow it is refused, and counts for nothing. It is the reading of "so many
    a second" that python-telegram-bot's ``AIORateLimiter`` (aiolimiter) keeps to."""

    rate: float
    burst: float = 0

    @property
    def size(self) -> float:
        return max(self.burst or self.rate, 1)

    def floor(self, messages: int) -> float:
        """The fewest seconds in which ``messages`` can pass this limit, from an empty
        bucket."""
        return max(messages - self.size, 0) / self.rate


LIMITED = ("send", "edit", "copy", "forward")
"""What flood limits count: the methods that post a message in a chat."""


@dataclass
class BotApiServer:
    """The stand-in. Start it with :meth:`start`; ``url`` is the ``base_url`` for PTB."""

    tokens: set[str] = field(default_factory=lambda: {"42:test-token"})
    calls: list[Call] = field(default_factory=list)
    statuses: dict[tuple[int, int], str] = field(default_factory=dict)
    """getChatMember answers by (chat id, user id); ``member`` when absent."""
    failures: list[Failure] = field(default_factory=list)
    never_opened: set[int] = field(default_factory=set)
    """Users who have not opened a private chat with the bot: sending to them fails with
    Telegram's 403 until they write to it there."""
    counts: Counter[str] = field(default_factory=Counter)
    """Calls by method."""
    answered: Counter[str] = field(default_factory=Counter)
    """Calls by method that succeeded (each counted, and waiters woken, once answered)."""
    overall_limit: Limit | None = None
    """The flood limit over all chats; None for none."""
    chat_limit: Limit | None = None
    """The flood limit of each chat; None for none."""
    throttled: Counter[str] = field(default_factory=Counter)
    """Calls refused for a flood limit, by limit: ``overall`` or ``chat``."""
    answer_delay: float = 0
    """Seconds each call but getUpdates takes to be answered."""
    in_flight: int = 0
    most_in_flight: int = 0
    """The most calls but getUpdates under way at once."""
    connections: set[object] = field(default_factory=set)
    """The client ends of the connections calls but getUpdates came on."""
    url: str = ""
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _history: dict[int, dict[str, Any]] = field(default_factory=dict)
    _next_update_id: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: defaultdict[int, itertools.count] = field(
        default_factory=lambda: defaultdict(lambda: itertools.count(1))
    )
    _buckets: dict[object, tuple[float, float]] = field(default_factory=dict)
    """Each flood limit's bucket (overall, or a chat id): its level, and when it was read."""
    _changed: asyncio.Condition | None = None
    _closing: bool = False
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner, base = await serve_locally(app)
        self.url = f"{base}/bot"

    async def stop(self) -> None:
        """Release every waiting getUpdates, then stop serving."""
        self._closing = True
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the test's side ---------------------------------------------------------------------

    async def push(self, update: dict[str, Any]) -> int:
        """Queue an update (without ``update_id``: one is given); its id."""
        update = {"update_id": next(self._next_update_id), **update}
        chat = update.get("message", {}).get("chat", {})
        if chat.get("type") == "private":
            self.never_opened.discard(chat["id"])
        self._history[update["update_id"]] = update
        await self._queue(update)
        return update["update_id"]

    async def redeliver(self, update_id: int) -> None:
        """Offer an update again, as Telegram does when the bot stopped before a later
        getUpdates confirmed it."""
        await self._queue(self._history[update_id])

    async def _queue(self, update: dict[str, Any]) -> None:
        assert self._changed is not None
        async with self._changed:
            bisect.insort(self._updates, update, key=_update_id)
            self._changed.notify_all()

    def fail_next(self, failure: Failure) -> None:
        self.failures.append(failure)

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.method == method and (chat_id is None or int(call.fields["chat_id"]) == chat_id)
        ]

    async def wait_for(
        self, predicate: Callable[[BotApiServer], bool], timeout: float = 10
    ) -> None:
        """Wait until ``predicate(self)`` holds, checking after every call."""
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)

    async def wait_sent(self, count: int, method: str = "sendMessage", **kwargs) -> list[Call]:
        """The first ``count`` calls of ``method`` (to ``chat_id``), once they have come."""
        await self.wait_for(lambda server: len(server.sent(method, **kwargs)) >= count)
        return self.sent(method, **kwargs)[:count]

    # -- the bot's side ----------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        fields = await _fields(request)
        if token not in self.tokens:
            return _error(401, "Unauthorized")
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        call = Call(method, fields, token, request.content_type)
        if method == "getUpdates":
            return await self._answer(call, handler)
        await self._record(call)
        self.connections.add(request.transport and request.transport.get_extra_info("peername"))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.answer_delay)
            return await self._answer(call, handler)
        finally:
            self.in_flight -= 1

    async def _answer(self, call: Call, handler: Callable) -> web.Response:
        method, fields = call.method, call.fields
        over = self._over_limit(method, fields)
        if over is not None:
            limit, wait = over
            self.throttled[limit] += 1
            parameters = {"retry_after": wait}
            return _error(429, f"Too Many Requests: retry after {wait}", parameters)
        failure = self._take_failure(method, fields)
        if failure is not None:
            return _error(failure.error_code, failure.description, failure.parameters)
        call.result = await handler(fields)
        await self._answered(method)
        return web.json_response({"ok": True, "result": call.result})

    async def _answered(self, method: str) -> None:
        assert self._changed is not None
        async with self._changed:
            self.answered[method] += 1
            self._changed.notify_all()

    def _over_limit(self, method: str, fields: dict[str, Any]) -> tuple[str, int] | None:
        """None when the message fits the flood limits (and is counted against them), else
        the limit it is over and the whole seconds to wait, as Telegram's ``retry_after``
        says them."""
        chat = fields.get("chat_id")
        if not method.startswith(LIMITED) or chat is None:
            return None
        now = asyncio.get_running_loop().time()
        limits = [("overall", None, self.overall_limit), ("chat", str(chat), self.chat_limit)]
        levels = []
        for name, key, limit in limits:
            if limit is None:
                continue
            level, read_at = self._buckets.get(key, (0.0, now))
            level = max(level - (now - read_at) * limit.rate, 0.0)
            if level + 1 > limit.size:
                return name, max(math.ceil((level + 1 - limit.size) / limit.rate), 1)
            levels.append((key, level))
        for key, level in levels:
            self._buckets[key] = (level + 1, now)
        return None

    async def _record(self, call: Call) -> None:
        assert self._changed is not None
        async with self._changed:
            self.calls.append(call)
            self.counts[call.method] += 1
            self._changed.notify_all()

    def _take_failure(self, method: str, fields: dict[str, Any]) -> Failure | None:
        chat = fields.get("chat_id")
        if method.startswith("send") and chat and int(chat) in self.never_opened:
            forbidden = "Forbidden: bot can't initiate conversation with a user"
            return Failure(method, 403, forbidden)
        for failure in self.failures:
            if failure.method == method and failure.chat_id in (None, chat and int(chat)):
                self.failures.remove(failure)
                return failure
        return None

    async def _getMe(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "CapX",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _getUpdates(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        assert self._changed is not None
        offset = int(fields.get("offset") or 0)
        timeout = float(fields.get("timeout") or 0)
        async with self._changed:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            deadline = time.monotonic() + timeout
            while not self._updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
            return list(self._updates[:100])

    async def _sendMessage(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._message(fields, text=fields["text"])

    async def _sendDocument(self, fields: dict[str, Any]) -> dict[str, Any]:
        document = {"file_id": "f1", "file_unique_id": "u1"}
        caption = {"caption": fields["caption"]} if fields.get("caption") else {}
        return self._message(fields, document=document, **caption)

    def _message(self, fields: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(fields["chat_id"])
        message = {
            "message_id": next(self._message_ids[chat_id]),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "CapX"},
            **content,
        }
        if "reply_markup" in fields:
            message["reply_markup"] = fields["reply_markup"]
        if fields.get("message_thread_id"):
            message["message_thread_id"] = int(fields["message_thread_id"])
            message["is_topic_message"] = True
        return message

    async def _editMessageText(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._message(fields, text=fields["text"]) | {
            "message_id": int(fields["message_id"])
        }

    async def _getChatMember(self, fields: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(fields["chat_id"]), int(fields["user_id"])
        status = self.statuses.get((chat_id, user_id), "member")
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user_id, "is_bot": False, "first_name": "Someone"},
        }
        if status == "creator":
            member["is_anonymous"] = False
        if status == "administrator":
            member |= {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": True,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        return member

    async def _answerCallbackQuery(self, fields: dict[str, Any]) -> bool:
        return True

    async def _setMyCommands(self, fields: dict[str, Any]) -> bool:
        return True

    async def _deleteWebhook(self, fields: dict[str, Any]) -> bool:
        return True

    async def _setWebhook(self, fields: dict[str, Any]) -> bool:
        return True


def _update_id(update: dict[str, Any]) -> int:
    return update["update_id"]


async def _fields(request: web.Request) -> dict[str, Any]:
    """A call's parameters, sent as a JSON body or as a form (the Bot API takes both), in one
    shape: the objects of ``JSON_FIELDS`` decoded, every other value as the form carries it
    (a number or flag as its JSON text), an uploaded file as its name and bytes."""
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON body must be an object")
        return {
            name: value if name in JSON_FIELDS or isinstance(value, str) else json.dumps(value)
            for name, value in body.items()
        }
    fields: dict[str, Any] = {}
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            fields[name] = {"filename": value.filename, "data": value.file.read()}
        elif name in JSON_FIELDS:
            fields[name] = json.loads(value)
        else:
            fields[name] = value
    return fields


def _error(code: int, description: str, parameters: dict | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


# -- real update shapes ---------------------------------------------------------------------


@dataclass(frozen=True)
class TelegramUser:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


def private_chat(user: TelegramUser) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": user.id, "type": "private", "first_name": user.first_name}
    if user.username:
        chat["username"] = user.username
    return chat


GROUP_ANONYMOUS_BOT = TelegramUser(1087968824, "Group", "GroupAnonymousBot", None, is_bot=True)
"""The ``from`` of every anonymous admin's message, in every group."""
TELEGRAM_SERVICE = TelegramUser(777000, "Telegram", None, None)
"""The ``from`` of automatic forwards from a linked channel."""


def group_chat(
    chat_id: int, title: str, kind: str = "supergroup", *, forum: bool = False
) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": kind, "title": title}
    if forum:
        chat["is_forum"] = True
    return chat


def channel_chat(chat_id: int, title: str) -> dict[str, Any]:
    return {"id": chat_id, "type": "channel", "title": title}


_message_counter = itertools.count(1000)


def message(
    user: TelegramUser,
    text: str,
    chat: dict[str, Any] | None = None,
    *,
    topic: int | None = None,
    sender_chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``message`` update: ``text`` from ``user`` in ``chat`` (their private chat by
    default), with a ``bot_command`` entity when it starts with ``/``, as Telegram sends it;
    in forum topic ``topic``, and sent as ``sender_chat`` (an anonymous admin's group, a
    channel), when given."""
    body: dict[str, Any] = {
        "message_id": next(_message_counter),
        "from": user.json(),
        "chat": chat or private_chat(user),
        "date": int(time.time()),
        "text": text,
    }
    if topic is not None:
        body |= {"message_thread_id": topic, "is_topic_message": True}
    if sender_chat is not None:
        body["sender_chat"] = sender_chat
    if text.startswith("/"):
        word = text.split(maxsplit=1)[0]
        body["entities"] = [
            {"offset": 0, "length": len(word.encode("utf-16-le")) // 2, "type": "bot_command"}
        ]
    return {"message": body}


def press(user: TelegramUser, sent: Call, data: str) -> dict[str, Any]:
    """A ``callback_query`` update: ``user`` pressed the button with ``data`` on the message
    the bot sent in ``sent``."""
    chat_id = int(sent.fields["chat_id"])
    if chat_id > 0:
        chat = {"id": chat_id, "type": "private", "first_name": user.first_name}
    else:
        chat = group_chat(chat_id, "Group")
    held = {key: value for key, value in sent.result.items() if key not in ("chat", "from")}
    return {
        "callback_query": {
            "id": str(next(_message_counter)),
            "from": user.json(),
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                **held,
                "chat": chat,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "CapX"},
            },
        }
    }


def membership(user: TelegramUser, chat: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A ``my_chat_member`` update: ``user`` changed the bot's status in ``chat``."""
    bot = {"id": BOT_ID, "is_bot": True, "first_name": "CapX", "username": BOT_USERNAME}
    return {
        "my_chat_member": {
            "chat": chat,
            "from": user.json(),
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": bot},
            "new_chat_member": {"status": new, "user": bot},
        }
    }


def buttons(call: Call) -> list[tuple[str, str]]:
    """(label, callback data or url) of every button on a sent message."""
    markup = call.fields.get("reply_markup") or {}
    return [
        (button["text"], button.get("callback_data") or button.get("url", ""))
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]
