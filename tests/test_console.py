"""The console adapter and the command line, run as a person would: the real ``capx-bot``
process reading a pipe, on a real SQLite file."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session
from sqlmodel import select as query

from adapters.console import ConsoleChat, Identity
from bots.cli import build_parser
from core.types import Button, Incoming, Reply
from storage.db import make_engine
from storage.demo import demo_console_accounts
from storage.models import ChatIdentity, Person
from tests.process import capx_bot, error_line


@pytest.fixture
def seeded(tmp_path) -> str:
    database = str(tmp_path / "var" / "capx.db")
    done = capx_bot("--db", database, "seed", "--demo")
    assert done.returncode == 0, done.stderr
    assert "134 capacity" in done.stdout and "72 demo people" in done.stdout
    return database


def test_a_piped_script_gets_every_reply_then_the_console_exits(seeded):
    script = "# a comment line\nhelp\n\nfind public speaking\n1\n"
    done = capx_bot("--db", seeded, "console", "--as", "tester", stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "» help" in out and "What I can do" in out
    assert "Who can help with public speaking" in out
    assert "[1] " in out and out.count("»") == 3  # the comment and the blank line are skipped
    first_choice = out.split("[1] ")[1].split("\n")[0]
    assert f"» 1\n──\n{first_choice}" in out  # "1" opened the first person's profile


def test_two_identities_in_one_database_meet_through_a_need(seeded):
    capx_bot(
        "--db",
        seeded,
        "console",
        "--as",
        "Ana",
        "--room",
        "lusofonia",
        stdin="need public speaking a trainer for our meetup\n",
    )
    done = capx_bot(
        "--db", seeded, "console", "--as", "Rui", "--room", "lusofonia", stdin="needs\nhelpwith 1\n"
    )
    out = done.stdout
    assert "a trainer for our meetup" in out
    assert "── to you, privately ──" in out and "a message for you" not in out
    later = capx_bot("--db", seeded, "console", "--as", "Ana", stdin="help\n")
    assert "── a message for you ──\nRui offers help with your need #1" in later.stdout.replace(
        "\u2068", ""
    ).replace("\u2069", "")
    again = capx_bot("--db", seeded, "console", "--as", "Ana", stdin="help\n")
    assert "a message for you" not in again.stdout  # delivered once


def test_the_language_flag_and_the_database_from_the_environment(seeded):
    done = capx_bot(
        "console", "--as", "Ana", "--lang", "ar", stdin="help\n", env={"CAPX_DATABASE_URL": seeded}
    )
    assert done.returncode == 0
    from core.i18n import Translator

    assert Translator("ar")("What I can do") in done.stdout


def test_db_upgrade_and_current(tmp_path):
    database = str(tmp_path / "fresh.db")
    assert capx_bot("--db", database, "db", "current").stdout.strip() == "empty"
    done = capx_bot("--db", database, "db", "upgrade")
    assert done.returncode == 0
    from storage.migrate import head_revision

    assert done.stdout.strip() == head_revision()


def test_db_revision_writes_a_migration_after_the_newest(tmp_path, monkeypatch, capsys):
    from bots.cli import main
    from storage import migrate

    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    head = migrate.head_revision()

    assert main(["--db", str(tmp_path / "dev.db"), "db", "revision", "add a thing"]) == 0
    written = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert written.parent == copy / "versions" and written.name.endswith("_add_a_thing.py")
    assert f"down_revision = {head!r}" in written.read_text()
    assert migrate.head_revision() != head


def test_a_bad_config_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl = 1")
    done = capx_bot("--config", str(bad), "db", "current")
    assert done.returncode == 2
    assert done.stderr.startswith("capx-bot: ") and "Traceback" not in done.stderr
    missing = capx_bot("--config", str(tmp_path / "none.toml"), "db", "current")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_the_limits_come_from_the_config_and_a_bad_one_is_one_line(seeded, tmp_path):
    config = tmp_path / "limits.toml"
    config.write_text("[limits]\ncommands_burst = 2\ncommands_per_minute = 1\n")
    done = capx_bot("--db", seeded, "--config", str(config), "console", stdin="help\n" * 4)
    assert done.stdout.count("What I can do") == 2 and done.stdout.count("too fast") == 1
    config.write_text('[limits]\ncommands_burst = "lots"\n')
    bad = capx_bot("--db", seeded, "--config", str(config), "console", stdin="help\n")
    assert bad.returncode == 2
    assert error_line(bad) == (
        f'capx-bot: {config}: [limits] commands_burst must be a positive whole number, not "lots"'
    )


def test_every_subcommand_takes_config_and_db():
    parser = build_parser()
    for argv in (["db", "upgrade"], ["db", "current"], ["seed"], ["console"], ["run"]):
        after = parser.parse_args([*argv, "--config", "c.toml", "--db", "x.db"])
        before = parser.parse_args(["--config", "c.toml", "--db", "x.db", *argv])
        assert (after.config, after.db) == (before.config, before.db) == ("c.toml", "x.db")
    assert "console" in parser.format_help() and "seed" in parser.format_help()


def test_on_a_terminal_the_console_is_an_interactive_prompt_with_history(seeded, tmp_path):
    main, follower = pty.openpty()
    history = tmp_path / "history"
    config = tmp_path / "config.toml"
    config.write_text(f'[console]\nhistory = "{history}"\n')
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bots.cli",
            "--db",
            seeded,
            "--config",
            str(config),
            "console",
            "--as",
            "Tess",
        ],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
    )
    os.close(follower)
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        while marker not in output:
            ready, _, _ = select.select([main], [], [], 30)
            assert ready, f"no {marker!r} in {output[-500:]!r}"
            output += os.read(main, 65536)

    read_until(b"Tess> ")
    os.write(main, b"capacities\r")
    read_until(b"Capacities")
    os.write(main, b"quit\r")
    assert process.wait(timeout=30) == 0
    os.close(main)
    assert "capacities" in history.read_text()


class Answering:
    """A core that answers every line with ``replies`` and remembers what it was sent."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.sent: list[Incoming] = []

    def handle(self, incoming: Incoming) -> list[Reply]:
        self.sent.append(incoming)
        return self.replies

    def deliver_to(self, target, send) -> int:
        return 0


