"""Receiving a bundle (the setup page and ``appliance update FILE``, as the unprivileged
``comptoir`` user): checked as it is stored, left as ``versions/incoming.tar`` for ``apply``."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from appliance.config import Settings
from appliance.errors import Conflict, Invalid
from appliance.system.update import bundle, versions
from appliance.system.update.bundle import MAX_BUNDLE, Manifest

MAX_UPLOAD = MAX_BUNDLE + 64 * 1024  # the multipart form around it
UNDER_WAY = "an update is already under way: wait for it to finish"
CHOOSE_FILE = "choose the update file first"
REFUSALS = (bundle.NO_KEY, bundle.NOT_A_BUNDLE, bundle.NOT_SIGNED, bundle.TAMPERED, UNDER_WAY, bundle.TOO_BIG,
            CHOOSE_FILE)


def receive(settings: Settings, source: BinaryIO) -> Manifest:
    """Store an uploaded bundle for ``apply``, once it is checked. Refuses a second one while
    an update is under way (it would be judged against the wrong version)."""
    paths = versions.Paths.of(settings)
    paths.root.mkdir(parents=True, exist_ok=True)
    if paths.incoming.exists() or paths.trial.exists():
        raise Conflict(UNDER_WAY)
    for stale in paths.root.glob("incoming-*.part"):  # what an upload cut short left (a power cut)
        if time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)
    fd, name = tempfile.mkstemp(prefix="incoming-", suffix=".part", dir=paths.root)
    part = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            while chunk := source.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_BUNDLE:
                    raise Invalid(bundle.TOO_BIG)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        manifest = bundle.verify(part, settings.update_keys)
    except BaseException:  # refused, or the upload cut short: nothing stays on the card
        part.unlink(missing_ok=True)
        raise
    versions.record(paths, "waiting", version=manifest.version)
    os.replace(part, paths.incoming)
    return manifest


def wait(settings: Settings, timeout: float, tick: Callable[[dict], None]) -> dict:
    """Follow ``apply`` until it has judged the update (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        state = versions.state(settings)
        if state != last:
            tick(state)
            last = state
        if state.get("step") == "done" or time.monotonic() > deadline:
            return state
        time.sleep(1)


