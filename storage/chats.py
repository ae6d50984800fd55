"""What adapters keep about the platforms' chats: sync cursors, rooms that moved, chats that
cannot be reached, and rooms known to be private. Each function works inside the caller's
session (one transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, select

from storage.models import DirectRoom, Need, Room, SyncState, UnreachableChat


def read_cursor(session: Session, key: str) -> str | None:
    """The cursor saved under ``key`` (a Telegram offset, a Matrix ``next_batch``), if any."""
    state = session.get(SyncState, key)
    return state.value if state else None


def write_cursor(session: Session, key: str, value: str, now: datetime) -> None:
    state = session.get(SyncState, key) or SyncState(key=key, value=value)
    state.value = value
    state.updated_at = now
    session.add(state)


def drop_cursor(session: Session, key: str) -> None:
    session.execute(delete(SyncState).where(SyncState.key == key))


def move_room(session: Session, platform: str, old_id: str, new_id: str) -> None:
    """Carry a room's settings and needs over to its new id (a Telegram group that became a
    supergroup). Safe to repeat: a move already made changes nothing."""
    old = room(session, platform, old_id)
    if old is not None:
        new = room(session, platform, new_id)
        if new is None:
            old.room_id = new_id
            session.add(old)
        else:
            new.locale = new.locale or old.locale
            new.timezone = new.timezone or old.timezone
            session.delete(old)
    session.execute(
        update(Need).where(Need.platform == platform, Need.room_id == old_id).values(room_id=new_id)
    )


def room(session: Session, platform: str, room_id: str) -> Room | None:
    """The settings of a room, if it has any."""
    query = select(Room).where(Room.platform == platform, Room.room_id == room_id)
    return session.exec(query).first()


def ensure_room(session: Session, platform: str, room_id: str, title: str | None) -> Room:
    """The settings of a room, made when missing."""
    found = room(session, platform, room_id)
    if found is None:
        found = Room(platform=platform, room_id=room_id, title=title and title[:255])
        session.add(found)
        session.flush()
    return found


def mark_unreachable(
    session: Session, platform: str, chat_id: str, reason: str, now: datetime
) -> bool:
    """Record that ``chat_id`` cannot be reached; whether this is news (not yet recorded)."""
    known = session.exec(
        select(UnreachableChat).where(
            UnreachableChat.platform == platform, UnreachableChat.chat_id == chat_id
        )
    ).first()
    if known is not None:
        return False
    session.add(UnreachableChat(platform=platform, chat_id=chat_id, reason=reason[:64], since=now))
    return True


def mark_reachable(session: Session, platform: str, chat_id: str) -> None:
    """Forget that ``chat_id`` was unreachable (the person unblocked the bot, the group took it
    back)."""
    session.execute(
        delete(UnreachableChat).where(
            UnreachableChat.platform == platform, UnreachableChat.chat_id == chat_id
        )
    )


def add_direct_room(
    session: Session, platform: str, room_id: str, account_id: str, now: datetime
) -> None:
    """Record ``room_id`` as private to the bot and ``account_id`` (a room the bot made for
    them, or one they made as direct and proved private). Safe to repeat."""
    known = session.exec(
        select(DirectRoom).where(DirectRoom.platform == platform, DirectRoom.room_id == room_id)
    ).first()
    if known is None:
        session.add(
            DirectRoom(platform=platform, room_id=room_id, account_id=account_id, created_at=now)
        )
    elif known.account_id != account_id:
        raise ValueError("a direct room belongs to one account")


def direct_room_account(session: Session, platform: str, room_id: str) -> str | None:
    """The account ``room_id`` was recorded as private to, if any."""
    known = session.exec(
        select(DirectRoom).where(DirectRoom.platform == platform, DirectRoom.room_id == room_id)
    ).first()
    return known.account_id if known else None


def direct_rooms_of(session: Session, platform: str, account_id: str) -> list[str]:
    """The rooms recorded as private to ``account_id``, oldest first."""
    query = select(DirectRoom.room_id).where(
        DirectRoom.platform == platform, DirectRoom.account_id == account_id
    )
    return list(session.exec(query.order_by(DirectRoom.id)))


def remove_direct_room(session: Session, platform: str, room_id: str) -> None:
    """Forget that ``room_id`` is private (someone else joined, the person left)."""
    session.execute(
        delete(DirectRoom).where(DirectRoom.platform == platform, DirectRoom.room_id == room_id)
    )
