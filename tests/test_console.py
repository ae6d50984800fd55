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

from bots.cli import build_parser


def capx_bot(*args: str, stdin: str = "", env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parent.parent,
    )


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
    assert "── to you, privately ──" in out and "── to ana, privately ──" in out


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
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert (
        bad.stderr.strip()
        == "capx-bot: [limits] commands_burst must be a positive number, not 'lots'"
    )


def test_every_subcommand_takes_config_and_db():
    parser = build_parser()
    for argv in (["db", "upgrade"], ["db", "current"], ["seed"], ["console"]):
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
