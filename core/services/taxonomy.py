"""The CapX capacity tree: names, hierarchy, search and resolving what a person typed.

The tree is small (about 150 nodes) and changes only when the directory is seeded or synced,
so it is loaded once into memory and shared by every command.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from sqlmodel import Session, select

from core.parsing import normalize
from storage.models import Capacity, CapacityName

FALLBACK_LANG = "en"


@dataclass(frozen=True)
class Node:
    code: int
    parent: int | None
    root: int
    depth: int
    wikidata_qid: str | None


@dataclass(frozen=True)
class Resolution:
    """What a capacity as typed turned out to be: one ``code``, or ``candidates`` to choose from.

    With neither, nothing came close. ``candidates`` are the closest codes, best first.
    """

    code: int | None = None
    candidates: tuple[int, ...] = ()


def _lang_chain(locale: str) -> tuple[str, ...]:
    """Name languages to try for a locale: ``pt_BR`` -> ``pt-br``, ``pt``, ``en``."""
    code = locale.replace("_", "-").lower()
    chain = [code]
    if "-" in code:
        chain.append(code.split("-", 1)[0])
    if FALLBACK_LANG not in chain:
        chain.append(FALLBACK_LANG)
    return tuple(chain)


MAX_NAME = 100
"""Longer text names no capacity, and is not compared with every name (a bounded cost)."""


@dataclass
class Taxonomy:
    """The capacity tree with names in every language the database has."""

    nodes: dict[int, Node] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    names: dict[str, dict[int, tuple[str, str | None]]] = field(default_factory=dict)
    """lang -> code -> (name, description)."""
    _index: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Taxonomy:
        taxonomy = cls()
        for row in session.exec(select(Capacity).order_by(Capacity.code)):
            taxonomy.nodes[row.code] = Node(
                row.code, row.parent_code, row.root_code, row.depth, row.wikidata_qid
            )
            taxonomy.children.setdefault(row.code, [])
            if row.parent_code is not None:
                taxonomy.children.setdefault(row.parent_code, []).append(row.code)
        for name in session.exec(select(CapacityName)):
            taxonomy.names.setdefault(name.lang, {})[name.code] = (name.name, name.description)
        return taxonomy

    def __bool__(self) -> bool:
        return bool(self.nodes)

    def __contains__(self, code: object) -> bool:
        return code in self.nodes

    def roots(self) -> list[int]:
        return [code for code, node in self.nodes.items() if node.parent is None]

    def descendants(self, code: int) -> list[int]:
        """Every capacity below ``code``, depth first."""
        found: list[int] = []
        stack = list(reversed(self.children.get(code, [])))
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(reversed(self.children.get(current, [])))
        return found

    def ancestors(self, code: int) -> list[int]:
        """The capacities above ``code``, nearest first."""
        found: list[int] = []
        parent = self.nodes[code].parent
        while parent is not None:
            found.append(parent)
            parent = self.nodes[parent].parent
        return found

    def relatives(self, code: int) -> list[int]:
        """The parent and the siblings of ``code``: close enough to teach it, less than itself."""
        parent = self.nodes[code].parent
        if parent is None:
            return []
        return [parent, *(c for c in self.children[parent] if c != code)]

    def name(self, code: int, locale: str) -> str:
        for lang in _lang_chain(locale):
            entry = self.names.get(lang, {}).get(code)
            if entry:
                return entry[0]
        return str(code)

    def description(self, code: int, locale: str) -> str | None:
        for lang in _lang_chain(locale):
            entry = self.names.get(lang, {}).get(code)
            if entry and entry[1]:
                return entry[1]
        return None

    def _names_for(self, locale: str) -> list[tuple[str, int]]:
        """(normalized name, code) pairs in the locale's languages and English."""
        if locale not in self._index:
            pairs: dict[tuple[str, int], None] = {}
            for lang in _lang_chain(locale):
                for code, (name, _) in self.names.get(lang, {}).items():
                    pairs[(normalize(name), code)] = None
            self._index[locale] = list(pairs)
        return self._index[locale]

    def exact(self, text: str, locale: str) -> int | None:
        """The capacity whose code or name (in the locale or English) is exactly ``text``."""
        text = text.strip().lstrip("#")
        if text.isascii() and text.isdigit():
            return int(text) if int(text) in self.nodes else None
        wanted = normalize(text)
        codes = {code for name, code in self._names_for(locale) if name == wanted}
        return codes.pop() if len(codes) == 1 else None

    def search(self, query: str, locale: str, limit: int = 10) -> list[int]:
        """Capacities whose name contains every word of ``query``, shortest names first; when
        there are none, the ones spelt closest to it."""
        words = normalize(query).split()
        if not words:
            return []
        names = self._names_for(locale)
        hits = sorted({(len(name), code) for name, code in names if all(w in name for w in words)})
        if hits:
            return list(dict.fromkeys(code for _, code in hits))[:limit]
        by_name = dict(names)
        close = difflib.get_close_matches(" ".join(words), list(by_name), n=limit, cutoff=0.6)
        return list(dict.fromkeys(by_name[name] for name in close))

    def resolve(self, text: str, locale: str) -> Resolution:
        """Resolve a capacity as typed: by code, by exact name, by a unique partial name, or by a
        misspelling close enough to one name only."""
        code = self.exact(text, locale)
        if code is not None:
            return Resolution(code=code)
        wanted = normalize(text)
        if not wanted or len(wanted) > MAX_NAME:
            return Resolution()
        names = self._names_for(locale)
        partial = {c for name, c in names if all(w in name for w in wanted.split())}
        if len(partial) == 1:
            return Resolution(code=partial.pop())
        scored = sorted(
            ((difflib.SequenceMatcher(None, wanted, name).ratio(), code) for name, code in names),
            reverse=True,
        )
        best: dict[int, float] = {}
        for ratio, c in scored:
            best.setdefault(c, ratio)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        if partial:
            return Resolution(candidates=tuple(sorted(partial, key=lambda c: -best[c]))[:5])
        if (
            ranked
            and ranked[0][1] >= 0.8
            and (len(ranked) == 1 or ranked[1][1] < ranked[0][1] - 0.05)
        ):
            return Resolution(code=ranked[0][0])
        return Resolution(candidates=tuple(c for c, ratio in ranked[:5] if ratio >= 0.45))
