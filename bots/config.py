"""Configuration: a TOML file (see ``config.example.toml``), the environment, and flags.

One schema, :data:`SCHEMA`, lists every section the file may have and, in each, every key
with the kind of value it takes and its value when left out. :func:`check` holds a file's
tables against it and says, one line per problem, which ``[section] key`` is wrong;
:func:`load` does the same for every subcommand, and gives the adapters their sections with
the defaults filled in, so that their settings classes read only checked values.

The database URL is taken from, in order: ``--db``, ``CAPX_DATABASE_URL``, the file's
``[database] url``, and finally the embedded default, a SQLite file under ``var/``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from core.limits import Limits
from core.services.names import closest

DEFAULT_DATABASE = "var/capx.db"
DATABASE_ENV = "CAPX_DATABASE_URL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """The configuration cannot be used; :attr:`problems` says why, one line each, for an
    operator (each naming its ``[section] key``)."""

    def __init__(self, *problems: str) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Kind:
    """What a value must be: ``accepts`` says whether it is, ``wanted`` says it in words."""

    wanted: str
    accepts: Callable[[Any], bool]


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(pattern: str) -> Callable[[Any], bool]:
    compiled = re.compile(pattern)
    return lambda value: isinstance(value, str) and compiled.fullmatch(value) is not None


def _is_page_size(value: Any) -> bool:
    return _is_whole(value) and 0 < value <= 1000


def _is_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    _host, colon, port = value.rpartition(":")
    return bool(colon and port.isascii() and port.isdigit() and 0 < int(port) < 65536)


FLAG = Kind("true or false", lambda value: isinstance(value, bool))
TEXT = Kind("a string", lambda value: isinstance(value, str))
NAME = Kind("a string that is not empty", lambda value: isinstance(value, str) and bool(value))
WHOLE = Kind("a whole number, 0 or more", lambda value: _is_whole(value) and value >= 0)
POSITIVE_WHOLE = Kind("a positive whole number", lambda value: _is_whole(value) and value > 0)
POSITIVE = Kind("a positive number", lambda value: _is_number(value) and value > 0)
TEXTS = Kind(
    'a list of strings, such as ["example.org"]',
    lambda value: isinstance(value, list) and all(isinstance(each, str) for each in value),
)
SNOWFLAKES = Kind(
    'a list of Discord server ids, such as ["123456789012345678"]',
    lambda value: (
        isinstance(value, list)
        and all(isinstance(each, str) and each.isascii() and each.isdigit() for each in value)
    ),
)
LANGUAGE_CODES = Kind(
    'a list of language codes, such as ["en", "pt-br"]',
    lambda value: (
        isinstance(value, list)
        and all(
            isinstance(each, str) and re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})*", each)
            for each in value
        )
    ),
)
ENV_NAME = Kind(
    "the name of an environment variable (letters, digits and _)",
    _matches(r"[A-Za-z_][A-Za-z0-9_]*"),
)
WEB_ADDRESS = Kind("an http:// or https:// address", _matches(r"https?://\S+"))
HTTPS_ADDRESS = Kind('an https:// address (or "")', _matches(r"(https://\S+)?"))
LISTEN_ADDRESS = Kind('a "host:port" address, such as "127.0.0.1:8081"', _is_address)
MATRIX_USER = Kind('a Matrix user id, such as "@capxbot:example.org"', _matches(r"@[^:\s]+:\S+"))
LEVEL = Kind(
    f"one of {', '.join(LEVELS)}",
    lambda value: isinstance(value, str) and value.upper() in LEVELS,
)
MODE = Kind('"polling" or "webhook"', lambda value: value in ("polling", "webhook"))

DERIVED: Any = object()
"""The default of a key whose value, when left out, is worked out from other values (such as
``[matrix] invite_homeservers``, from ``user_id``): the key stays out of the checked section."""


@dataclass(frozen=True)
class Key:
    kind: Kind
    default: Any = DERIVED
    needed: bool = False
    """The section cannot work without it when ``enabled = true``."""


@dataclass(frozen=True)
class Section:
    keys: dict[str, Key]
    rules: tuple[Callable[[Mapping[str, Any]], str | None], ...] = ()
    """Checks across keys: each returns a problem (``"key ..."``) or None."""

    @property
    def can_be_enabled(self) -> bool:
        return "enabled" in self.keys


def _webhook_needs_its_url(values: Mapping[str, Any]) -> str | None:
    if values.get("enabled") and values.get("mode") == "webhook" and not values.get("webhook_url"):
        return 'webhook_url is needed when mode = "webhook"'
    return None


def _limit_keys() -> dict[str, Key]:
    """``[limits]``: each field of :class:`Limits`, a positive number (whole where it is an
    integer), defaulting to the field's default."""
    hints = typing.get_type_hints(Limits)
    return {
        f.name: Key(POSITIVE_WHOLE if hints[f.name] is int else POSITIVE, f.default)
        for f in fields(Limits)
    }


