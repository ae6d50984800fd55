"""What a log line may say about a failure: its type and where it happened, never its
message (which may quote what a person typed, or the parameters of a statement)."""

from __future__ import annotations

import traceback
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def describe(error: BaseException) -> str:
    """``IntegrityError at core/commands/needs.py:57 in need``: the exception's type and the
    innermost frame of our own code (or the innermost frame at all)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if _is_ours(f.filename)]
    frame = (ours or frames or [None])[-1]
    name = type(error).__qualname__
    if frame is None:
        return name
    path = Path(frame.filename).resolve()
    shown = path.relative_to(_ROOT) if _is_ours(frame.filename) else path.name
    return f"{name} at {shown}:{frame.lineno} in {frame.name}"


def _is_ours(filename: str) -> bool:
    path = Path(filename).resolve()
    return path.is_relative_to(_ROOT) and "site-packages" not in path.parts
