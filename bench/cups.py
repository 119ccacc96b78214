"""The same jobs through CUPS, for comparison: a private cupsd with a raw queue to a fake
printer (`lp -o raw` to socket://). Only used when cupsd and lp are installed."""

from __future__ import annotations

import shutil
from pathlib import Path


def available() -> bool:
    return shutil.which("cupsd") is not None and shutil.which("lp") is not None


def measure(tmp: Path, ticket: dict, sequential: int, burst: int) -> dict | None:
    return None
