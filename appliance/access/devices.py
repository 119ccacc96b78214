"""Tablets: pairing with a one-time PIN, bearer tokens, listing and revoking.

A PIN is 6 digits, valid 10 minutes, usable once. Wrong PINs are rate-limited per client
address (5 a minute) and for everybody together (30 a minute), so guessing a live PIN among a
million is hopeless. Tokens are 256-bit random strings given to the tablet once; the box keeps
only their SHA-256, so a copy of the Redis data cannot be used to impersonate a tablet.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING

from appliance.access import limiter
from appliance.errors import Invalid, NotFound, TooManyAttempts
from appliance.store import keys
from appliance.store.client import decode_hash, script

PIN_TTL = 600
FAILURES_PER_CLIENT = 5
FAILURES_ALL = 30
FAILURE_WINDOW = 60
ROLES = ("staff", "manager")
SEEN_EVERY = 60.0  # seconds between two writes of a tablet's "last seen"
CONNECTED_WITHIN = 2 * SEEN_EVERY + 15  # heard from this recently: connected now

if TYPE_CHECKING:
    import redis


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_pin(r: redis.Redis, name: str | None = None, role: str = "staff") -> str:
    """A fresh one-time PIN; ``name`` and ``role`` are given to the tablet that uses it."""
    if role not in ROLES:
        raise Invalid(f"role {role!r}: use one of {', '.join(ROLES)}")
    grant = json.dumps({"name": name, "role": role})
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if r.set(keys.pin(code), grant, nx=True, ex=PIN_TTL):
            return code


def pairing_locked(r: redis.Redis) -> int:
    """Seconds pairing stays closed to everybody after too many wrong PINs (0: open), for
    the owner to see: a PIN that "does not work" may only be waiting out someone's guesses."""
    if int(r.get(keys.pair_failures_all()) or 0) < FAILURES_ALL:
        return 0
    return max(r.ttl(keys.pair_failures_all()), 1)


def pair(r: redis.Redis, code: str, name: str | None, client: str) -> dict:
    """Exchange a PIN for a device id and token (the only time the token is shown)."""
    pin_key = keys.pin(code if code.isdigit() and len(code) == 6 else "malformed")
    limits = [limiter.Limit(keys.pair_failures(client), FAILURES_PER_CLIENT),
              limiter.Limit(keys.pair_failures_all(), FAILURES_ALL)]
    wait, grant = limiter.take(r, limits, FAILURE_WINDOW, pin_key)
    if wait:
        raise TooManyAttempts(f"too many wrong PINs; pairing reopens in {wait} s", retry_after=wait)
    if grant is None:
        raise Invalid("wrong or expired PIN")
    granted = json.loads(grant)
    device_id = str(uuid.uuid4())
    token = secrets.token_urlsafe(32)
    device = {
        "device_id": device_id,
        "name": name or granted["name"] or f"tablet-{device_id[:8]}",
        "role": granted["role"],
        "paired_at": time.time(),
        "receipt_printer": "",
        "token_hash": _hash(token),
    }
    with r.pipeline() as pipe:
        pipe.hset(keys.device(device_id), mapping=device)
        pipe.hset(keys.tokens(), device["token_hash"], device_id)
        pipe.zadd(keys.devices(), {device_id: device["paired_at"]})
        pipe.execute()
    return {"device_id": device_id, "token": token, "name": device["name"], "role": device["role"]}


def _public(raw: dict[bytes, bytes]) -> dict:
    data = decode_hash(raw)
    data.pop("token_hash", None)
    data["paired_at"] = float(data["paired_at"])
    data["receipt_printer"] = data.get("receipt_printer") or None
    data["last_seen"] = float(data["last_seen"]) if data.get("last_seen") else None
    return data


def seen(r: redis.Redis, device: dict, now: float | None = None) -> None:
    """A tablet talked to the box (a request, or its event stream still open): its "last
    seen" for the owner, written at most once a SEEN_EVERY (each write reaches the card)."""
    now = time.time() if now is None else now
    if now - (device.get("last_seen") or 0.0) >= SEEN_EVERY:
        r.hset(keys.device(device["device_id"]), "last_seen", now)
        device["last_seen"] = now


