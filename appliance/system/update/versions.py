"""The versions' directory on the data partition (``/var/lib/comptoir/versions``): the
bundle waiting to be installed, each installed version, the ``current`` and ``previous``
links, the trial a power cut may interrupt, and ``state.json``, what the last update did.
Every change is a rename of a synced file, so a power cut leaves the old state or the new."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.config import Settings
from appliance.store import card


@dataclass(frozen=True)
class Paths:
    """The update's files on the data partition (``/var/lib/comptoir/versions``)."""

    root: Path

    @classmethod
    def of(cls, settings: Settings) -> Paths:
        return cls(settings.data_dir / "versions")

    @property
    def incoming(self) -> Path:
        return self.root / "incoming.tar"

    @property
    def trial(self) -> Path:
        return self.root / "trial.json"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def previous(self) -> Path:
        return self.root / "previous"


def state(settings: Settings) -> dict:
    """What the last update did, and which version runs (for the page and ``appliance update``)."""
    paths = Paths.of(settings)
    state = stored(paths)
    state["current"] = link(paths.current)
    state["previous"] = link(paths.previous)
    return state


def stored(paths: Paths) -> dict:
    try:
        return json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {}


def record(paths: Paths, step: str, **fields: object) -> None:
    if step != "done":
        fields.setdefault("result", None)
        fields.setdefault("reason", None)
    write_json(paths.state, {**stored(paths), "step": step, "since": time.time(), **fields})


def write_json(path: Path, data: dict) -> None:
    card.write_atomically(path, json.dumps(data).encode())


def point(link: Path, directory: str) -> None:
    """Point ``link`` at ``directory`` (a sibling) in one rename: never missing, never half."""
    part = link.with_name(link.name + ".part")
    part.unlink(missing_ok=True)
    part.symlink_to(directory)
    os.replace(part, link)
    card.fsync_dir(link.parent)


def link(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None


def resolve(link: Path) -> Path | None:
    return link.resolve() if link.is_symlink() else None


def prune(paths: Paths, keep: set[str | None]) -> None:
    """Only the running version and the one before it stay on the card."""
    for entry in paths.root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


