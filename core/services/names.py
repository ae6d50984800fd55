"""Understanding names as people write them: one mechanism for capacities, territories,
affiliates and languages.

A :class:`NameIndex` holds every name and alias of a kind of thing, folded for comparison
(case, accents, spaces). It accepts only what it is sure of: an exact name or alias, a unique
match of word prefixes (``pub speak``), or a misspelling whose score (rapidfuzz's
``token_sort_ratio``: the whole name, in any word order) is high and clearly above every
other thing's. Anything less is a question with the closest things, best first; a guess is
never taken silently: a near match says so (:attr:`Found.near`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process

from core.parsing import normalize

V = TypeVar("V", bound=Hashable)

ACCEPT = 85.0
"""A misspelling scoring this much (of 100) may be accepted..."""
MARGIN = 8.0
"""...when no other thing scores within this much of it."""
ASK = 62.0
"""Things scoring at least this much are offered as choices."""
MIN_FUZZY = 4
"""Shorter text (an acronym, a code) is matched exactly, never by prefix or as a misspelling."""
MAX_TEXT = 100
"""Longer text names nothing, and is not compared with every name: a bounded cost."""
MAX_CHOICES = 5
FILLER = 3
"""A first word this short (``de``, ``the``, ``في``) may be a preposition or an article: when
nothing else matches, the name after it is taken, exactly, as a near match."""


@dataclass(frozen=True)
class Found(Generic[V]):
    """What a name as typed turned out to be: one ``value``, or ``choices`` to ask about
    (best first), or neither when nothing came close. ``near`` says that ``value`` was not
    named exactly (a prefix, a misspelling): the answer should say what it was read as."""

    value: V | None = None
    near: bool = False
    choices: tuple[V, ...] = ()


class NameIndex(Generic[V]):
    """Names and aliases of things, each thing a hashable value."""

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        exact: dict[str, dict[V, None]] = {}
        for name, value in entries:
            folded = normalize(name)
            if folded:
                exact.setdefault(folded, {})[value] = None
        self._exact = {name: tuple(values) for name, values in exact.items()}
        self._names = list(self._exact)
        self._words = [name.split() for name in self._names]

    def __bool__(self) -> bool:
        return bool(self._names)

    def exact(self, text: str) -> tuple[V, ...]:
        """The things called exactly ``text`` (folded)."""
        return self._exact.get(normalize(text), ())

    def resolve(self, text: str) -> Found[V]:
        """What ``text`` names, or what to ask (see the module's rules)."""
        wanted = normalize(text)
        if not wanted or len(wanted) > MAX_TEXT:
            return Found()
        named = self._exact.get(wanted, ())
        if len(named) == 1:
            return Found(named[0])
        if named:
            return Found(choices=named[:MAX_CHOICES])
        if len(wanted) < MIN_FUZZY:
            return Found()
        prefixed = self._by_prefixes(wanted.split())
        if len(prefixed) == 1:
            return Found(next(iter(prefixed)), near=True)
        ranked = self.ranked(wanted)
        if prefixed:
            ordered = [v for v, _ in ranked if v in prefixed]
            ordered += [v for v in prefixed if v not in ordered]
            return Found(choices=tuple(ordered[:MAX_CHOICES]))
        if ranked and is_clear(ranked):
            return Found(ranked[0][0], near=True)
        first, _, rest = wanted.partition(" ")
        if rest and len(first) <= FILLER:  # "de Portugal", "the Netherlands"
            inner = self._exact.get(rest, ())
            if len(inner) == 1:
                return Found(inner[0], near=True)
        return Found(choices=tuple(v for v, score in ranked[:MAX_CHOICES] if score >= ASK))

    def complete(self, text: str, limit: int) -> list[V]:
        """What someone typing ``text`` may be after, best first: the things with a name
        whose words it begins (``pub spe``; shortest names first), then those spelt closest
        to it; nothing for text longer than any name."""
        wanted = normalize(text)
        if len(wanted) > MAX_TEXT:
            return []
        parts = wanted.split()
        begun = sorted(
            (len(name), name)
            for name, words in zip(self._names, self._words, strict=True)
            if len(words) >= len(parts)
            and all(word.startswith(part) for word, part in zip(words, parts, strict=False))
        )
        found = [value for _, name in begun for value in self._exact[name]]
        if len(wanted) >= MIN_FUZZY:
            found += [value for value, score in self.ranked(wanted) if score >= ASK]
        return list(dict.fromkeys(found))[:limit]

    def ranked(self, wanted: str) -> list[tuple[V, float]]:
        """Things by their best name's score against ``wanted`` (folded), best first."""
        best: dict[V, float] = {}
        scored = process.extract(
            wanted, self._names, scorer=fuzz.token_sort_ratio, limit=40, score_cutoff=ASK / 2
        )
        for name, score, _ in scored:
            for value in self._exact[name]:
                best[value] = max(best.get(value, 0.0), score)
        return sorted(best.items(), key=lambda item: -item[1])

    def _by_prefixes(self, wanted: list[str]) -> set[V]:
        """The things with a name each of whose words ``wanted`` begins, in order, every
        wanted word used: ``pub spe`` for "public speaking", ``wikim unit`` for "Wikimedia
        United Kingdom"."""
        found: set[V] = set()
        for name, words in zip(self._names, self._words, strict=True):
            if len(words) >= len(wanted) and all(
                word.startswith(part) for word, part in zip(words, wanted, strict=False)
            ):
                found.update(self._exact[name])
        return found


def closest(text: str, choices: Iterable[str], limit: int, cutoff: float = 60.0) -> list[str]:
    """The choices spelt closest to ``text`` (a mistyped command or key), best first."""
    found = process.extract(
        text, list(choices), scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff
    )
    return [choice for choice, _, _ in found]


def is_clear(ranked: list[tuple[Hashable, float]]) -> bool:
    """Whether the best of ``ranked`` (best first) may be taken: high, and clearly above the
    runner-up."""
    best = ranked[0][1]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    return best >= ACCEPT and best - runner_up >= MARGIN
