"""Blocking work (an Argon2 hash, a bundle's checksums, an fsync) run off the web worker's
event loop, so one slow call does not stall every tablet on that worker.

In the web process gevent has patched the standard library (``cli.cmd_web``): the work runs
in gevent's pool of real threads and the calling greenlet waits without holding the loop.
Elsewhere (the CLI, the tests' direct calls) it simply runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run(work: Callable[..., T], *args: object) -> T:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent comes with the web server's extra
        return work(*args)
    if not monkey.is_module_patched("threading"):
        return work(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(work, args)
