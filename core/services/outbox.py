"""The durable outbox: every message the bot sends on its own goes through it.

A message is queued (:func:`enqueue`) in the transaction of the change that caused it, under a
unique key, so that the same cause never queues it twice. The adapter of its platform claims
the due ones (:func:`claim`: a lease, taken over when a crashed sender never finishes; on
PostgreSQL ``FOR UPDATE SKIP LOCKED``, so that several processes never claim one message),
sends each, and records the outcome (:func:`record`). A message not delivered before it
expires is dropped, not sent late.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, update
from sqlmodel import Session, select

from core.types import (
    Later,
    Outcome,
    Outgoing,
    Reply,
    Sent,
    Target,
    replies_from_json,
    replies_to_json,
)
from storage.models import OutboxMessage, OutboxState

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(days=7)
"""How long a message waits for its target by default (a person who has not opened a chat)."""
LEASE = timedelta(seconds=60)
"""How long a claim holds before another sender may take the message over."""


def enqueue(
    session: Session, target: Target, reply: Reply, *, key: str, now: datetime, **options: Any
) -> bool:
    """Queue ``reply`` for ``target`` unless a message with ``key`` was queued before;
    whether it is new. ``options`` are those of :func:`new_message`."""
    if session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key[:255])).first():
        return False
    session.add(new_message(target, reply, key=key, now=now, **options))
    return True


def new_message(
    target: Target,
    reply: Reply,
    *,
    key: str,
    now: datetime,
    not_before: datetime | None = None,
    kept_for: timedelta = KEPT_FOR,
    held: bool = False,
    event_id: int | None = None,
) -> OutboxMessage:
    """The row :func:`enqueue` adds, for a caller that already knows ``key`` is new (the
    reminder planner, which reads an event's messages at once). A ``held`` message is never
    due by itself: only when its account is seen again (:func:`wake`), within ``kept_for``;
    ``event_id`` names the event a reminder is about."""
    return OutboxMessage(
        platform=target.platform,
        room_id=target.room_id,
        account_id=target.account_id,
        thread_id=target.thread_id,
        content=replies_to_json([reply]),
        dedupe_key=key[:255],
        not_before=(now + kept_for) if held else (not_before or now),
        expires_at=(not_before or now) + kept_for,
        created_at=now,
        event_id=event_id,
    )


def claim(
    session: Session,
    platform: str,
    now: datetime,
    limit: int = 20,
    only: Target | None = None,
    lease: timedelta = LEASE,
) -> list[Outgoing]:
    """Up to ``limit`` due messages for ``platform`` (only those for the account or the room
    of ``only``, when given), oldest first, leased to the caller. Pending messages past their
    expiry become expired on the way."""
    expired = (
        OutboxMessage.platform == platform,
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.expires_at <= now,
    )
    if session.exec(select(OutboxMessage.id).where(*expired).limit(1)).first() is not None:
        dropped = session.execute(
            update(OutboxMessage)
            .where(*expired)
            .values(state=OutboxState.EXPIRED, lease_until=None)
        )
        log.warning("%s: %d messages expired unsent (dropped)", platform, dropped.rowcount)
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    if only is not None and only.account_id is not None:
        query = query.where(OutboxMessage.account_id == only.account_id)
    elif only is not None:
        query = query.where(OutboxMessage.room_id == only.room_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for message in session.exec(query):
        message.lease_until = now + lease
        message.attempts += 1
        [reply] = replies_from_json(message.content)
        target = Target(message.platform, message.room_id, message.account_id, message.thread_id)
        claimed.append(Outgoing(message.id or 0, target, reply, f"capx-outbox-{message.id}"))
    return claimed


def record(session: Session, message_id: int, outcome: Outcome, now: datetime) -> None:
    """What became of a claimed message: sent (with the platform's message id), unreachable
    (never tried again), or to be tried again later."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return  # withdrawn meanwhile (forget)
    message.lease_until = None
    match outcome:
        case Sent(message_id=platform_id):
            message.state, message.sent_at = OutboxState.SENT, now
            message.message_id = platform_id[:255] or None
        case Later(seconds=seconds):
            message.not_before = now + timedelta(seconds=seconds)
        case _:
            message.state = OutboxState.UNREACHABLE


def _waiting_for_account() -> tuple[ColumnElement[bool], ...]:
    """Pending messages for the account ``:actor_platform`` / ``:actor_account`` held until
    later than ``:now``."""
    return (
        OutboxMessage.platform == bindparam("actor_platform"),
        OutboxMessage.account_id == bindparam("actor_account"),
        OutboxMessage.state == OutboxState.PENDING,
        OutboxMessage.not_before > bindparam("now"),
    )


WAITING = exists().where(*_waiting_for_account())
"""SQL: something waits for the account (see :func:`wake`); its parameters are
``actor_platform``, ``actor_account`` and ``now``."""
_WAKE = update(OutboxMessage).where(*_waiting_for_account()).values(not_before=bindparam("now"))


def wake(session: Session, platform: str, account_id: str, now: datetime) -> None:
    """The account was just seen: what waits for it (:data:`WAITING`) is due now."""
    session.connection().execute(
        _WAKE, {"actor_platform": platform, "actor_account": account_id, "now": now}
    )


def of_accounts(session: Session, accounts: list[tuple[str, str]]) -> list[OutboxMessage]:
    """The messages for these (platform, account id) pairs, for ``mydata`` and ``forget``."""
    if not accounts:
        return []
    wanted = or_(
        *(
            and_(OutboxMessage.platform == platform, OutboxMessage.account_id == account)
            for platform, account in accounts
        )
    )
    return list(session.exec(select(OutboxMessage).where(wanted).order_by(OutboxMessage.id)))
