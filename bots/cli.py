"""The ``capx-bot`` command line.

Every mistake is one line on standard error, starting with ``capx-bot:``, and an exit status:
2 for a mistake in what was asked (a flag, the configuration, a database URL), 1 for what
stood in the way (a database that cannot be opened or written, or was never seeded; no chat
platform that could start). Never a traceback for any of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters import console
from bots import database, feeds
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

log = logging.getLogger("capx-bot")

USAGE = 2
TROUBLE = 1
UNSEEDED = "has no capacity directory yet: an operator must run capx-bot seed"


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes, before or after its name. SUPPRESS keeps a subcommand's
    parser from resetting a value given before the subcommand."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", metavar="FILE", help="a TOML configuration file")
    common.add_argument(
        "--db", metavar="URL", help="database file or URL (default: $CAPX_DATABASE_URL, config)"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="capx-bot",
        description="The Wikimedia Capacity Exchange in your chat rooms.",
        epilog="Exit status: 0 done; 1 the database or every chat platform could not be used; "
        "2 a mistake in the command line or the configuration.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check-config", parents=[common], help="check a configuration file, key by key"
    )
    check.add_argument("file", nargs="?", metavar="FILE", help="the file (default: --config)")

    db = commands.add_parser("db", parents=[common], help="database schema (Alembic)")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", parents=[common], help="migrate to the newest schema")
    db_commands.add_parser("current", parents=[common], help="print the schema revision")
    revision = db_commands.add_parser(
        "revision", parents=[common], help="write a migration for model changes (developers)"
    )
    revision.add_argument("message", help="what the migration does")

    seed = commands.add_parser(
        "seed", parents=[common], help="load the capacity directory and reference data"
    )
    seed.add_argument("--demo", action="store_true", help="also add the fictional demo community")

    commands.add_parser(
        "run", parents=[common], help="serve every chat platform enabled in the configuration"
    )

    events = commands.add_parser("events", parents=[common], help="event feeds (iCalendar)")
    events_commands = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    feed = events_commands.add_parser(
        "import", parents=[common], help="import the events of an .ics address or file, now"
    )
    feed.add_argument("source", metavar="URL|FILE", help="an https:// address or a file path")

    chat = commands.add_parser("console", parents=[common], help="chat with the bot in a terminal")
    chat.add_argument(
        "--as",
        dest="name",
        metavar="NAME",
        help="who you are in the chat: a new person of that name, or demo:ana for a demo person",
    )
    chat.add_argument("--lang", metavar="CODE", help="your language (pt-br, ar, en...)")
    chat.add_argument("--room", metavar="NAME", help="talk in a group room instead of directly")
    chat.add_argument(
        "--admin", action="store_true", help="be an admin of the --room (room admin commands)"
    )
    return parser


QUIET_LIBRARIES = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "nio": logging.WARNING,
    "aiohttp": logging.WARNING,
}
"""Loggers that would print tokens (in request URLs, in login responses) or message contents
(in request data, in sync responses) below the given level; they never go below it."""


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


def _say(line: str) -> None:
    print(f"capx-bot: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:
        return 130


def _main(args: argparse.Namespace) -> int:
    config_path = getattr(args, "config", None)
    if args.command == "check-config":
        return check_config(args.file or config_path)
    try:
        config = load(config_path, getattr(args, "db", None))
    except ConfigError as error:
        for problem in error.problems:
            _say(f"{config_path}: {problem}")
        return USAGE
    configure_logging(config.log_level)
    if args.command == "run" and not enabled(config):
        _say("no chat platform is enabled; see config.example.toml (or try capx-bot console)")
        return USAGE
    try:
        target = database.parse(config.database_url, config.database_source)
        engine = database.open_engine(target)
    except DatabaseProblem as problem:
        _say(str(problem))
        return problem.status
    try:
        return _run(args, config, target, engine)
    except DatabaseProblem as problem:
        _say(str(problem))
        return problem.status
    except CommandError as error:
        _say(f"cannot migrate the database {target.shown}: {' '.join(str(error).split())}")
        return TROUBLE
    except SQLAlchemyError as error:
        _say(f"cannot use the database {database.explained(target, error)}")
        return TROUBLE
    except OSError as error:
        _say(f"{error.filename or 'capx-bot'}: {error.strerror or type(error).__name__}")
        return TROUBLE
    finally:
        engine.dispose()


def check_config(path: str | None) -> int:
    """``capx-bot check-config FILE``: ``FILE: ok``, or one line per problem on standard
    error (and the exit status 2)."""
    if not path:
        _say("check-config needs the FILE to check")
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
            _say(f"the database {target.shown} {UNSEEDED}")
            return TROUBLE
        core = _core(engine, config)
        try:
            adapters = build_adapters(config, core, os.environ)
            events = config.sections["events"]
            scheduler = Scheduler(core, events["feeds"], events["refresh_minutes"])
            background = [Router(core, adapters).run(), scheduler.run()]
            ended = asyncio.run(run_adapters(adapters, background))
        finally:
            core.close()
        return TROUBLE if none_could_serve(ended) else 0
    if args.command == "events":
        if not seeded:
            _say(f"the database {target.shown} {UNSEEDED}")
            return TROUBLE
        return _import_events(_core(engine, config), args.source)
    return _console(args, config, target, engine, seeded)


def _core(engine: Engine, config: Config) -> Core:
    lease = timedelta(seconds=config.sections["delivery"]["lease_seconds"])
    return Core(engine, limits=config.limits, lease=lease)


def _import_events(core: Core, source: str) -> int:
    """``capx-bot events import URL|FILE``: one line saying what changed, or why not."""
    try:
        synced = asyncio.run(feeds.import_feed(core, source))
    except feeds.FeedProblem as problem:
        _say(f"cannot import {source}: {problem}")
        return TROUBLE
    finally:
        core.close()
    print(
        f"events added: {synced.added}, changed: {synced.changed}, removed: {synced.removed}"
        + (f", skipped (unreadable): {synced.skipped}" if synced.skipped else "")
    )
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
        _say(identity.problem)
        return USAGE
    if identity.demo is not None:
        with unit_of_work(engine) as session:
            accounts = demo_console_accounts(session)
        if identity.demo not in accounts:
            _say(_no_such_demo(identity.name, accounts))
            return USAGE
    if not seeded:
        _say(f"the database {target.shown} {UNSEEDED}")
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


if __name__ == "__main__":
    sys.exit(main())