SCHEMA: dict[str, Section] = {
    "database": Section({"url": Key(NAME, DEFAULT_DATABASE)}),
    "logging": Section({"level": Key(LEVEL, "WARNING")}),
    "limits": Section(_limit_keys()),
    "console": Section({"name": Key(NAME), "history": Key(NAME, "var/console_history")}),
    "telegram": Section(
        {
            "enabled": Key(FLAG, False),
            "token_env": Key(ENV_NAME, "CAPX_TELEGRAM_TOKEN"),
            "mode": Key(MODE, "polling"),
            "poll_timeout": Key(WHOLE, 30),
            "api_url": Key(WEB_ADDRESS, "https://api.telegram.org/bot"),
            "webhook_url": Key(HTTPS_ADDRESS, ""),
            "webhook_listen": Key(LISTEN_ADDRESS, "127.0.0.1:8081"),
            "webhook_secret_env": Key(ENV_NAME, "CAPX_TELEGRAM_WEBHOOK_SECRET"),
        },
        rules=(_webhook_needs_its_url,),
    ),
    "matrix": Section(
        {
            "enabled": Key(FLAG, False),
            "homeserver": Key(WEB_ADDRESS, needed=True),
            "user_id": Key(MATRIX_USER, needed=True),
            "access_token_env": Key(ENV_NAME, "CAPX_MATRIX_TOKEN"),
            "password_env": Key(ENV_NAME, "CAPX_MATRIX_PASSWORD"),
            "device_name": Key(NAME, "capx-bot"),
            "prefix": Key(NAME, "!capx"),
            "invite_homeservers": Key(TEXTS),
            "encryption": Key(FLAG, False),
            "store_path": Key(NAME, "var/matrix-store"),
        }
    ),
    "discord": Section(
        {
            "enabled": Key(FLAG, False),
            "token_env": Key(ENV_NAME, "CAPX_DISCORD_TOKEN"),
            "guilds": Key(SNOWFLAKES, []),
        }
    ),
    "events": Section(
        {
            "feeds": Key(TEXTS, []),
            "refresh_minutes": Key(POSITIVE_WHOLE, 60),
        }
    ),
    "delivery": Section({"lease_seconds": Key(POSITIVE_WHOLE, 60)}),
    "capx": Section(
        {
            "enabled": Key(FLAG, False),
            "base_url": Key(WEB_ADDRESS, "https://capx-backend.toolforge.org"),
            "translations_url": Key(HTTPS_ADDRESS, "https://metabase.wikibase.cloud/query/sparql"),
            "languages": Key(LANGUAGE_CODES, []),
            "contact": Key(NAME, needed=True),
            "page_size": Key(Kind("a whole number from 1 to 1000", _is_page_size), 100),
            "timeout_seconds": Key(POSITIVE, 20),
            "retries": Key(WHOLE, 4),
            "backoff_seconds": Key(POSITIVE, 2),
            "incremental_minutes": Key(POSITIVE_WHOLE, 10),
            "reconcile_hours": Key(POSITIVE_WHOLE, 24),
        }
    ),
}
"""Every section a configuration file may have, and every key of each."""

