"""The ``capx-bot`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

from sqlalchemy.exc import OperationalError

from adapters import console
from bots.config import ConfigError, load
from bots.supervisor import build_adapters, run_adapters
from core.dispatch import Core
from storage import migrate
from storage.db import make_engine, unit_of_work
from storage.demo import seed_demo
from storage.seed import seed_reference

log = logging.getLogger("capx-bot")


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
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    chat = commands.add_parser("console", parents=[common], help="chat with the bot in a terminal")
    chat.add_argument("--as", dest="name", metavar="NAME", help="who you are in the chat")
    chat.add_argument("--lang", metavar="CODE", help="your language (pt-br, ar, en...)")
    chat.add_argument("--room", metavar="NAME", help="talk in a group room instead of directly")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load(getattr(args, "config", None), getattr(args, "db", None))
    except ConfigError as error:
        print(f"capx-bot: {error}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    engine = make_engine(config.database_url)
    try:
        if args.command == "db":
            if args.db_command == "revision":
                migrate.upgrade(engine)
                print(migrate.make_revision(engine, args.message))
            else:
                if args.db_command == "upgrade":
                    migrate.upgrade(engine)
                print(migrate.current_revision(engine) or "empty")
        elif args.command == "seed":
            migrate.upgrade(engine)
            started = time.perf_counter()
            with unit_of_work(engine) as session:
                counts = seed_reference(session)
                if args.demo:
                    counts["demo people"] = seed_demo(session)
            took = time.perf_counter() - started
            print(", ".join(f"{n} {name}" for name, n in counts.items()) + f" ({took:.1f} s)")
        elif args.command == "run":
            migrate.upgrade(engine)
            core = Core(engine, limits=config.limits)
            try:
                adapters = build_adapters(config, core, os.environ)
                if not adapters:
                    print(
                        "capx-bot: no chat platform is enabled; see config.example.toml "
                        "(or try capx-bot console)",
                        file=sys.stderr,
                    )
                    return 2
                asyncio.run(run_adapters(adapters))
            finally:
                core.close()
        elif args.command == "console":
            migrate.upgrade(engine)
            name = (
                args.name
                or config.sections.get("console", {}).get("name")
                or console.default_name()
            )
            identity = console.Identity(name=name, locale=args.lang, room=args.room)
            history = Path(config.sections.get("console", {}).get("history", "var/console_history"))
            core = Core(engine, limits=config.limits)
            try:
                console.run(core, identity, history)
            finally:
                core.close()
    except OperationalError as error:
        print(f"capx-bot: cannot use the database: {error.orig}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
