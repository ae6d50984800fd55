"""The ``capx-bot`` command line.

Every mistake is one line on standard error, starting with ``capx-bot:``, and an exit status:
2 for a mistake in what was asked (a flag, the configuration, a database URL), 1 for what
stood in the way (a database that cannot be opened or written, or was never seeded; no chat
platform that could start). Never a traceback for any of them.
"""

from __future__ import annotations

import argparse
import logging
import sys

USAGE = 2
TROUBLE = 1
CAPX_PHASES = ("capacities", "territories", "organizations", "profiles", "events")
"""The phases of a CapX sync, in order (named here, and not in :mod:`bots.capx`, so that
the help needs no import)."""


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

    capx = commands.add_parser(
        "capx", parents=[common], help="the mirror of the Capacity Exchange's directory"
    )
    capx_commands = capx.add_subparsers(dest="capx_command", required=True, metavar="ACTION")
    sync = capx_commands.add_parser(
        "sync", parents=[common], help="bring the mirror up to date with CapX, now"
    )
    sync.add_argument(
        "phases",
        nargs="*",
        metavar="PHASE",
        help=f"what to sync: {', '.join(CAPX_PHASES)} (default: all, in that order)",
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="read every profile and remove those gone from CapX (otherwise only changes)",
    )
    capx_commands.add_parser("status", parents=[common], help="how fresh the mirror is")

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


def say(line: str) -> None:
    """One line about a mistake or a problem, on standard error."""
    print(f"capx-bot: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What the subcommands do is imported only now (the database, the core, Alembic): the
    # help, and any mistake in the arguments, come at once.
    from bots import commands

    try:
        return commands.execute(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
