"""Configuration: a TOML file (see ``config.example.toml``), the environment, and flags.

The database URL is taken from, in order: ``--db``, ``CAPX_DATABASE_URL``, the file's
``[database] url``, and finally the embedded default, a SQLite file under ``var/``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.limits import Limits

DEFAULT_DATABASE = "var/capx.db"
DATABASE_ENV = "CAPX_DATABASE_URL"


class ConfigError(Exception):
    """The configuration cannot be used; the message says why, for an operator."""


@dataclass(frozen=True)
class Config:
    database_url: str = DEFAULT_DATABASE
    log_level: str = "WARNING"
    limits: Limits = field(default_factory=Limits)
    sections: dict[str, Any] = field(default_factory=dict)
    """The file's other tables (``[telegram]``, ``[matrix]``...), for the adapters."""


def load(path: str | None, database: str | None = None) -> Config:
    """The configuration from ``path`` (optional) with the environment and ``database`` on top."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from None
    url = (
        database
        or os.environ.get(DATABASE_ENV)
        or data.get("database", {}).get("url")
        or DEFAULT_DATABASE
    )
    level = str(data.get("logging", {}).get("level", "WARNING")).upper()
    sections = {k: v for k, v in data.items() if k not in ("database", "logging", "limits")}
    return Config(
        database_url=url, log_level=level, limits=_limits(data.get("limits", {})), sections=sections
    )


def _limits(section: dict[str, Any]) -> Limits:
    """The ``[limits]`` table: each key a positive number, the defaults for what is left out."""
    values: dict[str, Any] = {}
    for name, default in vars(Limits()).items():
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, type(default) | int) or value <= 0:
            raise ConfigError(f"[limits] {name} must be a positive number, not {value!r}")
        values[name] = type(default)(value)
    unknown = set(section) - set(values)
    if unknown:
        raise ConfigError(f"[limits] has unknown keys: {', '.join(sorted(unknown))}")
    return Limits(**values)