def chat_with(core: Answering, identity: Identity | None = None) -> tuple[ConsoleChat, list[str]]:
    printed: list[str] = []

    class Output:
        def write(self, text: str) -> None:
            printed.append(text)

        def flush(self) -> None:
            pass

    return ConsoleChat(core, identity or Identity("Tess"), Output()), printed  # type: ignore[arg-type]


def test_every_choice_of_a_long_list_has_a_number_that_picks_it():
    many = Reply(
        title="Many",
        buttons=tuple(Button(f"choice {n}", f"capacities {n}") for n in range(1, 21)),
    )
    core = Answering(many)
    chat, printed = chat_with(core)
    chat.say("capacities")
    shown = "".join(printed)
    assert all(f"[{n}] choice {n}\n" in shown for n in range(1, 21))
    for n in (20, 12, 13, 1):
        chat.say(str(n))
        assert (core.sent[-1].command, core.sent[-1].arguments) == ("capacities", str(n))
    chat.say("21")  # no such choice: the core hears the number and answers it
    assert (core.sent[-1].command, core.sent[-1].arguments) == ("21", "")


def test_choices_are_numbered_across_everything_one_command_answered():
    mine = Reply(paragraphs=("first",), buttons=(Button("one", "help one"),))
    private = Reply(private=True, buttons=(Button("two", token="t2"), Button("three", "help 3")))
    core = Answering(mine, private)
    chat, printed = chat_with(core, Identity("Rui", room="lusofonia"))
    chat.say("helpwith 1")
    shown = "".join(printed)
    assert "[1] one" in shown and "[2] two" in shown and "[3] three" in shown
    assert "[4]" not in shown and "── to you, privately ──" in shown
    chat.say("2")
    assert core.sent[-1].pressed == "t2"
    chat.say("3")
    assert (core.sent[-1].command, core.sent[-1].pressed) == ("help", None)


