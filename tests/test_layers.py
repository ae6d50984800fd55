"""The layer rule: imports point down only (bots -> adapters -> core -> storage)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_LIBRARIES = {"telegram", "nio", "discord", "aiohttp", "apscheduler"}
FORBIDDEN = {
    "storage": {"core", "adapters", "bots"} | PLATFORM_LIBRARIES,
    "core": {"adapters", "bots"} | PLATFORM_LIBRARIES,
    "adapters": {"bots"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every module ``path`` imports, at any depth in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files in {layer}/"
    offences = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in files
    }
    assert {name: bad for name, bad in offences.items() if bad} == {}


def test_the_checker_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import telegram.ext\n    from bots.cli import main\n")
    assert imported_packages(sample) == {"telegram", "bots"}
