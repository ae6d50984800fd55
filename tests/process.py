"""The real ``capx-bot`` process, for tests that run it as an operator would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOT_POWERS = "-dac_override,-dac_read_search,-fowner"
"""The capabilities that let root write where permissions say no one may."""


def capx_bot(
    *args: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``capx-bot ARGS`` run to its end in the project's directory, with ``stdin`` as its
    input; ``prefix`` goes before the Python command (such as :func:`as_anyone`)."""
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "bots.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def as_anyone() -> list[str]:
    """A command prefix under which file permissions hold: nothing for an ordinary user; for
    root (as in many containers), ``setpriv`` without the capabilities that override them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, without setpriv to honour file permissions")
    return [setpriv, "--bounding-set", ROOT_POWERS]


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line the process wrote on standard error (an assertion error otherwise)."""
    lines = done.stderr.splitlines()
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    return lines[0]
