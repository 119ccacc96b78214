"""The Redis client every part of the box uses, and the helpers around it: one way to
connect, to read a hash as text, to run a script registered once, and to run an optimistic
transaction (WATCH, read, MULTI, write, again if a watched key moved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from appliance.config import Settings

if TYPE_CHECKING:
    import redis

T = TypeVar("T")


def connect(settings: Settings, socket_timeout: float | None = None, shared_by: int = 0) -> redis.Redis:
    """A binary-safe client (rq needs bytes, and job payloads are raw ESC/POS). A client that
    blocks on the server (a dequeue, an XREAD) needs a socket timeout longer than its block.
    ``shared_by``: the client serves that many greenlets or threads at most at once (the API):
    they take turns on that many connections instead of opening one each."""
    import redis

    options = {} if socket_timeout is None else {"socket_timeout": socket_timeout}
    if shared_by:
        pool = redis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=shared_by, timeout=30,
                                                     **options)
        return redis.Redis(connection_pool=pool)
    return redis.Redis.from_url(settings.redis_url, **options)


def decode_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A hash as text: the client is binary (see connect), most hashes hold text."""
    return {k.decode(): v.decode() for k, v in raw.items()}


class Script:
    """A Lua script, its SHA-1 computed once, at its first call: each call is one EVALSHA
    (loaded again by redis-py when a restarted Redis no longer knows it). Made at import by the
    modules that use one, it imports nothing until then: the web process must import redis only
    after gevent has patched the standard library."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._script = None

    def __call__(self, *, keys: list, args: list, client: redis.Redis):
        if self._script is None:
            from redis.commands.core import Script as Loaded

            self._script = Loaded(None, self.source.encode())
        return self._script(keys=keys, args=args, client=client)


def script(source: str) -> Script:
    return Script(source)


def transaction(r: redis.Redis, watched: Callable[[], list[str]] | list[str],
                body: Callable[[redis.client.Pipeline], T], attempts: int | None = None,
                contended: Exception | None = None) -> T:
    """Run ``body`` as an optimistic transaction over the keys ``watched`` names (a list, or a
    function of nothing that reads them, for keys known only once something is read), again
    whenever another client changed one of them first: at most ``attempts`` times, then
    ``contended`` is raised. ``body`` reads on the watching pipeline, calls ``pipe.multi()``,
    queues its writes and executes them (or resets it: nothing to do). No key watched: one
    MULTI, for writers that know no one else writes what they write."""
    import redis

    with r.pipeline() as pipe:
        tried = 0
        while attempts is None or tried < attempts:
            tried += 1
            try:
                if names := watched() if callable(watched) else watched:
                    pipe.watch(*names)
                return body(pipe)
            except redis.WatchError:
                continue
    assert contended is not None
    raise contended