PASSED_SECTIONS = ("console", "telegram", "matrix", "discord", "events", "delivery", "capx")


@dataclass(frozen=True)
class Config:
    database_url: str = DEFAULT_DATABASE
    database_source: str = "the default database"
    """Where the URL came from, to name it in an error: ``--db``, the environment..."""
    log_level: str = "WARNING"
    limits: Limits = field(default_factory=Limits)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The checked sections of :data:`PASSED_SECTIONS` (the adapters', the event feeds',
    the delivery's), defaults filled in, every one of them, present in the file or not."""


def shown(value: Any) -> str:
    """``value`` written as in TOML, for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(shown(each) for each in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


def _suggestion(name: str, known: list[str], form: str = "{}") -> str:
    """The known name closest to a misspelt one, else all of them, each written in ``form``."""
    close = closest(name, known, 1)
    if close:
        return f"did you mean {form.format(close[0])}?"
    return "known: " + ", ".join(form.format(each) for each in known)


def check(data: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The file's tables held against :data:`SCHEMA`: every section checked, with its
    defaults filled in, and the problems found (empty when all is well), one line each."""
    problems: list[str] = []
    for name, value in data.items():
        if name not in SCHEMA and isinstance(value, dict):
            known = _suggestion(name, list(SCHEMA), "[{}]")
            problems.append(f"[{name}] is not a known section ({known})")
        elif name not in SCHEMA:
            problems.append(f"{name} = {shown(value)} is outside every section")
        elif not isinstance(value, dict):
            problems.append(f"[{name}] must be a section of keys, not {shown(value)}")
    checked: dict[str, dict[str, Any]] = {}
    for name, section in SCHEMA.items():
        given = data.get(name, {})
        checked[name], found = _check_section(
            name, section, given if isinstance(given, dict) else {}
        )
        problems += found
    return checked, problems


def _check_section(
    name: str, section: Section, given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in given.items():
        spec = section.keys.get(key)
        if spec is None:
            problems.append(
                f"[{name}] {key} is not a known key ({_suggestion(key, list(section.keys))})"
            )
        elif not spec.kind.accepts(value):
            problems.append(f"[{name}] {key} must be {spec.kind.wanted}, not {shown(value)}")
        else:
            values[key] = value
    for key, spec in section.keys.items():
        if key not in values and key not in given and spec.default is not DERIVED:
            values[key] = spec.default
    if values.get("enabled"):
        problems += [
            f"[{name}] {key} is needed when enabled = true"
            for key, spec in section.keys.items()
            if spec.needed and key not in given
        ]
    if not problems:
        problems += [f"[{name}] {problem}" for rule in section.rules if (problem := rule(values))]
    return values, problems


def read(path: str) -> dict[str, Any]:
    """The tables of the TOML file at ``path``; a :class:`ConfigError` when it cannot be read
    or is not TOML."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read it: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("cannot read it: it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}") from None


def load(
    path: str | None, database: str | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """The configuration from ``path`` (optional) with the environment and ``database`` on
    top; a :class:`ConfigError` with every problem the file has."""
    environ = os.environ if environ is None else environ
    data = read(path) if path else {}
    sections, problems = check(data)
    if problems:
        raise ConfigError(*problems)
    given_url = data.get("database", {}).get("url")
    if database:
        url, source = database, "--db"
    elif environ.get(DATABASE_ENV):
        url, source = environ[DATABASE_ENV], DATABASE_ENV
    elif given_url:
        url, source = given_url, f"[database] url in {path}"
    else:
        url, source = DEFAULT_DATABASE, "the default database"
    return Config(
        database_url=url,
        database_source=source,
        log_level=sections["logging"]["level"].upper(),
        limits=Limits(**sections["limits"]),
        sections={name: sections[name] for name in PASSED_SECTIONS},
    )
