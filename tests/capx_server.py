"""A local stand-in for the CapX backend (``capx-backend.toolforge.org``), for tests and
benchmarks.

It answers the public, read-only part of the API that capx-bot reads, with the response
shapes of the real backend (Release 2.2.27, a Django REST Framework app):

- ``/users/``, ``/skill/``, ``/territory/``, ``/organizations/`` and ``/events/`` are pages
  ``{count, next, previous, results}`` as DRF's ``LimitOffsetPagination`` makes them
  (``limit``, ``offset``, absolute ``next``/``previous`` links, 50 a page without ``limit``,
  as the backend's ``PAGE_SIZE``);
- ``/users/`` lists active profiles only, sorts by ``ordering=[-]last_update``, and filters
  by ``skills_known``/``skills_available``/``skills_wanted`` with django-filter's 400s;
- ``/organizations/`` lists, as to an anonymous reader, only those that have a manager;
- ``/users/<id>/`` is one profile; ``/list/skills/``, ``/list/language/`` and
  ``/list/affiliation/`` (every organization) are ``{"<id>": value}`` maps;
- ``/sparql`` stands in for Metabase's SPARQL endpoint, answering the labels of the
  ``"Q…"`` items quoted in the query in the languages quoted in it (nothing is parsed).

Tests edit the directory (:attr:`CapxServer.profiles` and the other dicts) at any time, or
use the builders, which fill in every field of the real shapes. Every request is recorded
as a :class:`Seen`; failures, slow answers and lists that never end can be scripted.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from aiohttp import web

from tests.local_server import serve_locally

PAGE_SIZE = 50
"""The real backend's ``PAGE_SIZE``: the length of a page asked for without ``limit``."""
SKILL_FILTERS = ("skills_known", "skills_available", "skills_wanted")
METABASE_ENTITY = "https://metabase.wikibase.cloud/entity/Q"
QUOTED_ITEM = re.compile(r'"(Q\d+)"')
QUOTED_LANGUAGE = re.compile(r'"([A-Za-z-]{2,10})"')
PROFILE_PATH = re.compile(r"/users/([^/.]+)/")
"""A profile's path, with DRF's router lookup (anything but ``/`` and ``.``)."""

Handler = Callable[[web.Request], Awaitable[web.Response]]


@dataclass
class Seen:
    """A request the stand-in received."""

    method: str
    path: str
    query: dict[str, str]
    """The last value of each query parameter."""
    user_agent: str | None


@dataclass
class _Fault:
    """A scripted answer for the next ``times`` requests under ``path``, once ``after`` of
    them have been answered normally: ``status`` (with ``retry_after`` and ``body``), or, when
    ``status`` is None, a normal answer ``seconds`` late."""

    path: str
    times: int
    after: int
    status: int | None = None
    retry_after: int | None = None
    body: str | None = None
    seconds: float = 0


