"""The box's owner: the one-time setup code that lets them claim it, their password, logins
and the sessions they open.

No default password exists. Until the box is claimed, a setup code (8 digits, made at the
first start, shown by `appliance serve`, `appliance setup-code` and the first receipt) is what
proves physical access; the setup page asks for it with the shop's name, the language and a
new password. After that every page needs the password, hashed with Argon2id.

Anyone on the shop's Wi-Fi can reach the login page, so:
- wrong codes and passwords are limited per address, checked before anything is hashed, and
  each refusal says how long to wait; there is no limit for everybody, which one stranger
  could keep tripping to keep the owner out;
- a hash (0.2 s, 64 MiB) runs off the event loop, in as many threads as the cores but one:
  attempts beyond them are refused at once (429) instead of queueing, and passwords longer
  than MAX_PASSWORD are refused unhashed, so logins never stall the tablets' printing;
- a login code (``appliance admin login-code``, shown on the box's console or printed on the
  receipt printer) lets the owner in whatever a stranger does: 50 bits, one use, 15 minutes;
- a login opens a session kept in Redis with its expiry (the cookie holds only its id): a
  logout ends it, a password change ends every other one, "log out everywhere" ends all.

`appliance admin reset-password` (physical access is ownership) sets a new password.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance import offload, settings
from appliance.access import limiter
from appliance.errors import Forbidden, Invalid, TooManyAttempts
from appliance.store import keys

if TYPE_CHECKING:
    import redis

LANGUAGES = ("fr", "en")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
FAILURES_PER_CLIENT = 5
FAILURE_WINDOW = 60
SESSION_SECONDS = 12 * 3600  # idle time after which a login ends
LOGIN_CODE_SECONDS = 15 * 60
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L to misread off a receipt
_hasher = PasswordHasher()
HASHERS = max(1, (os.cpu_count() or 1) - 1)  # a core stays free for printing
_hashing = threading.BoundedSemaphore(HASHERS)  # gevent's in the web process (patched)
TOO_MANY = "too many wrong attempts from this device; try again in %(seconds)s s"
BUSY = "the box is checking other passwords; try again in a second"
WRONG_PASSWORD = "wrong password"
WRONG_CODE = "wrong or expired login code"
MESSAGES = (TOO_MANY, BUSY, WRONG_PASSWORD, WRONG_CODE)  # what the login page may say (translated)

def _limits(client: str) -> list[limiter.Limit]:
    return [limiter.Limit(keys.admin_failures(client), FAILURES_PER_CLIENT)]


def _refuse_if(wait: int) -> None:
    if wait:
        raise TooManyAttempts(TOO_MANY, params={"seconds": wait}, retry_after=wait)


def _check_address(r: redis.Redis, client: str) -> None:
    _refuse_if(limiter.locked(r, _limits(client), FAILURE_WINDOW))


def _count_failure(r: redis.Redis, client: str) -> None:
    limiter.failed(r, _limits(client), FAILURE_WINDOW)


def _hash_off_the_loop(work, *args):
    """Argon2 in the pool; refused at once when every slot is hashing already."""
    if not _hashing.acquire(blocking=False):
        raise TooManyAttempts(BUSY, retry_after=1)
    try:
        return offload.run(work, *args)
    finally:
        _hashing.release()


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def claimed(r: redis.Redis) -> bool:
    return bool(r.hexists(keys.admin(), "password_hash"))


def setup_code(r: redis.Redis) -> str | None:
    """The code that claims the box (made once, at the first call); None once claimed."""
    if claimed(r):
        return None
    r.set(keys.setup_code(), f"{secrets.randbelow(10**8):08d}", nx=True)
    code = r.get(keys.setup_code())
    return code.decode() if code else None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the password needs at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"the password is too long ({MAX_PASSWORD} characters at most)", field="password")


def claim(r: redis.Redis, code: str, shop_name: str, language: str, password: str, client: str) -> None:
    """First run: the setup code, the shop's name, the language and the owner's password, all
    or nothing."""
    if claimed(r):
        raise Forbidden("this box is set up already: log in")
    _check_address(r, client)
    expected = setup_code(r)
    if not (expected and secrets.compare_digest(code.strip(), expected)):
        _count_failure(r, client)
        raise Invalid("wrong setup code (it is printed by `appliance setup-code` and on the first receipt)",
                      field="code")
    if language not in LANGUAGES:
        raise Invalid(f"language: one of {', '.join(LANGUAGES)}", field="language")
    _check_password(password)
    settings.declared("shop_name").parse(shop_name)
    hashed = _hash_off_the_loop(_hasher.hash, password)
    with r.pipeline() as pipe:
        pipe.watch(keys.admin())
        if pipe.hexists(keys.admin(), "password_hash"):
            raise Forbidden("this box is set up already: log in")
        pipe.multi()
        pipe.hset(keys.admin(), mapping={"password_hash": hashed, "language": language})
        settings.put(pipe, shop_name=shop_name)
        pipe.delete(keys.setup_code())
        pipe.execute()


def login(r: redis.Redis, password: str, client: str) -> None:
    """Forbidden (wrong password), TooManyAttempts (this address is locked out, or the pool is
    busy), or nothing: the password is right."""
    stored = r.hget(keys.admin(), "password_hash")
    if stored is None:
        raise Forbidden("this box is not set up yet")
    _check_address(r, client)
    right = len(password) <= MAX_PASSWORD and _hash_off_the_loop(_verify, stored.decode(), password)
    if not right:
        _count_failure(r, client)
        raise Forbidden(WRONG_PASSWORD, field="password")


def set_password(r: redis.Redis, password: str, keep_session: str | None = None) -> None:
    """A new password (the CLI's reset, or the owner's own change once logged in). Every
    session but ``keep_session`` (the owner's own, on the page) ends with the old password."""
    _check_password(password)
    r.hset(keys.admin(), "password_hash", _hash_off_the_loop(_hasher.hash, password))
    end_sessions(r, keep=keep_session)


def language(r: redis.Redis) -> str:
    value = r.hget(keys.admin(), "language")
    return value.decode() if value else LANGUAGES[0]


# -- login codes: the way in no stranger can lock --------------------------------------------

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_login_code(r: redis.Redis) -> str:
    """A one-time code that opens the page instead of the password, for LOGIN_CODE_SECONDS
    (only someone at the box makes one: its console, or its receipt printer). It replaces the
    one before."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    r.set(keys.admin_login_code(), _digest(raw), ex=LOGIN_CODE_SECONDS)
    return f"{raw[:5]}-{raw[5:]}"


def login_with_code(r: redis.Redis, code: str, client: str) -> None:
    """Forbidden, or nothing: the code was right, and is used up. It is tried whatever the
    address's lock-out (50 bits cannot be guessed within the code's 15 minutes), so a stranger
    cannot lock the owner out of it; a wrong one counts against the address's passwords. No
    hash to compute, so no pool to wait for."""
    typed = re.sub(r"[\s-]", "", code).upper()
    digest = r.get(keys.admin_login_code())
    if not (digest and len(typed) == 10 and secrets.compare_digest(_digest(typed), digest.decode())
            and r.delete(keys.admin_login_code())):
        _count_failure(r, client)
        raise Forbidden(WRONG_CODE, field="code")


# -- sessions ----------------------------------------------------------------------------------

def start_session(r: redis.Redis) -> str:
    """A new session for a login: its id goes into the cookie, its digest into Redis, so
    whoever reads Redis's file cannot use it."""
    session_id = secrets.token_urlsafe(32)
    digest = _digest(session_id)
    with r.pipeline() as pipe:
        pipe.set(keys.admin_session(digest), 1, ex=SESSION_SECONDS)
        pipe.sadd(keys.admin_sessions(), digest)
        pipe.execute()
    return session_id


