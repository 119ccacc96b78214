"""What every command group shares: the box's Redis (started for the moment when the box is
not running), tables on the terminal, and how a group adds its commands."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from appliance import config
from appliance.runtime import redis_server
from appliance.store import client

if TYPE_CHECKING:
    import redis

Handler = Callable[[argparse.Namespace, config.Settings], None]
Add = Callable[[str, Handler, str], argparse.ArgumentParser]  # name, handler, help -> its parser


@contextlib.contextmanager
def box_redis(settings: config.Settings) -> Iterator[redis.Redis]:
    """The box's Redis; when the box is not running, a private one for this command only."""
    process = None
    if settings.private_redis and not redis_server.listening(settings):
        process = redis_server.start(settings)
    try:
        yield client.connect(settings)
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)


def print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(row.get(c, "") if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
