"""How long mirroring CapX's directory takes: from the repository root ``.venv/bin/python -m
bench.capx_sync [--profiles N] [--changes N]``.

The stand-in of CapX's backend (``tests/capx_server.py``) runs in a process of its own, as
CapX does, serving the shipped capacity tree, a few territories, languages and
organizations, and ``--profiles`` synthetic profiles (10,000 by default) with random
capacities, languages and places. capx-bot syncs it into a new SQLite file, with its real
client and the default page size:

1. a full sync (every phase; every profile, as the first sync always is);
2. ``--changes`` profiles changed at CapX (100 by default), then an incremental sync;
3. ``find`` p50/p95 on the synced data, for the most, the median and the least offered
   capacity (as :mod:`bench.core` times them).

It prints, for each sync, the time, the requests and the bot process's peak memory, then the
``find`` figures, and, as its last line, one JSON object of them all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import random
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.core import _actor, figures, time_core
from bench.matching import capacity_classes
from bots.capx import CapxSettings, Mirror
from core.dispatch import Core
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.seed import CAPACITIES_CSV, seed_reference
from tests.capx_server import CapxServer, sample_directory

FINDS = 200


def fill(server: CapxServer, profiles: int) -> None:
    """The shipped capacity tree and ``profiles`` random profiles, beside the sample's
    territories, languages and organizations."""
    sample_directory(server)
    with CAPACITIES_CSV.open(encoding="utf-8", newline="") as file:
        for record in csv.DictReader(file):
            code = int(record["code"])
            server.skills[code] = {
                "id": code,
                "skill_wikidata_item": record["wikidata_qid"] or f"Q99{code:06d}",
                "skill_type": int(record["parent_code"]) if record["parent_code"] else None,
            }
    rng = random.Random(7)
    codes = sorted(server.skills)
    # A few capacities many people have, most by few: as in any real directory.
    weights = [1 / (rank + 1) for rank in range(len(codes))]
    places = sorted(server.territories)
    languages = sorted(server.languages)
    organizations = sorted(server.organizations)
    for n in range(profiles):
        known = set(rng.choices(codes, weights, k=rng.randint(1, 12)))
        server.add_profile(
            f"Synthetic {n}",
            display_name=f"Synthetic Person {n}",
            about="Fictional, for the benchmark." if n % 3 else "",
            territory=rng.sample(places, rng.randint(0, 2)),
            affiliation=rng.sample(organizations, rng.randint(0, 1)),
            language=[
                {"id": lang, "proficiency": rng.choice(["n", 1, 2, 3, 4, 5])}
                for lang in rng.sample(languages, rng.randint(1, 3))
            ],
            skills_known=sorted(known),
            skills_available=sorted(code for code in known if rng.random() < 0.5),
            skills_wanted=sorted(rng.sample(codes, rng.randint(0, 4))),
        )


def _serve_apart(pipe: Connection, profiles: int) -> None:
    """The stand-in's process: serves until told ``None``; ``("change", n)`` changes ``n``
    profiles; each message is answered (the URL first, then the requests so far)."""

    async def serve() -> None:
        async with CapxServer() as server:
            fill(server, profiles)
            pipe.send(server.url)
            loop = asyncio.get_running_loop()
            while (order := await loop.run_in_executor(None, pipe.recv)) is not None:
                _, count = order
                for profile_id in random.Random(count).sample(sorted(server.profiles), count):
                    server.touch(profile_id, about="Changed for the benchmark.")
                pipe.send(len(server.requests))

    asyncio.run(serve())


async def timed_sync(core: Core, settings: CapxSettings, **how: Any) -> dict[str, Any]:
    mirror = Mirror(core, settings)
    started = time.perf_counter()
    done = await mirror.sync(**how)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "requests": mirror.requests,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "profiles": done["profiles"],
    }


def main(profiles: int, changes: int) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    pipe, theirs = spawn.Pipe()
    stand_in = spawn.Process(target=_serve_apart, args=(theirs, profiles), daemon=True)
    stand_in.start()
    try:
        url = pipe.recv()
        with tempfile.TemporaryDirectory() as directory:
            database = str(Path(directory) / "capx.db")
            engine = make_engine(database)
            migrate.upgrade(engine)
            with unit_of_work(engine) as session:
                seed_reference(session)
            core = Core(engine)
            settings = CapxSettings(base_url=url, translations_url="", contact="bench")
            try:
                full = asyncio.run(timed_sync(core, settings))
                pipe.send(("change", changes))
                pipe.recv()
                incremental = asyncio.run(timed_sync(core, settings, phases=("profiles",)))
            finally:
                core.close()
            with engine.connect() as connection:
                classes = capacity_classes(connection)
            engine.dispose()
            askers = [_actor("bench", f"asker-{n}") for n in range(50)]
            finds = {
                name: figures(time_core(database, askers, f"find {code}", FINDS))
                for name, (code, _) in classes.items()
            }
    finally:
        pipe.send(None)
        stand_in.join(timeout=10)
    return {
        "profiles": profiles,
        "changes": changes,
        "full": full,
        "incremental": incremental,
        "find": finds,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    result = main(args.profiles, args.changes)
    for phase in ("full", "incremental"):
        figures_of = result[phase]
        print(
            f"{phase} sync: {figures_of['seconds']} s, {figures_of['requests']} requests, "
            f"peak memory {figures_of['peak_rss_mib']} MiB; profiles: {figures_of['profiles']}"
        )
    for name, each in result["find"].items():
        print(f"find {name}: p50 {each['p50_ms']} ms, p95 {each['p95_ms']} ms")
    print(json.dumps(result))
