"""The CapX stand-in (tests/capx_server.py), read over HTTP with httpx as a client would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.capx_server import CapxServer, sample_directory


@pytest.fixture
async def server() -> AsyncIterator[CapxServer]:
    async with CapxServer() as running:
        sample_directory(running)
        yield running


@pytest.fixture
async def http(server: CapxServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        yield client


async def test_following_next_reads_every_profile_once(server, http):
    made = [server.add_profile(f"Person {i}", skills_known=[37]) for i in range(7)]
    url, seen, pages = "/users/?limit=3&skills_known=37", [], []
    while url:
        answer = await http.get(url)
        assert answer.headers["Content-Type"] == "application/json"
        page = answer.json()
        assert page["count"] == 7
        pages.append(page)
        seen += [profile["id"] for profile in page["results"]]
        url = page["next"]
    assert seen == [profile["id"] for profile in made]
    assert [len(page["results"]) for page in pages] == [3, 3, 1]
    assert pages[0]["next"] == f"{server.url}/users/?limit=3&offset=3&skills_known=37"
    assert pages[0]["previous"] is None
    assert pages[1]["previous"] == f"{server.url}/users/?limit=3&skills_known=37"
    assert pages[2]["previous"] == f"{server.url}/users/?limit=3&offset=3&skills_known=37"
    assert set(made[0]) == set(pages[0]["results"][0]) and "email" in made[0]["user"]


async def test_an_invalid_limit_is_the_default_page(server, http):
    for i in range(3):
        server.add_profile(f"Person {i}")
    server.default_page_size = 2
    page = (await http.get("/users/", params={"limit": "many", "offset": "-1"})).json()
    assert len(page["results"]) == 2
    assert page["next"] == f"{server.url}/users/?limit=2&offset=2"


async def test_a_touched_profile_comes_first_newest_first(server, http):
    ana, bea, cai = (server.add_profile(name) for name in ("Ana", "Bea", "Cai"))
    before = ana["last_update"]
    server.touch(ana["id"], display_name="Ana Renamed")
    assert ana["last_update"] > cai["last_update"] > bea["last_update"] > before
    newest = (await http.get("/users/", params={"ordering": "-last_update"})).json()
    assert [p["id"] for p in newest["results"]] == [ana["id"], cai["id"], bea["id"]]
    assert newest["results"][0]["display_name"] == "Ana Renamed"
    oldest = (await http.get("/users/", params={"ordering": "last_update"})).json()
    assert [p["id"] for p in oldest["results"]] == [bea["id"], cai["id"], ana["id"]]


async def test_a_removed_or_inactive_profile_is_gone(server, http):
    ana, bea, cai = (server.add_profile(name) for name in ("Ana", "Bea", "Cai"))
    server.remove(bea["id"])
    cai["user"]["is_active"] = False
    listed = (await http.get("/users/")).json()
    assert [p["id"] for p in listed["results"]] == [ana["id"]] and listed["count"] == 1
    for gone in (bea, cai):
        answer = await http.get(f"/users/{gone['id']}/")
        assert answer.status_code == 404
        assert answer.json() == {"detail": "No Profile matches the given query."}
    assert (await http.get(f"/users/{ana['id']}/")).json() == ana


async def test_an_unknown_skill_is_a_400_naming_the_filter(server, http):
    server.add_profile("Ana", skills_available=[37])
    answer = await http.get("/users/", params={"skills_available": "99999"})
    assert answer.status_code == 400
    message = "Select a valid choice. 99999 is not one of the available choices."
    assert answer.json() == {"skills_available": [message]}
    wanted = await http.get("/users/", params={"skills_wanted": "37"})
    assert wanted.json()["count"] == 0
    assert (await http.get("/users/", params={"skills_available": "37"})).json()["count"] == 1


async def test_scripted_faults_come_in_turn(server, http):
    server.fail_next("/skill/", 429, retry_after=7)
    server.fail_next("/territory/", 200, after=1, body="not json{")
    throttled = await http.get("/skill/")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    again = await http.get("/skill/")
    assert again.status_code == 200 and again.json()["count"] == len(server.skills)
    assert (await http.get("/territory/")).json()["count"] == len(server.territories)
    assert (await http.get("/territory/")).text == "not json{"
    server.hang_next("/events/", 5)
    with pytest.raises(httpx.ReadTimeout):
        await http.get("/events/", timeout=0.2)
    assert [(seen.path, seen.query) for seen in server.requests[:2]] == [("/skill/", {})] * 2
    assert server.requests[0].user_agent.startswith("python-httpx/")


async def test_an_endless_list_always_has_a_next_page(server, http):
    server.endless("/events/")
    page = (await http.get("/events/", params={"limit": 5, "offset": 40})).json()
    assert page["next"] == f"{server.url}/events/?limit=5&offset=45"
    assert [event["id"] for event in page["results"]] == [1, 2, 1, 2, 1]


async def test_sparql_answers_the_labels_asked_for(server, http):
    query = (
        'SELECT * WHERE { VALUES ?value { "Q11024" "Q99000037" "Q1" }'
        ' FILTER(?lang IN ("pt-br", "en")) }'
    )
    answer = await http.post("/sparql", data={"query": query})
    assert answer.headers["Content-Type"] == "application/sparql-results+json"
    bindings = answer.json()["results"]["bindings"]
    shown = [
        (
            b["value"]["value"],
            b["lang"]["value"],
            b["label"]["value"],
            b.get("description", {}).get("value"),
        )
        for b in bindings
    ]
    assert shown == [
        ("Q11024", "pt-br", "comunicação", "Troca de informações no movimento"),
        ("Q11024", "en", "communication", "Sharing information inside and about the movement"),
        ("Q99000037", "pt-br", "comunicação administrativa", None),
        ("Q99000037", "en", "administrative communication", None),
    ]
    assert "description" not in bindings[2] and bindings[0]["label"]["xml:lang"] == "pt-br"
    assert bindings[0]["item"] == bindings[1]["item"] != bindings[2]["item"]
    by_get = await http.get("/sparql", params={"query": query})
    assert by_get.json()["results"]["bindings"] == bindings


async def test_the_maps_and_the_errors_of_the_backend(server, http):
    skills = (await http.get("/list/skills/")).json()
    assert skills["10"] == "Q759524" and skills["37"] == "Q99000037" and len(skills) == 12
    assert (await http.get("/list/language/")).json()["36"] == "Arabic"
    missing = await http.get("/nothing/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert (await http.post("/users/")).status_code == 405


async def test_stop_cuts_off_a_delayed_answer():
    server = CapxServer()
    await server.start()
    server.hang_next("/users/", 30)
    async with httpx.AsyncClient() as client:
        waiting = asyncio.create_task(client.get(f"{server.url}/users/", timeout=10))
        await asyncio.sleep(0.1)
        await asyncio.wait_for(server.stop(), 3)
        with pytest.raises(httpx.HTTPError):
            await waiting