@dataclass
class CapxServer:
    """The stand-in. Start it with :meth:`start` (or ``async with``); :attr:`url` is the
    backend's base URL and :attr:`sparql_url` Metabase's SPARQL endpoint."""

    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Profile id -> the profile object as ``/users/`` answers it."""
    skills: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Id -> ``{"id", "skill_wikidata_item", "skill_type"}`` (the parent's id, None for a
    root)."""
    territories: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Id -> ``{"id", "territory_name", "territory_acronym", "parent_territory": [ids]}``."""
    languages: dict[int, str] = field(default_factory=dict)
    """Id -> English name, as ``/list/language/`` answers."""
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Id -> the organization object as ``/organizations/`` answers it."""
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Id -> the event object as ``/events/`` answers it."""
    labels: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)
    """Wikidata id -> {language: (label, description or None)}, for ``/sparql``."""
    requests: list[Seen] = field(default_factory=list)
    """Every request received, in order (scripted failures included)."""
    default_page_size: int | None = PAGE_SIZE
    """The page length without ``limit`` (or with an invalid one, as DRF reads it); None:
    everything from ``offset`` on one page."""
    url: str = ""
    """``http://127.0.0.1:<port>`` once started."""
    _faults: list[_Fault] = field(default_factory=list)
    _endless: set[str] = field(default_factory=set)
    _last_ids: dict[str, int] = field(default_factory=dict)
    _clock: datetime = field(default=datetime(2026, 10, 2, 3, 14, 13, 220941, tzinfo=UTC))
    _items: dict[str, int] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"<CapxServer {self.url or 'not started'}: {len(self.profiles)} profiles>"

    @property
    def sparql_url(self) -> str:
        """The stand-in for Metabase's SPARQL endpoint: ``{url}/sparql``."""
        return f"{self.url}/sparql"

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._runner, self.url = await serve_locally(app, shutdown_timeout=0.5)

    async def stop(self) -> None:
        """Stop serving (an answer still being delayed is cut off)."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> CapxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- the test's side ---------------------------------------------------------------------

    def add_profile(self, username: str, **fields: Any) -> dict[str, Any]:
        """A new active profile of ``username`` with every field of the real shape, last
        updated now (later than anything before); ``fields`` replace top-level keys (an
        ``id`` among them is its id instead of a new one). The stored dict."""
        number = fields.pop("id", None) or self._new_id("profiles", self.profiles)
        now = self._later()
        self.profiles[number] = {
            "id": number,
            "user": {
                "id": number,
                "username": username,
                "email": f"{username}@example.org",
                "is_staff": False,
                "is_active": True,
                "date_joined": now,
            },
            "is_manager": [],
            "last_login": None,
            "badges": [],
            "language": [{"id": 3, "proficiency": 3}],
            "display_name": username,
            "pronoun": "",
            "about": "",
            "wikidata_qid": "",
            "wiki_alt": "",
            "team": "",
            "contact": [
                {
                    "display_name": "Meta-Wiki talk page",
                    "value": f"https://meta.wikimedia.org/wiki/User_talk:{_title(username)}",
                }
            ],
            "social": None,
            "last_update": now,
            "automated_lets_connect": None,
            "avatar": None,
            "about_language": None,
            "territory": [],
            "affiliation": [],
            "wikimedia_project": [],
            "skills_known": [],
            "skills_available": [],
            "skills_wanted": [],
            **fields,
        }
        return self.profiles[number]

    def touch(self, profile_id: int, **fields: Any) -> dict[str, Any]:
        """Change ``fields`` of a profile and give it a new ``last_update``, later than its
        old one and than any time given before. The stored dict."""
        profile = self.profiles[profile_id]
        old = profile.get("last_update")
        profile.update(fields)
        profile["last_update"] = self._later(old)
        return profile

    def remove(self, profile_id: int) -> None:
        """The profile vanishes, from the list and from ``/users/<id>/``."""
        del self.profiles[profile_id]

    def add_organization(
        self, display_name: str, acronym: str | None, **fields: Any
    ) -> dict[str, Any]:
        """A new organization (a chapter unless ``type`` says otherwise) with every field of
        the real shape; ``fields`` replace top-level keys (``id`` as in
        :meth:`add_profile`). The stored dict."""
        number = fields.pop("id", None) or self._new_id("organizations", self.organizations)
        self.organizations[number] = {
            "id": number,
            "projects": [],
            "events": [],
            "display_name": display_name,
            "names": [{"language_code": "en", "name": display_name}],
            "profile_image": None,
            "acronym": acronym,
            "meta_page": f"https://meta.wikimedia.org/wiki/{_title(display_name)}",
            "email": None,
            "website": None,
            "report": None,
            "mastodon": None,
            "home_project": None,
            "update_date": self._later(),
            "type": 1,
            "territory": [],
            "managers": [],
            "tag_diff": [],
            "documents": [],
            "choose_events": [],
            "known_capacities": [],
            "available_capacities": [],
            "wanted_capacities": [],
            **fields,
        }
        return self.organizations[number]

    def add_event(self, name: str, time_begin: str, time_end: str, **fields: Any) -> dict[str, Any]:
        """A new virtual event from ``time_begin`` to ``time_end`` (ISO times) with every
        field of the real shape, of no organization unless ``organization`` is given;
        ``fields`` replace top-level keys (``id`` as in :meth:`add_profile`). The stored
        dict."""
        number = fields.pop("id", None) or self._new_id("events", self.events)
        now = self._later()
        self.events[number] = {
            "id": number,
            "name": name,
            "type_of_location": "virtual",
            "openstreetmap_id": "",
            "url": f"https://meta.wikimedia.org/wiki/Event:{_title(name)}",
            "description": "",
            "wikidata_qid": "",
            "image_url": "",
            "time_begin": time_begin,
            "time_end": time_end,
            "created_at": now,
            "updated_at": now,
            "creator": None,
            "organization": None,
            "related_skills": [],
            **fields,
        }
        return self.events[number]

    def fail_next(
        self,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        after: int = 0,
        retry_after: int | None = None,
        body: str | None = None,
    ) -> None:
        """Answer ``status`` to the next ``times`` requests whose path starts with ``path``,
        once ``after`` of them have been answered normally: with a ``Retry-After`` header
        when ``retry_after`` is given, and ``body`` instead of the JSON ``{"detail": ...}``
        when given (still as ``application/json``). Scripted faults for a path are taken in
        the order they were scripted."""
        self._faults.append(_Fault(path, times, after, status, retry_after, body))

    def hang_next(self, path: str, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Answer the next ``times`` requests whose path starts with ``path`` normally, but
        ``seconds`` late (once ``after`` of them have been answered at once)."""
        self._faults.append(_Fault(path, times, after, seconds=seconds))

    def endless(self, path: str) -> None:
        """From now on every page of the lists whose path starts with ``path`` has a
        ``next`` page, its results going round the list again and again."""
        self._endless.add(path)

    # -- the client's side -------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        self.requests.append(
            Seen(
                request.method,
                request.path,
                dict(request.query.items()),
                request.headers.get("User-Agent"),
            )
        )
        fault = self._take_fault(request.path)
        if fault is not None and fault.status is not None:
            detail = json.dumps({"detail": http.client.responses.get(fault.status, "Error")})
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return _json_text(
                fault.body if fault.body is not None else detail, fault.status, headers
            )
        if fault is not None:
            await asyncio.sleep(fault.seconds)
        route = self._route(request.path)
        if route is None:
            return _json({"detail": "Not found."}, 404)
        handler, methods = route
        if request.method not in methods:
            detail = {"detail": f'Method "{request.method}" not allowed.'}
            return _json(detail, 405, {"Allow": ", ".join(methods)})
        return await handler(request)

    def _take_fault(self, path: str) -> _Fault | None:
        """The fault the request at ``path`` meets, if any (counted as met)."""
        for fault in self._faults:
            if not path.startswith(fault.path):
                continue
            if fault.after:
                fault.after -= 1
                return None
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _route(self, path: str) -> tuple[Handler, tuple[str, ...]] | None:
        """What answers ``path``, and the methods it allows; None for an unknown path."""
        lists = {
            "/skill/": self.skills,
            "/territory/": self.territories,
            "/organizations/": self.organizations,
            "/events/": self.events,
        }
        routes: dict[str, Handler] = {
            "/users/": self._users,
            "/list/skills/": self._skill_items,
            "/list/language/": self._language_names,
            "/list/affiliation/": self._affiliation_names,
        }
        if path in lists:
            listed = [record for _, record in sorted(lists[path].items())]
            if path == "/organizations/":
                # What an anonymous reader is shown: the organizations that have a manager.
                listed = [record for record in listed if record.get("managers")]

            async def whole_list(request: web.Request) -> web.Response:
                return self._page(request, listed)

            return whole_list, ("GET",)
        if path in routes:
            return routes[path], ("GET",)
        if PROFILE_PATH.fullmatch(path):
            return self._profile, ("GET",)
        if path == "/sparql":
            return self._sparql, ("GET", "POST")
        return None

    async def _users(self, request: web.Request) -> web.Response:
        listed = [p for _, p in sorted(self.profiles.items()) if _active(p)]
        errors = {}
        for name in SKILL_FILTERS:
            values = request.query.getall(name, [])
            if not values:
                continue
            problem = self._invalid_skill(values)
            if problem is not None:
                errors[name] = [problem]
                continue
            wanted = {int(value) for value in values}
            listed = [
                p for p in listed if isinstance(p.get(name), list) and wanted.intersection(p[name])
            ]
        if errors:
            return _json(errors, 400)
        terms = [term.strip() for term in request.query.get("ordering", "").split(",")]
        ordering = [term for term in terms if term in ("last_update", "-last_update")]
        if ordering:
            descending = ordering[0].startswith("-")
            listed.sort(key=lambda p: str(p.get("last_update")), reverse=descending)
        return self._page(request, listed)

    def _invalid_skill(self, values: list[str]) -> str | None:
        """django-filter's message for the first value of a skill filter that is not a
        skill's id (one that is not a number first), or None when all are."""
        for value in values:
            try:
                int(value)
            except ValueError:
                return f"“{value}” is not a valid value."
        known = {str(number) for number in self.skills}
        for value in values:
            if value not in known:
                return f"Select a valid choice. {value} is not one of the available choices."
        return None

    async def _profile(self, request: web.Request) -> web.Response:
        match = PROFILE_PATH.fullmatch(request.path)
        assert match is not None
        try:
            number = int(match[1])
        except ValueError:
            return _json({"detail": "Not found."}, 404)
        profile = self.profiles.get(number)
        if profile is None or not _active(profile):
            return _json({"detail": "No Profile matches the given query."}, 404)
        return _json(profile)

    async def _skill_items(self, request: web.Request) -> web.Response:
        return _json({str(k): s["skill_wikidata_item"] for k, s in sorted(self.skills.items())})

    async def _affiliation_names(self, request: web.Request) -> web.Response:
        names = sorted(self.organizations.items())
        return _json({str(number): o.get("display_name") for number, o in names})

    async def _language_names(self, request: web.Request) -> web.Response:
        return _json({str(number): name for number, name in sorted(self.languages.items())})

    def _page(self, request: web.Request, listed: list[Any]) -> web.Response:
        """One page of ``listed`` as DRF's ``LimitOffsetPagination`` answers it."""
        limit = _at_least(request.query.get("limit"), 1) or self.default_page_size
        offset = _at_least(request.query.get("offset"), 0) or 0
        count = len(listed)
        if limit is None:
            return _json(
                {"count": count, "next": None, "previous": None, "results": listed[offset:]}
            )
        endless = any(request.path.startswith(path) for path in self._endless)
        if endless:
            results = [listed[(offset + i) % count] for i in range(limit)] if listed else []
        else:
            results = listed[offset : offset + limit]
        more = endless or offset + limit < count
        page = {
            "count": count,
            "next": _link(request, limit, offset + limit) if more else None,
            "previous": None if offset <= 0 else _link(request, limit, offset - limit),
            "results": results,
        }
        return _json(page)

    async def _sparql(self, request: web.Request) -> web.Response:
        form = await request.post()
        query = form.get("query") or request.query.get("query")
        if not isinstance(query, str):
            return web.Response(status=400, text="No query given.")
        items = dict.fromkeys(QUOTED_ITEM.findall(query))
        languages = dict.fromkeys(QUOTED_LANGUAGE.findall(query))
        bindings = []
        for qid in items:
            known = self.labels.get(qid, {})
            for language in languages:
                if language not in known:
                    continue
                label, description = known[language]
                number = self._items.setdefault(qid, len(self._items) + 1)
                binding = {
                    "item": {"type": "uri", "value": f"{METABASE_ENTITY}{number}"},
                    "value": {"type": "literal", "value": qid},
                    "lang": {"type": "literal", "value": language},
                    "label": {"type": "literal", "xml:lang": language, "value": label},
                }
                if description is not None:
                    binding["description"] = {
                        "type": "literal",
                        "xml:lang": language,
                        "value": description,
                    }
                bindings.append(binding)
        answer = {
            "head": {"vars": ["item", "value", "lang", "label", "description"]},
            "results": {"bindings": bindings},
        }
        return web.Response(
            body=json.dumps(answer, ensure_ascii=False).encode(),
            content_type="application/sparql-results+json",
        )

    # -- helpers -----------------------------------------------------------------------------

    def _new_id(self, kind: str, store: dict[int, Any]) -> int:
        """An id never given to a ``kind`` before, past every one in ``store``."""
        number = max(self._last_ids.get(kind, 0), *store, 0) + 1
        self._last_ids[kind] = number
        return number

    def _later(self, than: Any = None) -> str:
        """A time ("2026-10-02T03:14:14.220941Z" style) later than every one given before,
        and than ``than`` when that is an ISO time with a zone."""
        moment = self._clock
        with suppress(TypeError, ValueError):
            moment = max(moment, datetime.fromisoformat(than))
        self._clock = moment + timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _active(profile: dict[str, Any]) -> bool:
    """Whether a profile is listed: the backend's manager hides inactive users' profiles."""
    user = profile.get("user")
    return not (isinstance(user, dict) and user.get("is_active") is False)


