"""Wrong guesses, counted: the owner's codes and passwords, the tablets' pairing PINs.

One Lua script for all of them, so that the check, the secret taken and the failure counted
are one step: concurrent guesses cannot all pass the check before any of them is counted.
Each counter opens its window at its first failure and holds ``most`` failures; once one is
full, every try is refused until it ends, without looking at what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.store.client import script

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True)
class Limit:
    key: str  # the counter (keys.admin_failures(address), keys.pair_failures(address)…)
    most: int  # failures it holds in a window


# KEYS: the counters, then (mode 'take') the secret. ARGV: the window, the mode, each counter's
# most. Answers {seconds to wait (0: not locked), the secret taken or false}.
_ATTEMPT = script("""
local counters = #ARGV - 2
local wait = 0
for i = 1, counters do
  if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[i + 2]) then
    wait = math.max(wait, redis.call('TTL', KEYS[i]), 1)
  end
end
if wait > 0 then return {wait, false} end
if ARGV[2] == 'take' then
  local secret = redis.call('GETDEL', KEYS[counters + 1])
  if secret then return {0, secret} end
end
if ARGV[2] ~= 'check' then
  for i = 1, counters do
    redis.call('SET', KEYS[i], 0, 'EX', ARGV[1], 'NX')
    redis.call('INCR', KEYS[i])
  end
end
return {0, false}
""")


def _attempt(r: redis.Redis, limits: list[Limit], window: int, mode: str,
             secret: str | None = None) -> tuple[int, bytes | None]:
    wait, taken = _ATTEMPT(keys=[*(limit.key for limit in limits), *([secret] if secret else [])],
                           args=[window, mode, *(limit.most for limit in limits)], client=r)
    return int(wait), taken


def locked(r: redis.Redis, limits: list[Limit], window: int) -> int:
    """Seconds to wait before trying again (0: try). Asked before anything costly (a hash)."""
    return _attempt(r, limits, window, "check")[0]


def failed(r: redis.Redis, limits: list[Limit], window: int) -> int:
    """Count one failure on each counter (none while locked); the seconds to wait, as ``locked``."""
    return _attempt(r, limits, window, "fail")[0]


def take(r: redis.Redis, limits: list[Limit], window: int, secret: str) -> tuple[int, bytes | None]:
    """Unless locked, take (read and delete) the one-time secret stored at key ``secret``;
    when there is none, count a failure. (seconds to wait, the secret's value or None)."""
    return _attempt(r, limits, window, "take", secret)
