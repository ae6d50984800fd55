"""The lock files agree with pyproject.toml: every dependency it declares is pinned to one
version that its specifier allows, with the hashes of the files PyPI serves, and the runtime
lock pins the same versions as the test lock. ``make lock`` refreshes both; a failure here
means pyproject.toml changed without it.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
LOCKS = [RUNTIME_LOCK, TEST_LOCK]
HASH = re.compile(r"sha256:[0-9a-f]{64}")


class Pin(NamedTuple):
    version: Version
    hashes: list[str]


@cache
def pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


@cache
def pins(lock: Path) -> dict[str, Pin]:
    """Package name -> its pin, from lines such as ``name==1.2 --hash=sha256:...`` (pip's
    requirements format, with the hashes on continuation lines)."""
    found: dict[str, Pin] = {}
    for line in lock.read_text().replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        # An index, a find-links folder, an editable or a constraint file has no place here.
        assert not line.startswith("-"), f"{lock.name}: not a pin: {line}"
        requirement, *hashes = line.split(" --hash=")
        req = Requirement(requirement)
        assert req.url is None, f"{lock.name}: {req.name} comes from {req.url}"
        specifiers = list(req.specifier)
        assert len(specifiers) == 1, f"{lock.name}: {req} is not one exact version"
        assert specifiers[0].operator == "==", f"{lock.name}: {req} is not one exact version"
        name = canonicalize_name(req.name)
        assert name not in found, f"{lock.name}: {name} is pinned twice"
        found[name] = Pin(Version(specifiers[0].version), [h.strip() for h in hashes])
    return found


def declared(lock: Path) -> list[Requirement]:
    """What the lock must cover: the runtime dependencies and the build backend (the project is
    installed without build isolation); the test lock covers every extra too."""
    project = pyproject()["project"]
    texts = [*project["dependencies"], *pyproject()["build-system"]["requires"]]
    if lock == TEST_LOCK:
        for extra in project["optional-dependencies"].values():
            texts.extend(extra)
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_every_pin_has_hashes(lock: Path) -> None:
    locked = pins(lock)
    assert locked, f"{lock.name} pins nothing"
    unhashed = [name for name, pin in locked.items() if not pin.hashes]
    assert not unhashed, f"{lock.name}: no --hash for {unhashed}"
    malformed = [h for pin in locked.values() for h in pin.hashes if not HASH.fullmatch(h)]
    assert not malformed, f"{lock.name}: not sha256 hashes: {malformed}"


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_lock_pins_what_pyproject_declares(lock: Path) -> None:
    locked = pins(lock)
    missing, outside = [], []
    for req in declared(lock):
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        pin = locked.get(canonicalize_name(req.name))
        if pin is None:
            missing.append(str(req))
        elif not req.specifier.contains(pin.version, prereleases=True):
            outside.append(f"{req} (locked: {pin.version})")
    assert not missing, f"{lock.name} does not pin {missing}: run make lock"
    assert not outside, f"{lock.name} pins versions pyproject.toml excludes: {outside}"


def test_runtime_lock_agrees_with_test_lock() -> None:
    runtime, test = pins(RUNTIME_LOCK), pins(TEST_LOCK)
    assert set(runtime) <= set(test), f"only in {RUNTIME_LOCK.name}: {set(runtime) - set(test)}"
    differ = {
        name: (str(pin.version), str(test[name].version))
        for name, pin in runtime.items()
        if pin.version != test[name].version
    }
    assert not differ, f"(runtime, test) versions differ: {differ}"