def presence(device: dict, now: float) -> str:
    """"connected" (heard from within CONNECTED_WITHIN seconds), "seen" (before) or "never". Pure."""
    last = device.get("last_seen")
    if last is None:
        return "never"
    return "connected" if now - last <= CONNECTED_WITHIN else "seen"


# Token -> device record in one round trip: every API call pays for it.
_AUTHENTICATE = script("""
local device_id = redis.call('HGET', KEYS[1], ARGV[1])
if not device_id then return false end
return redis.call('HGETALL', ARGV[2] .. device_id)
""")


def authenticate(r: redis.Redis, token: str) -> dict | None:
    """The device a bearer token belongs to, or None."""
    found = _AUTHENTICATE(keys=[keys.tokens()], args=[_hash(token), keys.device("")], client=r)
    if not found:
        return None
    return _public(dict(zip(found[::2], found[1::2], strict=True)))


def get(r: redis.Redis, device_id: str) -> dict:
    raw = r.hgetall(keys.device(device_id))
    if not raw:
        raise NotFound(f"no device {device_id}")
    return _public(raw)


def list_all(r: redis.Redis) -> list[dict]:
    ids = [i.decode() for i in r.zrange(keys.devices(), 0, -1)]
    return [_public(raw) for raw in (r.hgetall(keys.device(i)) for i in ids) if raw]


def find(r: redis.Redis, id_or_name: str) -> dict:
    """A device by id, id prefix or name, as typed at the CLI."""
    matches = [d for d in list_all(r)
               if id_or_name in (d["device_id"], d["name"]) or d["device_id"].startswith(id_or_name)]
    if len(matches) != 1:
        raise NotFound(f"{'no' if not matches else 'more than one'} device matches {id_or_name!r}")
    return matches[0]


def revoke(r: redis.Redis, device_id: str) -> None:
    """The tablet's token stops working at once, and its open event streams close: the
    revocation is a change in the sync log, which every stream is watching anyway."""
    from appliance.sync import log

    token_hash = r.hget(keys.device(device_id), "token_hash")
    if token_hash is None:
        raise NotFound(f"no device {device_id}")
    with r.pipeline() as pipe:
        pipe.hdel(keys.tokens(), token_hash)
        pipe.delete(keys.device(device_id))
        pipe.zrem(keys.devices(), device_id)
        log.append(pipe, "device", device_id, {"revoked": True})
        pipe.execute()


APP_VERSION_HEADER = "X-Comptoir-App-Version"


def update(r: redis.Redis, device_id: str, name: str, role: str) -> None:
    """Rename a tablet or change its role (a manager's tablet may open and close the register)."""
    if not r.exists(keys.device(device_id)):
        raise NotFound(f"no device {device_id}")
    if not name.strip() or len(name) > 64:
        raise Invalid("a tablet's name: 1 to 64 characters", field="name")
    if role not in ROLES:
        raise Invalid(f"role {role!r}: use one of {', '.join(ROLES)}", field="role")
    r.hset(keys.device(device_id), mapping={"name": name.strip(), "role": role})


def note_app_version(r: redis.Redis, device: dict, version: str) -> None:
    """Tablets say which version of their app they run (header APP_VERSION_HEADER); written
    only when it changes, so the owner sees tablets that disagree."""
    version = version.strip()[:40]
    if version and version != device.get("app_version"):
        r.hset(keys.device(device["device_id"]), "app_version", version)


def app_versions(tablets: list[dict]) -> list[str]:
    """The distinct app versions the tablets run (more than one: a warning for the owner)."""
    return sorted({t["app_version"] for t in tablets if t.get("app_version")})


def set_receipt_printer(r: redis.Redis, device_id: str, printer: str | None) -> None:
    """Give a tablet its own receipt printer (jobs for role ``receipt`` go there)."""
    if not r.exists(keys.device(device_id)):
        raise NotFound(f"no device {device_id}")
    if printer:
        from appliance.printing import printers  # the printing stack is heavy for a lookup

        printers.get(r, printer)
    r.hset(keys.device(device_id), "receipt_printer", printer or "")