def _title(name: str) -> str:
    return name.replace(" ", "_")


def _at_least(value: str | None, least: int) -> int | None:
    """``value`` as an integer when it is one of at least ``least``, else None (DRF then
    uses the default limit, or offset 0)."""
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= least else None


def _link(request: web.Request, limit: int, offset: int) -> str:
    """The absolute URL of the page at ``offset``, as DRF makes it: every query parameter
    kept, ``limit`` and ``offset`` set (``offset`` left out at 0 or less), sorted."""
    query = parse_qs(request.query_string, keep_blank_values=True)
    query["limit"] = [str(limit)]
    query.pop("offset", None)
    if offset > 0:
        query["offset"] = [str(offset)]
    encoded = urlencode(sorted(query.items()), doseq=True)
    return f"{request.scheme}://{request.host}{request.path}?{encoded}"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return _json_text(json.dumps(data, ensure_ascii=False), status, headers)


def _json_text(text: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """An answer of ``text`` as DRF's: ``Content-Type: application/json``, no charset."""
    return web.Response(
        body=text.encode(), status=status, headers=headers, content_type="application/json"
    )


# -- a small directory ----------------------------------------------------------------------

ROOT_SKILLS = {
    10: ("Q759524", "organizational structure", "How Wikimedia groups are organized and run"),
    36: ("Q11024", "communication", "Sharing information inside and about the movement"),
    50: ("Q60231731", "Learning and Evaluation", None),
    56: ("Q28837578", "community health", "Keeping Wikimedia communities welcoming and safe"),
    65: ("Q1413287", "social skill", None),
    74: ("Q30673599", "strategic management process", None),
    106: ("Q11016", "technology", "Tools and platforms for free knowledge"),
}
CHILD_SKILLS = {
    11: (10, "finance"),
    12: (11, "budgeting"),
    37: (36, "administrative communication"),
    38: (36, "community engagement"),
    51: (50, "case study"),
}
REGIONS = [
    "Sub-Saharan Africa",
    "Northern & Western Europe",
    "East, Southeast Asia, & Pacific",
    "Latin America & Caribbean",
    "Central & Eastern Europe & Central Asia",
    "South Asia",
    "Middle East & North Africa",
    "North America",
]
COUNTRIES = {
    19: ("Argentina", "ar", [4]),
    21: ("Artsakh, Republic of", "xn", []),
    22: ("Aruba", "aw", [4]),
    42: ("Brazil", "br", [4]),
    185: ("Nigeria", "ng", [1]),
    205: ("Portugal", "pt", [2]),
}
"""Countries by id: 19 to 22 are the backend's; the others follow the order of its territory
migration (not checked against production)."""


def sample_directory(server: CapxServer) -> None:
    """Fill ``server`` with a small directory in the real ids and names: the seven root
    skills and a few children (with English labels, and Brazilian Portuguese for two, on
    ``/sparql``), the eight Wikimedia regions (ids 1 to 8, acronym None or "") and six
    countries in them, six languages, three organizations (Wikigrannies User Group with no
    acronym and no manager) and two events that have ended. No profiles."""
    for number, (qid, name, description) in ROOT_SKILLS.items():
        server.skills[number] = {"id": number, "skill_wikidata_item": qid, "skill_type": None}
        server.labels[qid] = {"en": (name, description)}
    for number, (parent, name) in CHILD_SKILLS.items():
        qid = f"Q990000{number:02d}"
        server.skills[number] = {"id": number, "skill_wikidata_item": qid, "skill_type": parent}
        server.labels[qid] = {"en": (name, None)}
    server.labels["Q11024"]["pt-br"] = ("comunicação", "Troca de informações no movimento")
    server.labels["Q99000037"]["pt-br"] = ("comunicação administrativa", None)
    for number, name in enumerate(REGIONS, start=1):
        server.territories[number] = {
            "id": number,
            "territory_name": name,
            "territory_acronym": None if number % 2 else "",
            "parent_territory": [],
        }
    for number, (name, acronym, parents) in COUNTRIES.items():
        server.territories[number] = {
            "id": number,
            "territory_name": name,
            "territory_acronym": acronym,
            "parent_territory": parents,
        }
    server.languages.update(
        {
            1: "Brazilian Portuguese",
            2: "Portuguese",
            3: "English",
            4: "Spanish",
            5: "French",
            36: "Arabic",
        }
    )
    server.add_organization("Wikimedia Argentina", "AR", id=2, territory=[19], managers=[88])
    server.add_organization(
        "Wikimedia Portugal", "PT", id=27, territory=[205], events=[2], managers=[91]
    )
    server.add_organization("Wikigrannies User Group", None, id=143, type=2, events=[1])
    server.add_event(
        "Intro to Leadership for newcomers",
        "2026-02-18T10:21:03.220941Z",
        "2026-02-18T11:21:03.220941Z",
        id=1,
        url="https://meta.wikimedia.org/wiki/Event:Intro_to_Leadership_for_newcomers_2026",
        description="Organized by Wikigrannies User Group. Topics: leadership, public speaking.",
        organization=143,
        related_skills=[26, 31, 46],
    )
    server.add_event(
        "Case studies clinic",
        "2026-06-04T17:00:00Z",
        "2026-06-04T19:00:00Z",
        id=2,
        type_of_location="hybrid",
        description="Bring a project you ran; we write its case study together.",
        organization=27,
        related_skills=[51, 37],
    )
