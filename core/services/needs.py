"""Where needs belong: each is posted in a room and listed there; a room may publish its
needs, so that they are also listed in private chats. The SQL of needs lives here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_
from sqlmodel import Session, select

from core.types import Conversation
from storage.models import Need, NeedStatus, Person, Room, SyncState

LAST_NUMBER = "needs:last_number"
"""The sync-state key of the highest need number ever given."""


def next_number(session: Session, now: datetime) -> int:
    """A need number never given before, even to a need since erased (so that an old
    "helpwith 12" never points at a stranger's need). Two processes that take the same
    number collide on the key; the core runs the loser's command again."""
    kept = session.get(SyncState, LAST_NUMBER)
    highest = session.exec(select(func.max(Need.id))).one() or 0
    number = max(int(kept.value) if kept else 0, highest) + 1
    state = kept or SyncState(key=LAST_NUMBER, value="0")
    state.value, state.updated_at = str(number), now
    session.add(state)
    return number


def posted_since(session: Session, conversation: Conversation, since: datetime) -> int:
    """How many needs were posted in ``conversation`` from ``since`` on."""
    query = select(func.count()).where(
        Need.platform == conversation.platform,
        Need.room_id == conversation.room_id,
        Need.created_at >= since,
    )
    return session.exec(query).one()


def _visible(conversation: Conversation, person_id: int | None):
    """The condition for a need to be visible from ``conversation`` to ``person_id``: in a
    group, the needs of that room; in a private chat, the person's own and the published."""
    if not conversation.is_direct:
        return and_(Need.platform == conversation.platform, Need.room_id == conversation.room_id)
    mine = Need.person_id == person_id if person_id is not None else False
    return or_(mine, Room.needs_public.is_(True))


def open_needs(
    session: Session,
    conversation: Conversation,
    person_id: int | None,
    codes: list[int] | None,
    limit: int,
) -> list[tuple[Need, Person, Room | None]]:
    """The open needs visible from ``conversation`` to ``person_id``, newest first; only
    those for ``codes`` when given."""
    query = (
        select(Need, Person, Room)
        .join(Person, Person.id == Need.person_id)
        .outerjoin(Room, and_(Room.platform == Need.platform, Room.room_id == Need.room_id))
        .where(Need.status == NeedStatus.OPEN, _visible(conversation, person_id))
    )
    if codes is not None:
        query = query.where(Need.capacity_code.in_(codes))
    return list(session.exec(query.order_by(Need.id.desc()).limit(limit)))


def visible_need(
    session: Session, conversation: Conversation, person_id: int | None, number: int
) -> tuple[Need, Room | None] | None:
    """Need ``number`` with its room, when it is visible from ``conversation`` to
    ``person_id`` (or is the person's own); None when it is not, as when it does not exist."""
    query = (
        select(Need, Room)
        .outerjoin(Room, and_(Room.platform == Need.platform, Room.room_id == Need.room_id))
        .where(Need.id == number)
    )
    found = session.exec(query).first()
    if found is None:
        return None
    need, room = found
    here = need.platform == conversation.platform and need.room_id == conversation.room_id
    published = room is not None and room.needs_public and conversation.is_direct
    if here or published or (person_id is not None and need.person_id == person_id):
        return need, room
    return None
