"""What a command handler gets: the request, a transaction, the translator and the directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from sqlalchemy import Row, bindparam
from sqlmodel import Session, select

from core.i18n import Translator
from core.limits import Limits
from core.registry import Command, Registry, Where
from core.services.reference import Reference
from core.services.taxonomy import Taxonomy
from core.types import Button, Incoming, Item, Link, Reply
from storage.db import read
from storage.models import ChatIdentity, Person

_IDENTITIES = (
    select(
        ChatIdentity.person_id, ChatIdentity.platform, ChatIdentity.account_id, ChatIdentity.handle
    )
    .where(ChatIdentity.person_id.in_(bindparam("ids", expanding=True)))
    .order_by(ChatIdentity.id)
)
"""The chat identities of some people, oldest first, as rows."""


class UserError(Exception):
    """A problem the person can fix. Carries the translated reply; the transaction is undone."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("user error")
        self.reply = reply


@dataclass
class Context:
    """One command being handled, inside one transaction."""

    incoming: Incoming
    command: Command
    session: Session
    reference: Reference
    registry: Registry
    t: Translator
    now: datetime
    person_id: int | None
    """The speaker's person's id, when they have one; see :attr:`person` and :meth:`me`."""
    limits: Limits = field(default_factory=Limits)
    private: bool = field(init=False)
    confirmed: bool = False
    """The command runs from a press of its one-time confirmation button, by its owner."""
    created_person: bool = False
    """The speaker's person was made by this command (their first edit)."""
    read_as: list[str] = field(default_factory=list)
    """What the arguments were read as, where a near match was accepted ("I read ... as
    ..."); the core tells it with the answer."""
    _person: Person | None = field(default=None, init=False, repr=False)

    @property
    def person(self) -> Person | None:
        """The speaker's person, when they have one, loaded at its first use (most commands
        that only look things up never need it)."""
        if self._person is None and self.person_id is not None:
            self._person = self.session.get(Person, self.person_id)
        return self._person

    @person.setter
    def person(self, person: Person | None) -> None:
        self._person = person
        self.person_id = person.id if person is not None else None

    def __post_init__(self) -> None:
        # An actor who is not a person has no private chat: its answers stay where it spoke.
        anonymous = self.incoming.actor.is_anonymous
        self.private = self.command.where is Where.PRIVATE and not anonymous

    @property
    def taxonomy(self) -> Taxonomy:
        return self.reference.taxonomy

    @property
    def locale(self) -> str:
        return self.t.locale

    def as_yourself(self) -> str:
        return self.t(
            "Send this as yourself: I cannot tell which person an anonymous admin or a channel is."
        )

    def me(self) -> Person:
        """The speaker's person, created (with their chat identity) on first need; a
        :class:`UserError` for an actor who is not a person."""
        actor = self.incoming.actor
        if actor.is_anonymous:
            self.fail(self.as_yourself())
        if self.person is None:
            self.created_person = True
            self._person = Person(
                display_name=actor.display_name[:255] or actor.account_id[:255],
                last_active_at=self.now,
                created_at=self.now,
            )
            self.session.add(self._person)
            self.session.flush()
            self.person_id = self._person.id
            self.session.add(
                ChatIdentity(
                    platform=actor.platform,
                    account_id=actor.account_id,
                    person_id=self._person.id,
                    handle=actor.handle[:255] if actor.handle else None,
                )
            )
            self.session.flush()
        return self.person

    def reply(
        self,
        *,
        title: str | None = None,
        paragraphs: tuple[str, ...] | list[str] = (),
        items: tuple[Item, ...] | list[Item] = (),
        links: tuple[Link, ...] | list[Link] = (),
        buttons: tuple[Button, ...] | list[Button] = (),
        **extra: object,
    ) -> Reply:
        """A reply in the speaker's locale, private when the command's answers are."""
        extra.setdefault("private", self.private)
        return Reply(
            title=title,
            paragraphs=tuple(paragraphs),
            items=tuple(items),
            links=tuple(links),
            buttons=tuple(buttons),
            locale=self.locale,
            **extra,  # type: ignore[arg-type]
        )

    def fail(self, message: str, *, buttons: list[Button] | tuple[Button, ...] = ()) -> NoReturn:
        """Stop the command with a translated message; nothing it wrote is kept."""
        raise UserError(self.reply(paragraphs=[message], buttons=buttons, is_error=True))

    def capacity_name(self, code: int) -> str:
        """The capacity's name in the reader's language, isolated for bidirectional text."""
        return self.t.isolate(self.taxonomy.name(code, self.locale))

    def identity_of(self, person_id: int) -> Row | None:
        """A chat identity of ``person_id``, preferring the speaker's platform."""
        return self.identities_of([person_id]).get(person_id)

    def identities_of(self, person_ids: list[int]) -> dict[int, Row]:
        """A chat identity of each of ``person_ids`` who has one (its ``person_id``,
        ``platform``, ``account_id`` and ``handle``), preferring the speaker's platform, then
        the oldest; in one statement whatever their number."""
        if not person_ids:
            return {}
        platform = self.incoming.actor.platform
        found: dict[int, Row] = {}
        for identity in read(self.session, _IDENTITIES, {"ids": person_ids}):
            kept = found.get(identity.person_id)
            if kept is None or (kept.platform != platform and identity.platform == platform):
                found[identity.person_id] = identity
        return found
