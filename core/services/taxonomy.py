"""The CapX capacity tree: names, hierarchy, search and resolving what a person typed.

The tree is small (about 150 nodes) and changes only when the directory is seeded or synced,
so it is loaded once into memory and shared by every command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from core.parsing import normalize
from core.services.names import MAX_TEXT, Found, NameIndex
from storage.aliases import load_aliases
from storage.models import Capacity, CapacityName

FALLBACK_LANG = "en"


@dataclass(frozen=True)
class Node:
    code: int
    parent: int | None
    root: int
    depth: int
    wikidata_qid: str | None


def _lang_chain(locale: str) -> tuple[str, ...]:
    """Name languages to try for a locale: ``pt_BR`` -> ``pt-br``, ``pt``, ``en``."""
    code = locale.replace("_", "-").lower()
    chain = [code]
    if "-" in code:
        chain.append(code.split("-", 1)[0])
    if FALLBACK_LANG not in chain:
        chain.append(FALLBACK_LANG)
    return tuple(chain)


@dataclass
class Taxonomy:
    """The capacity tree with names in every language the database has."""

    nodes: dict[int, Node] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    names: dict[str, dict[int, tuple[str, str | None]]] = field(default_factory=dict)
    """lang -> code -> (name, description)."""
    aliases: dict[int, list[str]] = field(default_factory=dict)
    """Other names people use (``falar em público``), in any language."""
    _index: NameIndex[int] | None = None

    @classmethod
    def load(cls, session: Session, aliases: dict[str, list[str]] | None = None) -> Taxonomy:
        """The tree from the database, with ``aliases`` (code as text -> other names; the
        shipped ones by default)."""
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
        shipped = aliases if aliases is not None else load_aliases()["capacities"]
        for code, names in shipped.items():
            if int(code) in taxonomy.nodes:
                taxonomy.aliases[int(code)] = names
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

    @property
    def index(self) -> NameIndex[int]:
        """Every capacity's names, in every language the database has."""
        if self._index is None:
            named = [(n, c) for names in self.names.values() for c, (n, _) in names.items()]
            also = [(n, c) for c, names in self.aliases.items() for n in names]
            self._index = NameIndex([*named, *also])
        return self._index

    def exact(self, text: str) -> int | None:
        """The capacity whose code, or whose name in any language, is exactly ``text``."""
        text = text.strip().lstrip("#")
        if text.isascii() and text.isdigit():
            return int(text) if int(text) in self.nodes else None
        codes = self.index.exact(text)
        return codes[0] if len(codes) == 1 else None

    def search(self, query: str, locale: str, limit: int = 10) -> list[int]:
        """Capacities whose name (in the reader's languages, or any) contains every word of
        ``query``, shortest names first."""
        words = normalize(query).split()
        if not words or len(query) > MAX_TEXT:
            return []
        hits: dict[int, int] = {}
        for lang in (*_lang_chain(locale), *self.names):
            for code, (name, _) in self.names.get(lang, {}).items():
                folded = normalize(name)
                if all(word in folded for word in words):
                    hits[code] = min(hits.get(code, len(folded)), len(folded))
        return sorted(hits, key=lambda code: (hits[code], code))[:limit]

    def resolve(self, text: str) -> Found[int]:
        """A capacity as typed: by code (an unknown code is unknown, never a neighbour), or by
        name in any language (see :class:`NameIndex`)."""
        stripped = text.strip().lstrip("#")
        if stripped.isascii() and stripped.isdigit():
            code = int(stripped)
            return Found(code) if code in self.nodes else Found()
        return self.index.resolve(text)
