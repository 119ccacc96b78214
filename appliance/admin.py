"""The box's owner: the one-time setup code that lets them claim it, their password, logins.

No default password exists. Until the box is claimed, a setup code (8 digits, made at the
first start, shown by `appliance serve`, `appliance setup-code` and the first receipt) is what
proves physical access; the setup page asks for it with the shop's name, the language and a
new password. After that every page needs the password, hashed with Argon2id. Wrong codes and
passwords are limited per address and for everybody, in one atomic step, like PINs.
`appliance admin reset-password` (physical access is ownership) sets a new one.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance import keys
from appliance.errors import Forbidden, Invalid, TooManyAttempts

if TYPE_CHECKING:
    import redis

LANGUAGES = ("fr", "en")
MIN_PASSWORD = 8
FAILURES_PER_CLIENT = 5
FAILURES_ALL = 30
FAILURE_WINDOW = 60
_hasher = PasswordHasher()

# The limits, the check and the count in one step (see devices._PAIR): ARGV[4] is 1 when the
# caller already knows the answer is right, 0 when it is wrong.
_ATTEMPT = """
local mine = tonumber(redis.call('GET', KEYS[1]) or '0')
local everyone = tonumber(redis.call('GET', KEYS[2]) or '0')
if mine >= tonumber(ARGV[1]) or everyone >= tonumber(ARGV[2]) then
  return math.max(redis.call('TTL', KEYS[1]), redis.call('TTL', KEYS[2]), 1)
end
if ARGV[4] == '0' then
  for i = 1, 2 do
    redis.call('SET', KEYS[i], 0, 'EX', ARGV[3], 'NX')
    redis.call('INCR', KEYS[i])
  end
end
return 0
"""


def _attempt(r: redis.Redis, client: str, right: bool) -> None:
    """Count a wrong answer; refuse any answer while the limits hold."""
    wait = r.register_script(_ATTEMPT)(keys=[keys.admin_failures(client), keys.admin_failures("*all*")],
                                       args=[FAILURES_PER_CLIENT, FAILURES_ALL, FAILURE_WINDOW, int(right)])
    if wait:
        raise TooManyAttempts(f"too many wrong attempts; try again in {int(wait)} s", retry_after=int(wait))


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
    if len(password) > 256:
        raise Invalid("the password is too long (256 characters at most)", field="password")


def claim(r: redis.Redis, code: str, shop_name: str, language: str, password: str, client: str) -> None:
    """First run: the setup code, the shop's name, the language and the owner's password, all
    or nothing."""
    from appliance.sync import shop

    if claimed(r):
        raise Forbidden("this box is set up already: log in")
    expected = setup_code(r)
    right = bool(expected) and secrets.compare_digest(code.strip(), expected or "")
    _attempt(r, client, right)
    if not right:
        raise Invalid("wrong setup code (it is printed by `appliance setup-code` and on the first receipt)",
                      field="code")
    if language not in LANGUAGES:
        raise Invalid(f"language: one of {', '.join(LANGUAGES)}", field="language")
    _check_password(password)
    shop.check_name(shop_name)
    with r.pipeline() as pipe:
        pipe.watch(keys.admin())
        if pipe.hexists(keys.admin(), "password_hash"):
            raise Forbidden("this box is set up already: log in")
        pipe.multi()
        pipe.hset(keys.admin(), mapping={"password_hash": _hasher.hash(password), "language": language})
        pipe.hset(keys.shop_settings(), "shop_name", shop_name.strip())
        pipe.delete(keys.setup_code())
        pipe.execute()


def login(r: redis.Redis, password: str, client: str) -> None:
    """Forbidden (wrong password), TooManyAttempts, or nothing: the password is right."""
    stored = r.hget(keys.admin(), "password_hash")
    if stored is None:
        raise Forbidden("this box is not set up yet")
    try:
        right = _hasher.verify(stored.decode(), password)
    except (VerificationError, InvalidHashError):
        right = False
    _attempt(r, client, right)
    if not right:
        raise Forbidden("wrong password", field="password")


def set_password(r: redis.Redis, password: str) -> None:
    """A new password (the CLI's reset, or the owner's own change once logged in)."""
    _check_password(password)
    r.hset(keys.admin(), "password_hash", _hasher.hash(password))


def language(r: redis.Redis) -> str:
    value = r.hget(keys.admin(), "language")
    return value.decode() if value else LANGUAGES[0]


def session_secret(r: redis.Redis) -> bytes:
    """The key that signs the setup page's session cookies, made once per box."""
    r.set(keys.admin_secret(), secrets.token_hex(32), nx=True)
    return r.get(keys.admin_secret())


# -- web apps allowed to call the API from a browser (CORS) ----------------------------------

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$")
ORIGIN_FORMAT = "an origin is a scheme and a host, with a port if any: https://pos.example.com"


def normalize_origin(origin: str) -> str:
    """``https://POS.example.com/`` -> ``https://pos.example.com``; Invalid if it is not one."""
    value = origin.strip().lower().rstrip("/")
    if not _ORIGIN.match(value):
        raise Invalid(ORIGIN_FORMAT, field="origins", origin=origin)
    return value


def allowed_origins(r: redis.Redis) -> list[str]:
    return sorted(member.decode() for member in r.smembers(keys.allowed_origins()))


def set_allowed_origins(r: redis.Redis, origins: list[str]) -> list[str]:
    """Replace the list, all or nothing: one bad origin saves none of them."""
    clean = sorted({normalize_origin(o) for o in origins if o.strip()})
    with r.pipeline() as pipe:
        pipe.delete(keys.allowed_origins())
        if clean:
            pipe.sadd(keys.allowed_origins(), *clean)
        pipe.execute()
    return clean


def origin_allowed(r: redis.Redis, origin: str) -> bool:
    return bool(r.sismember(keys.allowed_origins(), origin.lower()))
