"""Introductions with consent: one person asks to be put in touch with another, who is asked
privately and shares contacts only by accepting. A request not answered within
:data:`ANSWER_WITHIN` expires, and its asker is told kindly (:func:`expire`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from core.i18n import Translator, negotiate
from core.services import outbox
from core.types import Reply, Target
from storage.models import ChatIdentity, ContactRequest, Person, RequestState

ANSWER_WITHIN = timedelta(days=7)
MAX_OPEN_PER_ASKER = 5
"""Requests one person may have waiting at once."""
MAX_PER_PERSON_PER_DAY = 3
"""Requests one person may receive in a day, from everyone together."""


def open_requests_of(session: Session, asker_id: int) -> int:
    query = select(func.count()).where(
        ContactRequest.asker_id == asker_id, ContactRequest.state == RequestState.PENDING
    )
    return session.exec(query).one()


def received_since(session: Session, person_id: int, since: datetime) -> int:
    query = select(func.count()).where(
        ContactRequest.person_id == person_id, ContactRequest.created_at > since
    )
    return session.exec(query).one()


def pending_between(session: Session, asker_id: int, person_id: int) -> ContactRequest | None:
    query = select(ContactRequest).where(
        ContactRequest.asker_id == asker_id,
        ContactRequest.person_id == person_id,
        ContactRequest.state == RequestState.PENDING,
    )
    return session.exec(query).first()


def account_of(session: Session, person_id: int) -> ChatIdentity | None:
    """The chat account a person is reached on privately: their first one."""
    query = select(ChatIdentity).where(ChatIdentity.person_id == person_id)
    return session.exec(query.order_by(ChatIdentity.id)).first()


def expire(session: Session, now: datetime) -> int:
    """Expire the requests left unanswered for :data:`ANSWER_WITHIN`, telling each asker
    (once: safe to run twice); how many expired."""
    query = select(ContactRequest).where(
        ContactRequest.state == RequestState.PENDING, ContactRequest.expires_at <= now
    )
    expired = 0
    for request in session.exec(query.limit(500)):
        request.state, request.answered_at = RequestState.EXPIRED, now
        expired += 1
        asker = session.get(Person, request.asker_id)
        asked = session.get(Person, request.person_id)
        account = account_of(session, request.asker_id)
        if asker is None or asked is None or account is None:
            continue
        t = Translator(negotiate([asker.locale]))
        note = Reply(
            paragraphs=(
                t(
                    "{name} has not been able to answer your request this week. People are "
                    "busy; please do not take it personally. “find” shows others who may help.",
                    name=t.user_text(asked.display_name),
                ),
            ),
            private=True,
            locale=t.locale,
        )
        target = Target(account.platform, account_id=account.account_id)
        outbox.enqueue(session, target, note, key=f"request-expired:{request.id}", now=now)
    return expired
