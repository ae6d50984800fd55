"""What each ``capx-bot`` subcommand does, once :mod:`bots.cli` has read the arguments (see
there for the exit statuses). Only :func:`bots.supervisor.build_adapters` imports a
platform's library, for the platforms ``run`` serves."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters import console
from bots import capx, database, feeds
from bots.cli import TROUBLE, USAGE, configure_logging, say
from bots.config import Config, ConfigError, load, read
from bots.config import check as check_tables
from bots.database import DatabaseProblem, Target
from bots.router import Router
from bots.scheduler import Scheduler
from bots.supervisor import build_adapters, enabled, none_could_serve, run_adapters
from core.dispatch import Core
from storage import migrate
from storage.db import unit_of_work
from storage.demo import demo_console_accounts, seed_demo
from storage.seed import seed_reference

UNSEEDED = "has no capacity directory yet: an operator must run capx-bot seed"


def execute(args: argparse.Namespace) -> int:
    """The subcommand ``args`` name, run; its exit status."""
    config_path = getattr(args, "config", None)
    if args.command == "check-config":
        return check_config(args.file or config_path)
    try:
        config = load(config_path, getattr(args, "db", None))
    except ConfigError as error:
        for problem in error.problems:
            say(f"{config_path}: {problem}")
        return USAGE
    configure_logging(config.log_level)
    if args.command == "run" and not enabled(config):
        say("no chat platform is enabled; see config.example.toml (or try capx-bot console)")
        return USAGE
    try:
        target = database.parse(config.database_url, config.database_source)
        engine = database.open_engine(target)
    except DatabaseProblem as problem:
        say(str(problem))
        return problem.status
    try:
        return _run(args, config, target, engine)
    except DatabaseProblem as problem:
        say(str(problem))
        return problem.status
    except CommandError as error:
        say(f"cannot migrate the database {target.shown}: {' '.join(str(error).split())}")
        return TROUBLE
    except SQLAlchemyError as error:
        say(f"cannot use the database {database.explained(target, error)}")
        return TROUBLE
    except OSError as error:
        say(f"{error.filename or 'capx-bot'}: {error.strerror or type(error).__name__}")
        return TROUBLE
    finally:
        engine.dispose()


def check_config(path: str | None) -> int:
    """``capx-bot check-config FILE``: ``FILE: ok``, or one line per problem on standard
    error (and the exit status 2)."""
    if not path:
        say("check-config needs the FILE to check")
        return USAGE
    problems: list[str] = []
    try:
        data = read(path)
    except ConfigError as error:
        problems = list(error.problems)
    else:
        _, problems = check_tables(data)
        url = (
            data.get("database", {}).get("url") if isinstance(data.get("database"), dict) else None
        )
        if not problems and url:
            try:
                database.parse(url, "[database] url")
            except DatabaseProblem as problem:
                problems.append(str(problem))
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return USAGE
    print(f"{path}: ok")
    return 0


def _ready(engine: Engine, target: Target) -> None:
    """The schema brought up to date, and the database known to take writes."""
    migrate.upgrade(engine)
    database.check_writable(engine, target)


def _run(args: argparse.Namespace, config: Config, target: Target, engine: Engine) -> int:
    if args.command == "db":
        if args.db_command == "revision":
            migrate.upgrade(engine)
            print(migrate.make_revision(engine, args.message))
        else:
            if args.db_command == "upgrade":
                _ready(engine, target)
            print(migrate.current_revision(engine) or "empty")
        return 0
    if args.command == "seed":
        _ready(engine, target)
        started = time.perf_counter()
        with unit_of_work(engine) as session:
            counts = seed_reference(session)
            if args.demo:
                counts["demo people"] = seed_demo(session)
        took = time.perf_counter() - started
        print(", ".join(f"{n} {name}" for name, n in counts.items()) + f" ({took:.1f} s)")
        return 0
    _ready(engine, target)
    seeded = database.is_seeded(engine)
    if args.command == "run":
        if not seeded:
            say(f"the database {target.shown} {UNSEEDED}")
            return TROUBLE
        core = _core(engine, config)
        try:
            adapters = build_adapters(config, core, os.environ)
            events = config.sections["events"]
            capx_settings = capx.CapxSettings.from_section(config.sections["capx"])
            scheduler = Scheduler(core, events["feeds"], events["refresh_minutes"], capx_settings)
            background = [Router(core, adapters).run(), scheduler.run()]
            ended = asyncio.run(run_adapters(adapters, background))
        finally:
            core.close()
        return TROUBLE if none_could_serve(ended) else 0
    if args.command == "capx":
        if not seeded:
            say(f"the database {target.shown} {UNSEEDED}")
            return TROUBLE
        return _capx(args, _core(engine, config), config)
    if args.command == "events":
        if not seeded:
            say(f"the database {target.shown} {UNSEEDED}")
            return TROUBLE
        return _import_events(_core(engine, config), args.source)
    return _console(args, config, target, engine, seeded)


def _core(engine: Engine, config: Config) -> Core:
    lease = timedelta(seconds=config.sections["delivery"]["lease_seconds"])
    return Core(engine, limits=config.limits, lease=lease)


def _capx(args: argparse.Namespace, core: Core, config: Config) -> int:
    """``capx-bot capx sync [PHASE ...] [--full]`` (a line per phase, what it did) and
    ``capx-bot capx status``."""
    settings = capx.CapxSettings.from_section(config.sections["capx"])
    try:
        if args.capx_command == "status":
            print("\n".join(capx.status_lines(core, settings)))
            return 0
        unknown = [phase for phase in args.phases if phase not in capx.PHASES]
        if unknown:
            say(f"capx sync: no phase {unknown[0]!r}; the phases: {', '.join(capx.PHASES)}")
            return USAGE
        if not settings.contact:
            say("capx sync needs [capx] contact: how CapX's operators can reach you")
            return USAGE
        phases = tuple(phase for phase in capx.PHASES if phase in args.phases) or capx.PHASES
        mirror = capx.Mirror(core, settings, capx.Progress(sys.stderr))
        try:
            done = asyncio.run(mirror.sync(phases, full=args.full))
        except capx.CapxProblem as problem:
            say(f"cannot sync from CapX: {problem}")
            return TROUBLE
        for phase, what in done.items():
            print(f"{phase}: {what}")
        print(f"({mirror.requests} requests to {settings.base_url})")
        return 0
    finally:
        core.close()


def _import_events(core: Core, source: str) -> int:
    """``capx-bot events import URL|FILE``: one line saying what changed, or why not."""
    try:
        synced = asyncio.run(feeds.import_feed(core, source))
    except feeds.FeedProblem as problem:
        say(f"cannot import {source}: {problem}")
        return TROUBLE
    finally:
        core.close()
    print(synced)
    return 0


def _console(
    args: argparse.Namespace, config: Config, target: Target, engine: Engine, seeded: bool
) -> int:
    """``capx-bot console``. On a database never seeded it says so first, and the core
    answers each command as it can; the exit status then says it too."""
    section = config.sections["console"]
    identity = console.Identity(
        name=args.name if args.name is not None else section.get("name") or console.default_name(),
        locale=args.lang,
        room=args.room,
        admin=args.admin,
    )
    if identity.problem:
        say(identity.problem)
        return USAGE
    if identity.demo is not None:
        with unit_of_work(engine) as session:
            accounts = demo_console_accounts(session)
        if identity.demo not in accounts:
            say(_no_such_demo(identity.name, accounts))
            return USAGE
    if not seeded:
        say(f"the database {target.shown} {UNSEEDED}")
    core = Core(engine, limits=config.limits)
    try:
        console.run(core, identity, Path(section["history"]))
    finally:
        core.close()
    return 0 if seeded else TROUBLE


def _no_such_demo(name: str, accounts: list[str]) -> str:
    if not accounts:
        return f"--as {name}: this database has no demo people; run capx-bot seed --demo"
    listed = ", ".join(f"demo:{a}" for a in accounts[:8])
    more = f" and {len(accounts) - 8} more" if len(accounts) > 8 else ""
    return f"--as {name}: no demo person has that name; try {listed}{more}"
