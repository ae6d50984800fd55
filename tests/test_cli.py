"""The command line on every mistake an operator can make: one line on standard error that
says what is wrong and where, an exit status, never a traceback. Run as the real process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.matrix import MatrixSettings
from adapters.telegram import TelegramSettings
from bots import database
from bots.config import SCHEMA, ConfigError, check, load
from bots.database import POSTGRES_INSTALL, DatabaseProblem
from tests.process import ROOT, as_anyone, capx_bot, error_line

EXAMPLE = ROOT / "config.example.toml"


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> str:
    """A private copy of the seeded database with the demo community."""
    path = tmp_path / "capx.db"
    shutil.copyfile(demo_db, path)
    return str(path)


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- the configuration ---------------------------------------------------------------------


def test_the_example_configuration_is_ok():
    done = capx_bot("check-config", str(EXAMPLE))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{EXAMPLE}: ok\n", "")


def test_the_example_shows_every_key_of_the_schema():
    shown: dict[str, set[str]] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header[1]
        elif key := re.match(r"(?:# )?(\w+) = ", line):
            shown.setdefault(section, set()).add(key[1])
    assert shown == {name: set(spec.keys) for name, spec in SCHEMA.items()}


BAD = """\
[telegram]
enabled = "yes"
poll_timeout = "30"
tokn_env = "MY_TOKEN"

[matrix]
enabled = true
invite_homeservers = "example.org"

[telegrm]
mode = "polling"