def session_alive(r: redis.Redis, session_id: str | None) -> bool:
    """Is this a live session? Each use pushes its end back, but writes only when half of its
    time has gone (a write is an fsync on the card)."""
    if not session_id:
        return False
    key = keys.admin_session(_digest(session_id))
    left = r.ttl(key)
    if left < 0:
        return False
    if left < SESSION_SECONDS // 2:
        r.expire(key, SESSION_SECONDS)
    return True


def end_session(r: redis.Redis, session_id: str | None) -> None:
    if session_id:
        digest = _digest(session_id)
        with r.pipeline() as pipe:
            pipe.delete(keys.admin_session(digest))
            pipe.srem(keys.admin_sessions(), digest)
            pipe.execute()


def end_sessions(r: redis.Redis, keep: str | None = None) -> int:
    """End every session (but ``keep``): "log out everywhere", and a new password. The number
    ended."""
    kept = _digest(keep) if keep else None
    ended = 0
    for member in r.smembers(keys.admin_sessions()):
        digest = member.decode()
        if digest != kept:
            with r.pipeline() as pipe:
                pipe.delete(keys.admin_session(digest))
                pipe.srem(keys.admin_sessions(), digest)
                ended += pipe.execute()[0]
    return ended


def session_secret(data_dir: Path) -> bytes:
    """The key that signs the setup page's cookies, made once per box, in a file only the
    box's own user can read (it was once in Redis, whose file others could read)."""
    path = data_dir / "secrets" / "session.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode())
        out.flush()
        os.fsync(out.fileno())
    return path.read_bytes()
