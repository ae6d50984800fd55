"""Which Matrix rooms are private to the bot and one person. Pure functions over nio's view of
a room, which every sync brings up to date with the full state (members, join rule, history).

A private answer may go only to a room that is private now: nobody but the bot and the person
joined or invited, invite-only, its history not readable by the world. The adapter trusts a
room as someone's direct room only when it also recorded it (``storage.chats``) as made by the
bot for them, or as made by them as direct (:func:`made_direct_by`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nio import MatrixRoom


def private_to(room: MatrixRoom | None, bot_id: str, person: str) -> bool:
    """Whether ``room`` is, as last synced, private to ``bot_id`` and ``person``: the bot has
    joined, the person has joined or is invited, nobody else has joined or is invited, the join
    rule is ``invite`` and the history is not ``world_readable``."""
    if room is None or person == bot_id:
        return False
    invited = set(room.invited_users)
    joined = set(room.users) - invited
    return (
        bot_id in joined
        and joined | invited == {bot_id, person}
        and room.join_rule == "invite"
        and room.history_visibility != "world_readable"
    )


def made_direct_by(
    room: MatrixRoom | None, bot_id: str, person: str, creators: Sequence[str]
) -> bool:
    """Whether ``room``, to which ``person`` invited the bot as direct, may be recorded as their
    direct room: they made it (the first of its :func:`creators`; the bot may be another, as a
    ``trusted_private_chat`` invitee in room version 12), they have joined, and it is
    :func:`private_to` them."""
    return (
        room is not None
        and bool(creators)
        and creators[0] == person
        and set(creators) <= {person, bot_id}
        and person in room.users
        and person not in room.invited_users
        and private_to(room, bot_id, person)
    )


def invited_as_direct(content: Mapping[str, Any]) -> bool:
    """Whether an invite's member event ``content`` marks the room as direct."""
    return content.get("is_direct") is True


def creators(sender: str, content: Mapping[str, Any]) -> tuple[str, ...]:
    """Who created a room, from its ``m.room.create`` event: its ``sender`` first, then the
    ``additional_creators`` of its ``content`` (from room version 12 on, creators are above
    every power level and are not listed in them)."""
    extra = content.get("additional_creators")
    listed = extra if isinstance(extra, list) else []
    return (sender, *(each for each in listed if isinstance(each, str) and each != sender))
