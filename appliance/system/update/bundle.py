"""An update bundle: a tar of ``manifest.json``, ``manifest.sig`` and ``wheels/*.whl``;
made and signed on the release side (``keygen``, ``pack``), checked on the box (``verify``)
before anything of it is trusted."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.errors import Conflict, Invalid

FORMAT = 1
PACKAGE = "comptoir-appliance"
# A bundle is about 32 MiB (35 arm64 wheels): three times that leaves room to grow, and an
# upload larger than this is refused from its headers, before a byte of it is stored.
MAX_BUNDLE = 96 * 1024 * 1024
MAX_MANIFEST = 1024 * 1024
_WHEEL = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")
# What an owner can meet on the setup page (translated there: webui's catalogues).
NO_KEY = "this box has no key to check updates with (it was not built from the SD card image)"
NOT_A_BUNDLE = "this file is not an update bundle (a Comptoir update is a .tar file)"
NOT_SIGNED = "this update is not signed by Comptoir's key: refused"
TAMPERED = "this update's files are not the ones it signed: refused"
TOO_BIG = "this file is too big to be an update"


@dataclass(frozen=True)
class Manifest:
    version: str
    wheels: dict[str, str]  # file name -> SHA-256
    digest: str  # of the manifest itself: names the version's directory

    @property
    def directory(self) -> str:
        return f"{self.version}-{self.digest[:8]}"


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


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
    return sha.hexdigest()


