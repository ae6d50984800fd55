"""Buttons that remember who they were shown to.

A button of a command that only looks things up, or one the bot offers to everyone in a room
(see :attr:`Button.for_anyone`), carries its command line, and anyone may press it. Every
other button is kept here under a random token, bound to the account it was shown to: a
press by anyone else runs nothing. A confirmation (``forget``) works once, for
minutes. Kept in the database, so a button outlives a restart, and says it expired after.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from core.parsing import split_command_line
from core.registry import Registry
from core.types import Button, Reply
from storage.models import StoredButton

LINE_LIMIT = 48
"""Longest command line a button carries itself, in bytes (Telegram allows 64 for the whole
callback data)."""
KEPT_FOR = timedelta(days=30)
CONFIRM_FOR = timedelta(minutes=10)

_KEEP = insert(StoredButton)
Owner = tuple[str, str]
"""(platform, account id) of the person a button was shown to."""


def bind(
    session: Session, registry: Registry, reply: Reply, owner: Owner | None, now: datetime
) -> Reply:
    """``reply`` with each button that may not carry its line (too long, a confirmation, or
    neither a look-up nor an offer to anyone) replaced by a stored token, bound to ``owner``
    unless anyone may press it. ``owner`` is None only for replies shown to nobody in
    particular, whose buttons must all be for anyone."""
    if not reply.buttons:
        return reply
    bound = []
    kept = []
    for button in reply.buttons:
        command = registry.get(split_command_line(button.command)[0])
        anyone = button.for_anyone or (command is not None and command.read_only)
        short = len(button.command.encode()) <= LINE_LIMIT
        if button.token is not None or (anyone and short and not button.confirms):
            bound.append(button)
            continue
        if owner is None and not anyone:
            raise ValueError(f"a button for {button.command.split()[0]!r} needs an owner")
        kept_by = None if anyone and not button.confirms else owner
        token = secrets.token_urlsafe(12)
        kept.append(
            {
                "token": token,
                "owner_platform": kept_by[0] if kept_by else None,
                "owner_account": kept_by[1] if kept_by else None,
                "command": button.command,
                "confirms": button.confirms,
                "expires_at": now + (CONFIRM_FOR if button.confirms else KEPT_FOR),
            }
        )
        bound.append(Button(button.label, token=token, confirms=button.confirms))
    if kept:
        session.connection().execute(_KEEP, kept)
    return replace(reply, buttons=tuple(bound))


def find(session: Session, token: str, now: datetime) -> StoredButton | None:
    """The live button stored under ``token``, if any."""
    stored = session.get(StoredButton, token[:32]) if token else None
    if stored is None or stored.expires_at <= now:
        return None
    return stored


def use_up(session: Session, stored: StoredButton) -> bool:
    """Spend a one-time button; False when another press spent it first."""
    done = session.execute(delete(StoredButton).where(StoredButton.token == stored.token))
    return done.rowcount == 1


def pending_confirmation(session: Session, owner: Owner, now: datetime) -> StoredButton | None:
    """The newest live one-time confirmation shown to ``owner``, which a typed "yes" or "no"
    from them answers."""
    query = (
        select(StoredButton)
        .where(
            StoredButton.owner_platform == owner[0],
            StoredButton.owner_account == owner[1],
            StoredButton.confirms.is_(True),
            StoredButton.expires_at > now,
        )
        .order_by(StoredButton.expires_at.desc())
    )
    return session.exec(query).first()


def remove_expired(session: Session, now: datetime) -> None:
    session.execute(delete(StoredButton).where(StoredButton.expires_at <= now))


def owned_by(stored: StoredButton, owner: Owner) -> bool:
    """Whether ``owner`` may press the button: it is theirs, or anyone's."""
    if stored.owner_account is None:
        return True
    return (stored.owner_platform, stored.owner_account) == owner
