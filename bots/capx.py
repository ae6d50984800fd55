"""Keeping the mirror of CapX's public directory (:mod:`core.services.capx`) in step with
CapX, over its public API: ``capx-bot capx sync`` and the periodic jobs.

A good citizen of a small server: one request at a time, pages of ``page_size``, a timeout
on every call, and on a timeout, a 5xx or a 429 a few more tries after a growing pause (or
the ``Retry-After`` the server asks for), with a User-Agent that says who is asking and how
to reach its operator, as Wikimedia's User-Agent policy asks. A failure is a
:class:`CapxProblem`, logged in a line; what was synced before stays, and is served.

Phases (:data:`PHASES`): ``capacities`` (the tree, and CapX's names from its translation
source when that answers), ``territories`` (and languages), ``organizations``, ``profiles``
and ``events``. Profiles come in two ways:

- the *incremental* sync reads ``/users/`` newest first (``-last_update``) down to the
  newest change it had already read, and writes what changed; when CapX then lists fewer
  profiles than are mirrored (a closed account leaves no change to read), a reconcile;
- the *reconcile* reads the whole list oldest first, page by page, keeping where it is in
  ``sync_state`` in the same transaction as each page, so that an interrupted one goes on
  from there; then each mirrored profile it did not see is asked for by id, and removed
  when CapX no longer has it (so that a profile skipped because the list moved under the
  read is never removed).

Either one run again changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Any, TextIO

import httpx

from bots.cli import CAPX_PHASES
from core.dispatch import Core
from core.i18n import shipped_locales
from core.logs import describe
from core.services import capx
from storage.chats import drop_cursor, read_cursor, write_cursor
from storage.db import unit_of_work

log = logging.getLogger("capx-bot")

PHASES = CAPX_PHASES
REFERENCE = {"capacities", "territories", "organizations"}
"""Phases that change what the core keeps in memory: it reloads it after them."""
CURSOR = "capx:profiles:cursor"
"""The newest ``last_update`` of a profile read, as ISO text."""
CRAWL = "capx:profiles:crawl"
"""A reconcile under way: ``{"started", "offset", "newest"}``, as JSON."""
MAX_BYTES = 64 * 2**20
"""The largest answer read: more is refused, not read in part."""
MAX_ITEMS = 2_000_000
"""No list is longer than this: a list still going past it (or well past the count its
first page gave) is a server that never ends."""
MAX_WAIT = 300.0
"""The longest pause between two tries, whatever ``Retry-After`` asks."""
MAX_CHECKS = 1_000
"""Mirrored profiles asked for by id, at most, at the end of one reconcile."""
RETRIED = {429, 500, 502, 503, 504}
REFERENCE_PAGE = 1000
"""The page size of the short lists (capacities, territories, organizations, events)."""


class CapxProblem(Exception):
    """CapX could not be read: a few words saying why."""


@dataclass(frozen=True)
class CapxSettings:
    """``[capx]`` of the configuration (see ``config.example.toml``)."""

    enabled: bool = False
    base_url: str = "https://capx-backend.toolforge.org"
    translations_url: str = "https://metabase.wikibase.cloud/query/sparql"
    languages: tuple[str, ...] = ()
    contact: str = ""
    page_size: int = 100
    timeout_seconds: float = 20.0
    retries: int = 4
    backoff_seconds: float = 2.0
    incremental_minutes: int = 10
    reconcile_hours: int = 24

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> CapxSettings:
        return cls(**{**section, "languages": tuple(section.get("languages", ()))})


def user_agent(contact: str) -> str:
    """``capx-bot/0.1.0 (<the operator's contact>) httpx/0.28``: who asks, and how to reach
    them, as Wikimedia's User-Agent policy asks."""
    try:
        version = metadata.version("capx-bot")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"capx-bot/{version} ({contact}) httpx/{httpx.__version__}"


class Client:
    """CapX's API, one request at a time; use as ``async with``."""

    def __init__(self, settings: CapxSettings) -> None:
        self.settings = settings
        self.requests = 0
        self._http = httpx.AsyncClient(
            timeout=settings.timeout_seconds,
            follow_redirects=True,
            headers={"User-Agent": user_agent(settings.contact), "Accept": "application/json"},
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON at ``url`` (relative to the base URL unless absolute); None for a 404;
        a :class:`CapxProblem` when it cannot be had after the retries."""
        if not url.startswith(("http://", "https://")):
            url = self.settings.base_url.rstrip("/") + url
        return await self._tried(lambda: self._http.build_request("GET", url, params=params))

    async def sparql(self, query: str) -> Any:
        """The JSON results of a SPARQL query to the translation source."""
        url = self.settings.translations_url
        headers = {"Accept": "application/sparql-results+json"}
        return await self._tried(
            lambda: self._http.build_request("POST", url, data={"query": query}, headers=headers)
        )

    async def _tried(self, build: Callable[[], httpx.Request]) -> Any:
        for attempt in range(self.settings.retries + 1):
            request = build()
            where = request.url.path
            self.requests += 1
            try:
                status, body, retry_after = await self._read(request)
            except httpx.TimeoutException:
                problem, pause = f"{where} did not answer in time", None
            except httpx.TransportError as error:
                problem, pause = f"cannot reach {where} ({type(error).__name__})", None
            else:
                if status == 200:
                    try:
                        return json.loads(body)
                    except ValueError:
                        raise CapxProblem(
                            f"{where} answered with something that is not JSON"
                        ) from None
                if status == 404:
                    return None
                if status not in RETRIED:
                    raise CapxProblem(f"{where} answered {status}")
                problem, pause = f"{where} answered {status}", retry_after
            if attempt == self.settings.retries:
                raise CapxProblem(f"{problem} ({attempt + 1} tries)")
            if pause is None:
                pause = self.settings.backoff_seconds * 2**attempt * random.uniform(0.75, 1.25)
            log.info("CapX: %s; trying again in %.1f s", problem, pause)
            await asyncio.sleep(min(pause, MAX_WAIT))
        raise AssertionError("unreachable")

    async def _read(self, request: httpx.Request) -> tuple[int, bytes, float | None]:
        """Status, body (at most :data:`MAX_BYTES`) and ``Retry-After`` in seconds."""
        response = await self._http.send(request, stream=True)
        try:
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    raise CapxProblem(f"{request.url.path} answered more than 64 MiB")
        finally:
            await response.aclose()
        wait = response.headers.get("Retry-After", "")
        return response.status_code, bytes(data), float(wait) if wait.isdigit() else None

    async def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        offset: int = 0,
        page_size: int | None = None,
    ) -> AsyncIterator[tuple[int, int, list[Any]]]:
        """Each page of the list at ``path`` from ``offset``: (its offset, the list's
        count, its results)."""
        first_count: int | None = None
        page_size = page_size or self.settings.page_size
        while True:
            query = {**(params or {}), "limit": page_size, "offset": offset}
            page = await self.get(path, query)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise CapxProblem(f"{path} answered with something that is not a page")
            count = page.get("count") if isinstance(page.get("count"), int) else 0
            first_count = count if first_count is None else first_count
            results = page["results"]
            yield offset, count, results
            offset += len(results)
            if not results or not page.get("next"):
                return
            if offset > min(MAX_ITEMS, 2 * first_count + 10 * page_size):
                raise CapxProblem(f"{path} never ends (past {offset:,} items)")

    async def whole(self, path: str) -> list[Any]:
        """Every item of the short list at ``path``, in pages of :data:`REFERENCE_PAGE`: one
        page, as a rule, since CapX orders these lists by nothing that pages would keep."""
        pages = self.pages(path, page_size=max(self.settings.page_size, REFERENCE_PAGE))
        return [item async for _, _, results in pages for item in results]


class Progress:
    """What a sync is doing: a bar on a terminal, a log line per phase otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None

    def step(self, phase: str, done: int, total: int) -> None:
        if self.stream is None or total <= 0:
            return
        share = min(done / total, 1.0)
        bar = "█" * round(share * 30)
        self.stream.write(f"\r{phase:>13} {bar:<30} {done:,}/{total:,}")
        self.stream.flush()

    def done(self, phase: str, what: str) -> None:
        if self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        log.info("CapX %s: %s", phase, what)


@dataclass
class Mirror:
    """Runs the phases of a sync against one core's database."""

    core: Core
    settings: CapxSettings
    progress: Progress = field(default_factory=Progress)
    requests: int = 0

    async def sync(self, phases: tuple[str, ...] = PHASES, full: bool = False) -> dict[str, str]:
        """Run ``phases`` in order (a reconcile of profiles when ``full``, or when none was
        ever made); what each did, by phase. A phase that fails raises its
        :class:`CapxProblem` after the core has what the phases before it brought."""
        done: dict[str, str] = {}
        async with Client(self.settings) as client:
            try:
                for phase in phases:
                    if phase == "profiles":
                        what = await self.profiles(client, full)
                    else:
                        what = await getattr(self, phase)(client)
                    await self.core.in_database(capx.mark_synced, phase, self.core.clock())
                    done[phase] = what
                    self.progress.done(phase, what)
            finally:
                self.requests += client.requests
                if REFERENCE & set(done):
                    self.core.reload()
        return done

    async def capacities(self, client: Client) -> str:
        records = await client.whole("/skill/")
        applied = await self.core.in_database(capx.apply_capacities, records)
        named = await self._names(client, records)
        return f"{applied}; names: {named}"

    async def _names(self, client: Client, records: list[Any]) -> str:
        """CapX's names from its translation source, or why they stay as shipped."""
        items = sorted({r["skill_wikidata_item"] for r in records if _is_item(r)})
        languages = self.settings.languages or _shipped_languages()
        if not self.settings.translations_url or not items:
            return "the shipped ones"
        try:
            answer = await client.sparql(names_query(items, languages))
        except CapxProblem as problem:
            log.warning("CapX capacity names: %s; the shipped names stay", problem)
            return "the shipped ones"
        labels = read_labels(answer)
        return str(await self.core.in_database(capx.apply_capacity_names, labels))

    async def territories(self, client: Client) -> str:
        records = await client.whole("/territory/")
        languages = await client.get("/list/language/")
        territories = await self.core.in_database(capx.apply_territories, records)
        spoken = await self.core.in_database(capx.apply_languages, languages)
        for kind, applied in (("territories", territories), ("languages", spoken)):
            if applied.unmapped:
                log.warning("CapX %s with no match here: %d", kind, sum(applied.unmapped.values()))
        return f"{territories}; languages: {spoken}"

    async def organizations(self, client: Client) -> str:
        # CapX shows an anonymous reader only the organizations that have a manager; the
        # others are known by their names alone.
        records = await client.whole("/organizations/")
        names = await client.get("/list/affiliation/")
        listed = await self.core.in_database(capx.apply_organizations, records)
        named = await self.core.in_database(capx.apply_affiliation_names, names)
        return f"{listed}; by name alone: {named}"

    async def events(self, client: Client) -> str:
        records = await client.whole("/events/")
        now = self.core.clock()
        taxonomy = self.core.taxonomy
        return str(
            await self.core.in_database(lambda s: capx.apply_events(s, taxonomy, records, now))
        )

    async def profiles(self, client: Client, full: bool) -> str:
        state = await self.core.in_database(
            lambda s: (read_cursor(s, CURSOR), read_cursor(s, CRAWL))
        )
        cursor, crawl = state
        if full or cursor is None or crawl is not None:
            return await self._reconcile(client, json.loads(crawl) if crawl else None)
        return await self._incremental(client, datetime.fromisoformat(cursor))

    async def _incremental(self, client: Client, cursor: datetime) -> str:
        maps = await self.core.in_database(capx.Maps.load)
        total = capx.Applied()
        newest = cursor
        listed = None
        async for _, count, results in client.pages("/users/", {"ordering": "-last_update"}):
            listed = count if listed is None else listed
            fresh = [record for record in results if _newer(record, cursor)]
            applied, read_newest = await self.core.in_database(
                capx.apply_profiles, fresh, maps, self.core.clock()
            )
            total.add(applied)
            newest = max(newest, read_newest or newest)
            if len(fresh) < len(results):
                break
        now = self.core.clock()
        await self.core.in_database(write_cursor, CURSOR, newest.isoformat(), now)
        done = f"{total} (changes since {cursor:%Y-%m-%d %H:%M} UTC)"
        # A profile gone from CapX (an account closed or made inactive) leaves no change to
        # read: CapX then lists fewer than are mirrored here, and a reconcile finds which.
        if listed is not None and listed < await self.core.in_database(capx.mirrored_profiles):
            done += "; CapX lists fewer profiles than are mirrored: " + await self._reconcile(
                client, None
            )
        return done

    async def _reconcile(self, client: Client, crawl: dict[str, Any] | None) -> str:
        if crawl is None:
            # The mark of what this reconcile saw is the wall clock's (not the core's, which
            # a test may stop): each reconcile's is later than the one before.
            crawl = {"started": datetime.now(UTC).isoformat(), "offset": 0, "newest": None}
        started = datetime.fromisoformat(crawl["started"])
        maps = await self.core.in_database(capx.Maps.load)
        total = capx.Applied()
        pages = client.pages("/users/", {"ordering": "last_update"}, crawl["offset"])
        async for offset, count, results in pages:
            crawl = await self.core.in_database(
                self._crawled, results, maps, started, offset + len(results), crawl, total
            )
            self.progress.step("profiles", crawl["offset"], count)
        total.removed = await self._check_unseen(client, maps, started, total)

        def finish(session: Any) -> None:
            newest = max(
                filter(None, (crawl["newest"], read_cursor(session, CURSOR))), default=None
            )
            if newest is not None:
                write_cursor(session, CURSOR, newest, self.core.clock())
            drop_cursor(session, CRAWL)

        await self.core.in_database(finish)
        return f"{total} (a full reconcile)"

    def _crawled(
        self,
        session: Any,
        results: list[Any],
        maps: capx.Maps,
        started: datetime,
        offset: int,
        crawl: dict[str, Any],
        total: capx.Applied,
    ) -> dict[str, Any]:
        """One page of a reconcile written, with where the reconcile now is."""
        applied, newest = capx.apply_profiles(session, results, maps, self.core.clock(), started)
        total.add(applied)
        if newest is not None and (crawl["newest"] is None or newest.isoformat() > crawl["newest"]):
            crawl = {**crawl, "newest": newest.isoformat()}
        crawl = {**crawl, "offset": offset}
        write_cursor(session, CRAWL, json.dumps(crawl), self.core.clock())
        return crawl

    async def _check_unseen(
        self, client: Client, maps: capx.Maps, started: datetime, total: capx.Applied
    ) -> int:
        """Ask for each mirrored profile the reconcile did not see: removed when CapX has
        it no more, written when it does. How many were removed."""
        unseen = await self.core.in_database(capx.unseen_since, started, MAX_CHECKS)
        gone = []
        for capx_id in unseen:
            record = await client.get(f"/users/{capx_id}/")
            if record is None:
                gone.append(capx_id)
                continue
            applied, _ = await self.core.in_database(
                capx.apply_profiles, [record], maps, self.core.clock(), started
            )
            total.add(applied)
        return await self.core.in_database(capx.remove_profiles, gone)


def _newer(record: Any, cursor: datetime) -> bool:
    """Whether a ``/users/`` record was last updated after ``cursor`` (one whose time
    cannot be read is: it goes on, to be counted as unreadable)."""
    try:
        return capx.read_profile(record).updated_at > cursor
    except capx.Unreadable:
        return True


def _is_item(record: Any) -> bool:
    item = record.get("skill_wikidata_item") if isinstance(record, dict) else None
    return isinstance(item, str) and item[:1] == "Q" and item[1:].isdigit()


def _shipped_languages() -> tuple[str, ...]:
    return tuple(locale.replace("_", "-").lower() for locale in shipped_locales())


def names_query(items: list[str], languages: tuple[str, ...]) -> str:
    """The SPARQL query for the names and descriptions of the Metabase items whose
    Wikidata id (Metabase's property P1) is one of ``items``, in ``languages``."""
    values = " ".join(f'"{item}"' for item in items)
    wanted = ", ".join(f'"{language}"' for language in languages)
    return f"""PREFIX wbt: <https://metabase.wikibase.cloud/prop/direct/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <http://schema.org/>
SELECT ?item ?value ?lang ?label ?description WHERE {{
  VALUES ?value {{ {values} }}
  ?item wbt:P1 ?value .
  ?item rdfs:label ?label .
  BIND(LANG(?label) AS ?lang)
  FILTER(?lang IN ({wanted}))
  OPTIONAL {{ ?item schema:description ?description . FILTER(LANG(?description) = ?lang) }}
}}"""


def read_labels(answer: Any) -> list[tuple[str, str, str, str | None]]:
    """(Wikidata id, language, name, description) from SPARQL JSON results; what is not
    of that shape is left out."""
    try:
        bindings = answer["results"]["bindings"]
    except (KeyError, TypeError):
        return []
    labels = []
    for binding in bindings if isinstance(bindings, list) else []:
        try:
            value = binding["value"]["value"]
            label = binding["label"]
            language = label.get("xml:lang") or binding["lang"]["value"]
            description = binding.get("description", {}).get("value")
            labels.append((value, language, label["value"], description))
        except (KeyError, TypeError, AttributeError):
            continue
    return [each for each in labels if all(isinstance(part, str) for part in each[:3])]


class Jobs:
    """The periodic syncs (run by :class:`bots.scheduler.Scheduler`): an incremental one
    (profiles and events) and a full one, never two at once. After a failure, the syncs
    wait, twice as long after each failure in a row (at most an hour), before trying again."""

    def __init__(self, core: Core, settings: CapxSettings) -> None:
        self.mirror = Mirror(core, settings)
        self.settings = settings
        self.failures = 0
        self.not_before: datetime | None = None
        self._one_at_a_time = asyncio.Lock()

    async def next_reconcile(self) -> datetime:
        """When the next full sync is due: now, if none was ever made."""
        last = await self.mirror.core.in_database(capx.last_synced, "capacities")
        now = datetime.now(UTC)
        return (
            now if last is None else max(now, last + timedelta(hours=self.settings.reconcile_hours))
        )

    async def incremental(self) -> None:
        await self._run(("profiles", "events"), full=False)

    async def reconcile(self) -> None:
        await self._run(PHASES, full=True)

    async def _run(self, phases: tuple[str, ...], full: bool) -> None:
        if self.not_before is not None and datetime.now(UTC) < self.not_before:
            return
        async with self._one_at_a_time:
            try:
                await self.mirror.sync(phases, full=full)
            except CapxProblem as problem:
                self._failed(f"CapX sync failed: {problem}")
            except Exception as error:
                self._failed(f"CapX sync failed: {describe(error)}")
            else:
                self.failures, self.not_before = 0, None

    def _failed(self, line: str) -> None:
        self.failures += 1
        step = timedelta(minutes=self.settings.incremental_minutes)
        pause = min(step * 2 ** (self.failures - 1), max(step, timedelta(hours=1)))
        self.not_before = datetime.now(UTC) + pause
        log.warning("%s; the next try in %d min", line, pause.total_seconds() // 60)


def status_lines(core: Core, settings: CapxSettings) -> list[str]:
    """``capx-bot capx status``: how fresh the mirror is, phase by phase."""
    now = core.clock()
    with unit_of_work(core.engine) as session:
        lines = [
            f"CapX: {settings.base_url}",
            f"profiles mirrored: {capx.mirrored_profiles(session):,}",
        ]
        for phase in PHASES:
            when = capx.last_synced(session, phase)
            done = f"synced {_ago(now - when)} ago ({when:%Y-%m-%d %H:%M} UTC)" if when else ""
            lines.append(f"{phase}: {done or 'never synced'}")
        crawl = read_cursor(session, CRAWL)
    if crawl:
        offset = json.loads(crawl)["offset"]
        lines.append(f"a full reconcile is under way: {offset:,} profiles read so far")
    return lines


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"
