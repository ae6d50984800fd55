"""A real Synapse homeserver in a subprocess, for tests of the Matrix adapter.

:class:`Synapse` owns one directory (config, keys, SQLite database, media, logs) and one port
on 127.0.0.1, both kept across :meth:`Synapse.stop` and :meth:`Synapse.start`, so a test can
restart the server mid-conversation and find its users, rooms and tokens again. Users are made
through the shared-secret admin API. Every HTTP call here uses only the standard library, so it
works in sync fixtures as well as in async tests.

Fixtures (import them into a conftest or test module): ``synapse`` (session-wide, rate limits
raised) and ``synapse_default_limits`` (session-wide, Synapse's own rate limits).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

SERVER_NAME = "localhost"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
UNLIMITED = {"per_second": 10000, "burst_count": 100000}
RAISED_LIMITS: dict[str, Any] = {
    "rc_message": UNLIMITED,
    "rc_registration": UNLIMITED,
    "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
    "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
    "rc_joins_per_room": UNLIMITED,
    "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
    "rc_room_creation": UNLIMITED,
    "rc_key_requests": UNLIMITED,
    "rc_profile": UNLIMITED,
    "rc_media_create": UNLIMITED,
}


class SynapseError(RuntimeError):
    """Synapse did not start, or answered an HTTP call with an error status."""

    def __init__(self, message: str, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(missing)"


class Synapse:
    """One Synapse homeserver living in ``directory``, listening on ``url``.

    The config and signing key are written on the first :meth:`start`; later starts reuse
    them, the database and the port. ``rate_limited=False`` raises Synapse's rate limits out
    of reach; ``True`` keeps its defaults (about 10 quick messages, then 429s).
    """

    server_name = SERVER_NAME

    def __init__(
        self, directory: Path, *, rate_limited: bool = False, port: int | None = None
    ) -> None:
        self.directory = Path(directory)
        self.rate_limited = rate_limited
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.config_path = self.directory / "homeserver.yaml"
        self.log_path = self.directory / "homeserver.log"
        self.console_path = self.directory / "console.log"
        self.start_seconds: float | None = None
        """How long the last :meth:`start` took, until ``/health`` answered."""
        self._process: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None

    # ----- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the Synapse process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start Synapse and return once ``/health`` answers; a no-op when it is running.

        Raises :class:`SynapseError` with the tails of its logs when it exits or is not
        ready within ``timeout`` seconds (the process is then stopped).
        """
        if self.running:
            return
        began = time.monotonic()
        self._prepare()
        self._console = self.console_path.open("ab")
        self._process = subprocess.Popen(
            self._command(),
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
        )
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._release()
                raise SynapseError(f"Synapse exited with {code} while starting\n{self._logs()}")
            if self._healthy():
                self.start_seconds = time.monotonic() - began
                return
            time.sleep(0.05)
        self.stop()
        raise SynapseError(f"Synapse was not ready within {timeout:g} s\n{self._logs()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop Synapse with SIGTERM, killing it after ``timeout`` seconds; always reaped."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._release()

    def __enter__(self) -> Synapse:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _release(self) -> None:
        self._process = None
        if self._console is not None:
            self._console.close()
            self._console = None

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)]

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _logs(self) -> str:
        return (
            f"--- {self.console_path} ---\n{_tail(self.console_path)}\n"
            f"--- {self.log_path} ---\n{_tail(self.log_path)}"
        )

    # ----- configuration ---------------------------------------------------------------------

    def _prepare(self) -> None:
        """Write the config (every start: same values) and generate missing keys once."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log_config = self.directory / "log_config.yaml"
        # YAML is a superset of JSON, so json.dumps writes valid YAML for Synapse.
        log_config.write_text(json.dumps(self._log_config(), indent=2))
        self.config_path.write_text(json.dumps(self._config(log_config), indent=2))
        signing_key = self.directory / "signing.key"
        if signing_key.exists():
            return
        result = subprocess.run(
            [*self._command(), "--generate-keys"],
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if result.returncode != 0 or not signing_key.exists():
            raise SynapseError(
                f"synapse --generate-keys failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
            )

    def _config(self, log_config: Path) -> dict[str, Any]:
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "public_baseurl": f"{self.url}/",
            "pid_file": str(self.directory / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "bind_addresses": ["127.0.0.1"],
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.directory / "homeserver.db")},
            },
            "log_config": str(log_config),
            "media_store_path": str(self.directory / "media_store"),
            "signing_key_path": str(self.directory / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "trusted_key_servers": [],
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "report_stats": False,
            # Fewest bcrypt rounds: registration and login take ~10 ms instead of ~250 ms.
            "bcrypt_rounds": 4,
        }
        if not self.rate_limited:
            config.update(RAISED_LIMITS)
        return config

    def _log_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(self.log_path),
                    "formatter": "plain",
                    "level": "WARNING",
                },
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
        }

    # ----- client helpers (standard library only) --------------------------------------------

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        """Call ``path`` on the server with a JSON ``body``; the decoded JSON answer.

        Raises :class:`SynapseError` carrying the status and decoded body on an HTTP error.
        """
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                answer: Any = json.loads(raw)
            except ValueError:
                answer = raw.decode(errors="replace")
            raise SynapseError(
                f"{method} {path} -> {error.code}: {answer}", error.code, answer
            ) from None

    def register(self, username: str, password: str, admin: bool = False) -> str:
        """Create a user via the shared-secret admin API; its full id ``@username:localhost``."""
        path = "/_synapse/admin/v1/register"
        nonce = self.request("GET", path)["nonce"]
        message = b"\x00".join(
            [
                nonce.encode(),
                username.encode(),
                password.encode(),
                b"admin" if admin else b"notadmin",
            ]
        )
        mac = hmac.new(self.shared_secret.encode(), message, hashlib.sha1).hexdigest()
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        return self.request("POST", path, body)["user_id"]

    def login(self, username: str, password: str) -> tuple[str, str]:
        """Log in with a password; the new ``(access_token, device_id)``."""
        answer = self.request(
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": username},
                "password": password,
            },
        )
        return answer["access_token"], answer["device_id"]

    def user_id(self, username: str) -> str:
        """The full Matrix id of the local user ``username``."""
        return f"@{username}:{SERVER_NAME}"


# ----- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A running Synapse shared by the session, rate limits raised.

    Tests may stop and start it, but must leave it running; use unique usernames.
    """
    with Synapse(tmp_path_factory.mktemp("synapse"), rate_limited=False) as server:
        yield server


@pytest.fixture(scope="session")
def synapse_default_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A running Synapse shared by the session, with Synapse's default rate limits."""
    with Synapse(tmp_path_factory.mktemp("synapse-limited"), rate_limited=True) as server:
        yield server
