"""The web apps allowed to call the box's API from a browser (CORS), as the owner listed them
on the setup page or with ``appliance settings origins``: exact origins, compared lowercased."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from appliance.errors import Invalid
from appliance.store import keys

if TYPE_CHECKING:
    import redis

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$")
FORMAT = "an origin is a scheme and a host, with a port if any: https://pos.example.com"


def normalize(origin: str) -> str:
    """``https://POS.example.com/`` -> ``https://pos.example.com``; Invalid if it is not one."""
    value = origin.strip().lower().rstrip("/")
    if not _ORIGIN.match(value):
        raise Invalid(FORMAT, field="origins", origin=origin)
    return value


def listed(r: redis.Redis) -> list[str]:
    return sorted(member.decode() for member in r.smembers(keys.allowed_origins()))


def replace(r: redis.Redis, origins: list[str]) -> list[str]:
    """Replace the list, all or nothing: one bad origin saves none of them."""
    clean = sorted({normalize(o) for o in origins if o.strip()})
    with r.pipeline() as pipe:
        pipe.delete(keys.allowed_origins())
        if clean:
            pipe.sadd(keys.allowed_origins(), *clean)
        pipe.execute()
    return clean


def allowed(r: redis.Redis, origin: str) -> bool:
    return bool(r.sismember(keys.allowed_origins(), origin.lower()))