[limits]
commands_burst = 2.5
"""
BAD_LINES = [
    "[telegrm] is not a known section (did you mean [telegram]?)",
    "[limits] commands_burst must be a positive whole number, not 2.5",
    '[telegram] enabled must be true or false, not "yes"',
    '[telegram] poll_timeout must be a whole number, 0 or more, not "30"',
    "[telegram] tokn_env is not a known key (did you mean token_env?)",
    '[matrix] invite_homeservers must be a list of strings, such as ["example.org"], '
    'not "example.org"',
    "[matrix] homeserver is needed when enabled = true",
    "[matrix] user_id is needed when enabled = true",
]


def test_check_config_names_every_wrong_key_one_line_each(tmp_path):
    bad = write(tmp_path / "bad.toml", BAD)
    done = capx_bot("check-config", bad)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"{bad}: {line}" for line in BAD_LINES]


def test_every_subcommand_checks_the_configuration_the_same_way(tmp_path):
    bad = write(tmp_path / "bad.toml", BAD)
    database = str(tmp_path / "never.db")
    for argv in (["db", "current"], ["seed"], ["console"], ["run"]):
        done = capx_bot("--config", bad, "--db", database, *argv)
        assert done.returncode == 2, argv
        assert done.stderr.splitlines() == [f"capx-bot: {bad}: {line}" for line in BAD_LINES]
    assert not Path(database).exists()  # nothing was opened


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("enabled = true\n[telegram]\n", "enabled = true is outside every section"),
        ("telegram = 1\n", "[telegram] must be a section of keys, not 1"),
        (
            '[logging]\nlevel = "LOUD"\n',
            '[logging] level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not "LOUD"',
        ),
        (
            '[telegram]\nenabled = true\nmode = "webhook"\n',
            '[telegram] webhook_url is needed when mode = "webhook"',
        ),
        (
            '[telegram]\nmode = "push"\n',
            '[telegram] mode must be "polling" or "webhook", not "push"',
        ),
        (
            '[telegram]\nwebhook_listen = "8081"\n',
            '[telegram] webhook_listen must be a "host:port" address, such as "127.0.0.1:8081", '
            'not "8081"',
        ),
        (
            '[matrix]\nenabled = true\nhomeserver = "matrix.org"\nuser_id = "@capx:matrix.org"\n',
            '[matrix] homeserver must be an http:// or https:// address, not "matrix.org"',
        ),
        (
            '[matrix]\ninvite_homeservers = ["a.org", 2]\n',
            '[matrix] invite_homeservers must be a list of strings, such as ["example.org"], '
            'not ["a.org", 2]',
        ),
        ('[console]\nname = ""\n', '[console] name must be a string that is not empty, not ""'),
        ("[capx]\nenabled = true\n", "[capx] contact is needed when enabled = true"),
        (
            '[capx]\nlanguages = ["en", "pt\\" }"]\n',
            '[capx] languages must be a list of language codes, such as ["en", "pt-br"], '
            'not ["en", "pt\\" }"]',
        ),
        (
            '[database]\nurl = "nosuch://x"\n',
            "[database] url nosuch://x: unknown kind of "
            "database 'nosuch': give a file path (SQLite) or postgresql://user:password@host/database",
        ),
        (
            "[database\nurl = 1",
            "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 10)",
        ),
    ],
)
def test_check_config_says_what_a_key_should_be(tmp_path, text, line):
    path = write(tmp_path / "c.toml", text)
    done = capx_bot("check-config", path)
    assert (done.returncode, done.stderr) == (2, f"{path}: {line}\n")


def test_a_configuration_that_cannot_be_read_is_one_line(tmp_path):
    missing = str(tmp_path / "none.toml")
    for argv in (["check-config", missing], ["--config", missing, "db", "current"]):
        done = capx_bot(*argv)
        assert done.returncode == 2
        assert error_line(done).endswith(f"{missing}: cannot read it: No such file or directory")
    done = capx_bot("check-config")
    assert error_line(done) == "capx-bot: check-config needs the FILE to check"


class Reading(Mapping[str, Any]):
    """A section that remembers every key read from it, and has none."""

    def __init__(self) -> None:
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("section", "settings"), [("telegram", TelegramSettings), ("matrix", MatrixSettings)]
)
def test_the_schema_has_exactly_the_keys_the_adapters_read(section, settings):
    reading = Reading()
    settings.from_config(reading, {})
    assert reading.read == set(SCHEMA[section].keys) - {"enabled"}


@pytest.mark.parametrize(
    ("section", "settings"), [("telegram", TelegramSettings), ("matrix", MatrixSettings)]
)
def test_the_schema_defaults_are_the_adapters_own(section, settings):
    checked, problems = check({})
    assert problems == []
    assert settings.from_config(checked[section], {}) == settings.from_config({}, {})


def test_the_adapters_get_their_sections_checked_with_the_defaults_filled_in(tmp_path):
    path = write(tmp_path / "c.toml", '[matrix]\nuser_id = "@bot:example.org"\n')
    config = load(path, environ={})
    assert config.sections["telegram"]["poll_timeout"] == 30
    assert config.sections["matrix"]["prefix"] == "!capx"
    assert "invite_homeservers" not in config.sections["matrix"]  # worked out from user_id
    made = MatrixSettings.from_config(config.sections["matrix"], {})
    assert made.invite_servers == ("example.org",)
    with pytest.raises(ConfigError) as raised:
        load(write(tmp_path / "bad.toml", BAD), environ={})
    assert list(raised.value.problems) == BAD_LINES


def test_the_database_url_and_where_it_came_from(tmp_path):
    path = write(tmp_path / "c.toml", '[database]\nurl = "from-file.db"\n')
    assert load(path, "flag.db", {}).database_source == "--db"
    given = load(path, None, {"CAPX_DATABASE_URL": "env.db"})
    assert (given.database_url, given.database_source) == ("env.db", "CAPX_DATABASE_URL")
    assert load(path, None, {}).database_source == f"[database] url in {path}"
    assert load(None, None, {}).database_url == "var/capx.db"


# -- the database --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "line"),
    [
        ("nosuch://x", "capx-bot: --db nosuch://x: unknown kind of database 'nosuch'"),
        ("://", "capx-bot: --db :// is not a database URL"),
        ("postgresql://", "capx-bot: --db postgresql:// names no database"),
        ("postgres://db.example.org", "capx-bot: --db postgres://db.example.org names no database"),
        (
            "postgresql://capx:s3cret@host:notaport/capx",
            "capx-bot: --db postgresql://capx:***@host:notaport/capx is not a database URL",
        ),
        (
            "postgresql+psycopg2://host/capx",
            "capx-bot: --db postgresql+psycopg2://host/capx: the driver 'psycopg2' is not "
            "supported: write postgresql:// without a driver",
        ),
    ],
)
def test_a_bad_database_url_is_one_line(url, line):
    done = capx_bot("--db", url, "db", "current")
    assert done.returncode == 2
    assert error_line(done).startswith(line)
    assert "s3cret" not in done.stderr


def test_the_line_names_where_the_url_came_from(tmp_path):
    config = write(tmp_path / "c.toml", '[database]\nurl = "nosuch://file"\n')
    done = capx_bot("--config", config, "db", "current", env={"CAPX_DATABASE_URL": ""})
    assert error_line(done).startswith(f"capx-bot: [database] url in {config} nosuch://file:")
    done = capx_bot("db", "current", env={"CAPX_DATABASE_URL": "nosuch://env"})
    assert error_line(done).startswith("capx-bot: CAPX_DATABASE_URL nosuch://env:")


def test_a_postgresql_server_that_does_not_answer_is_one_line():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = capx_bot("--db", f"postgresql://capx:s3cret@127.0.0.1:{port}/capx", "db", "upgrade")
    assert done.returncode == 1
    line = error_line(done)
    assert line.startswith("capx-bot: ") and "s3cret" not in line


def refusing(missing: str):
    """An importer for which ``missing`` is not installed."""

    def import_module(name: str) -> object:
        if name == missing:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return __import__(name)

    return import_module


def test_a_missing_postgresql_driver_says_how_to_install_it():
    with pytest.raises(DatabaseProblem) as raised:
        database.parse("postgresql://capx@db.example.org/capx", "--db", refusing("psycopg"))
    assert str(raised.value) == (
        "--db postgresql://capx@db.example.org/capx needs psycopg 3, PostgreSQL's driver, which "
        f"is not installed: {POSTGRES_INSTALL}"
    )
    assert POSTGRES_INSTALL == "pip install -e '.[postgres]'"
    assert raised.value.status == 1
    # The same URL with the driver there, and SQLite without psycopg: no problem.
    assert database.parse("postgresql://capx@db.example.org/capx", "--db").url.drivername == (
        "postgresql+psycopg"
    )
    assert database.parse("var/capx.db", "--db", refusing("psycopg")).file == Path("var/capx.db")


def test_an_unseeded_database_is_one_line_and_the_core_answers_the_console(tmp_path):
    empty = str(tmp_path / "empty.db")
    script = "help\nfind x\noffer x\nprofile\ncapacities\n"
    done = capx_bot("--db", empty, "console", stdin=script)
    assert done.returncode == 1
    assert error_line(done) == (
        f"capx-bot: the database {empty} has no capacity directory yet: "
        "an operator must run capx-bot seed"
    )
    answers = done.stdout.split("» ")[1:]
    assert len(answers) == 5
    assert all("An operator must run “capx-bot seed”" in answer for answer in answers)
    config = write(tmp_path / "c.toml", "[telegram]\nenabled = true\n")
    served = capx_bot("--db", empty, "--config", config, "run")
    assert served.returncode == 1 and error_line(served) == error_line(done)


def test_a_read_only_database_file_is_one_line(demo_copy):
    os.chmod(demo_copy, 0o444)
    for argv in (["console"], ["seed"], ["db", "upgrade"]):
        done = capx_bot("--db", demo_copy, *argv, stdin="help\n", prefix=as_anyone())
        assert done.returncode == 1, argv
        assert error_line(done) == (
            f"capx-bot: cannot write to the database {demo_copy}: attempt to write a readonly "
            f"database (check who may write to {demo_copy} and to its directory)"
        )
        assert done.stdout == ""
    assert capx_bot("--db", demo_copy, "db", "current", prefix=as_anyone()).returncode == 0


@pytest.fixture
def read_only_directory(tmp_path) -> Iterator[Path]:
    directory = tmp_path / "locked"
    directory.mkdir()
    directory.chmod(0o555)
    yield directory
    directory.chmod(0o755)


def test_a_database_directory_that_cannot_be_made_is_one_line(tmp_path, read_only_directory):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    under_a_file = str(a_file / "var" / "capx.db")
    done = capx_bot("--db", under_a_file, "seed")
    assert done.returncode == 1
    assert error_line(done) == (
        f"capx-bot: --db {under_a_file}: cannot make its directory, {a_file} is a file"
    )
    locked = str(read_only_directory / "var" / "capx.db")
    done = capx_bot("--db", locked, "seed", prefix=as_anyone())
    assert done.returncode == 1
    assert error_line(done) == (
        f"capx-bot: --db {locked}: cannot make its directory {read_only_directory / 'var'}: "
        "Permission denied"
    )
    new_file = str(read_only_directory / "capx.db")
    done = capx_bot("--db", new_file, "seed", prefix=as_anyone())
    assert done.returncode == 1
    assert error_line(done).startswith(f"capx-bot: cannot use the database {new_file}: ")
    done = capx_bot("--db", str(tmp_path), "db", "current")
    assert error_line(done) == f"capx-bot: --db {tmp_path} is a directory, not a database file"


def test_a_missing_directory_that_can_be_made_is_made(tmp_path):
    database = tmp_path / "new" / "deeper" / "capx.db"
    done = capx_bot("--db", str(database), "db", "upgrade")
    assert done.returncode == 0 and database.exists()


# -- capx-bot run --------------------------------------------------------------------------


def test_run_fails_when_no_platform_could_start(demo_copy, tmp_path):
    config = write(tmp_path / "c.toml", "[telegram]\nenabled = true\n")
    done = capx_bot("--db", demo_copy, "--config", config, "run", env={"CAPX_TELEGRAM_TOKEN": ""})
    assert done.returncode == 1
    assert error_line(done).endswith(
        "ERROR capx-bot: telegram adapter stopped: no bot token: set the environment variable "
        "CAPX_TELEGRAM_TOKEN"
    )
    nothing = write(tmp_path / "none.toml", "[telegram]\nenabled = false\n")
    done = capx_bot("--db", demo_copy, "--config", nothing, "run")
    assert done.returncode == 2
    assert error_line(done).startswith("capx-bot: no chat platform is enabled")


def test_a_server_out_of_reach_is_one_warning_line_per_try(demo_copy, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write(
        tmp_path / "c.toml",
        f'[telegram]\nenabled = true\napi_url = "http://127.0.0.1:{port}/bot"\n',
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "--db", demo_copy, "--config", config, "run"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CAPX_TELEGRAM_TOKEN": "123:secret-token"},
    )
    lines = []
    try:
        deadline = time.monotonic() + 60
        while len(lines) < 2 and time.monotonic() < deadline:
            assert process.stderr is not None
            lines.append(process.stderr.readline())
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    assert process.returncode == 0
    assert "Traceback" not in rest and "secret-token" not in "".join(lines) + rest
    for line in lines:
        assert " WARNING capx-bot: telegram adapter cannot reach its server (" in line
        assert "); trying again in " in line


def test_every_subcommand_is_in_the_help():
    done = capx_bot("--help")
    for name in ("check-config", "db", "seed", "run", "console"):
        assert name in done.stdout
    assert "Exit status" in done.stdout


IMPORTED = """
import json, sys
heavy = set(json.loads(sys.argv[1]))
loaded = lambda: sorted({name.split(".")[0] for name in sys.modules} & heavy)
from bots import cli
try:
    cli.main(["--help"])
except SystemExit:
    pass
helped = loaded()
from bots import commands  # all that the console runs
print(json.dumps({"help": helped, "console": loaded()}))
"""


def test_the_help_and_the_console_import_no_platform_library():
    """Start-up is fast: ``--help`` imports neither the database nor the core, and the
    console no chat platform's library."""
    heavy = ["nio", "telegram", "discord", "aiohttp", "sqlalchemy", "alembic", "core", "storage"]
    probe = subprocess.run(
        [sys.executable, "-c", IMPORTED, json.dumps(heavy)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    imported = json.loads(probe.stdout.splitlines()[-1])
    assert imported["help"] == []
    console = set(imported["console"])
    assert {"core", "storage", "sqlalchemy"} <= console  # the probe sees what is imported
    assert console.isdisjoint({"nio", "telegram", "discord"})
