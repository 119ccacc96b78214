"""The box's card: is there room left? A full card must be said as such ("the box's storage
is full", 507), not as a storage that restarts: nothing will get better by retrying until
someone makes room. And files written to it so that a power cut leaves the old one or the new."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from appliance.config import Settings

# Below this, Redis cannot rewrite or even grow its append-only file safely.
MIN_FREE = 8 * 1024 * 1024
FULL_MESSAGE = "the box's storage is full: nothing new can be stored until room is made (see the setup page)"


def free_bytes(settings: Settings) -> int:
    try:
        return shutil.disk_usage(settings.data_dir).free
    except OSError:
        return 0


def full(settings: Settings) -> bool:
    return free_bytes(settings) < MIN_FREE


def says_full(exc: BaseException) -> bool:
    """Redis's own words for a write it could not make to disk."""
    text = str(exc)
    return "MISCONF" in text or "No space left" in text or "ENOSPC" in text


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """``path`` holds ``data`` or what it held before, whenever the power goes: written beside
    it, synced, renamed over it, and the rename synced."""
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(part, mode)  # whatever the umask made of it
    os.replace(part, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