def test_every_subcapacity_of_a_big_area_can_be_picked_by_number(seeded):
    done = capx_bot("--db", seeded, "console", stdin="capacities 124\n20\n")
    first, picked = done.stdout.split("» 20\n")
    assert "[20] Wikidata Query Service" in first
    assert picked.startswith("──\nWikidata Query Service (143)")


def test_a_plain_name_is_never_a_demo_person(demo_db):
    engine = make_engine(str(demo_db))
    with Session(engine) as session:
        demo_accounts = demo_console_accounts(session)
    engine.dispose()
    assert "ana" in demo_accounts
    for account in demo_accounts:
        assert Identity(account).account_id not in demo_accounts
        assert Identity(account.capitalize()).account_id == f"name:{account}"
        assert Identity(f"demo:{account}").account_id == account
        assert Identity(f"Demo:{account.upper()}").account_id == account
    assert Identity("  Ana   Maria ").account_id == "name:ana maria"
    assert Identity("demo:").problem and Identity(" ").problem and not Identity("Ana").problem


def test_demo_people_are_reached_as_demo_and_a_plain_name_is_someone_new(seeded):
    demo = capx_bot("--db", seeded, "console", "--as", "demo:ana", stdin="profile\n")
    assert demo.returncode == 0 and "Ana Souza (demo)" in demo.stdout
    plain = capx_bot("--db", seeded, "console", "--as", "Ana", stdin="profile\nabout Hello\n")
    assert "Ana Souza" not in plain.stdout and "You have no profile yet" in plain.stdout
    engine = make_engine(seeded)
    with Session(engine) as session:
        people = dict(
            session.exec(
                query(ChatIdentity.account_id, Person.display_name)
                .join(Person, Person.id == ChatIdentity.person_id)
                .where(ChatIdentity.account_id.in_(["ana", "name:ana"]))
            ).all()
        )
        demo_about = session.exec(
            query(Person.about).join(ChatIdentity).where(ChatIdentity.account_id == "ana")
        ).one()
    engine.dispose()
    assert people == {"ana": "Ana Souza (demo)", "name:ana": "Ana"}
    assert demo_about != "Hello"
    unknown = capx_bot("--db", seeded, "console", "--as", "demo:nobody", stdin="help\n")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert error_line(unknown).startswith(
        "capx-bot: --as demo:nobody: no demo person has that name; try demo:"
    )


def test_a_console_person_is_a_room_admin_only_with_admin():
    core = Answering()
    assert not chat_with(core, Identity("Tess", room="r"))[0].actor.is_room_admin
    assert chat_with(core, Identity("Tess", room="r", admin=True))[0].actor.is_room_admin
    assert chat_with(core, Identity("Tess"))[0].actor.is_room_admin  # of the direct chat only


def test_room_admin_commands_need_admin_and_a_room(seeded):
    line = "roomlanguage pt-br\n"
    member = capx_bot("--db", seeded, "console", "--room", "r", stdin=line)
    assert "Only an admin of this room may use “roomlanguage”." in member.stdout
    admin = capx_bot("--db", seeded, "console", "--room", "r", "--admin", stdin=line)
    assert "This room's language is now" in admin.stdout
    direct = capx_bot("--db", seeded, "console", "--admin", stdin=line)
    assert "“roomlanguage” works in group rooms only." in direct.stdout


def test_a_debug_log_of_a_console_conversation_holds_no_message_text(seeded, tmp_path):
    config = tmp_path / "debug.toml"
    config.write_text('[logging]\nlevel = "DEBUG"\n')
    secret = "zebra-quartz-7731"
    script = f"about {secret}\nneed finance {secret}\nfind {secret}\nforgte {secret}\n"
    done = capx_bot("--db", seeded, "--config", str(config), "console", "--room", "r", stdin=script)
    assert done.returncode == 0, done.stderr
    assert secret in done.stdout  # the conversation happened, and echoed what was typed
    assert secret not in done.stderr  # but the log (on standard error) never holds it
