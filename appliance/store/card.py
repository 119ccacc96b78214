"""The box's card: is there room left? A full card must be said as such ("the box's storage
is full", 507), not as a storage that restarts: nothing will get better by retrying until
someone makes room."""

from __future__ import annotations

import shutil

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
