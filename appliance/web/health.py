"""GET /healthz: 200 only when the box can take and print jobs and be reached: Redis answers
and takes a write (a full card or a read-only Redis fail that), the card has room, the worker
pool and every printer's worker are alive, and so is every part of the background process (the
virtual printers, the searches, mDNS, the certificates). An update's trial judges the box by
it, so a version whose network side crashes is not kept."""

from __future__ import annotations

import json
import socket

import redis
from flask import Blueprint, current_app, jsonify

from appliance import __version__
from appliance.printing import printers
from appliance.store import card, keys
from appliance.web import store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    r: redis.Redis = store()
    settings = current_app.extensions["settings"]
    free = card.free_bytes(settings)
    if free < card.MIN_FREE:
        return jsonify({"ok": False, "storage_free": free, "problem": card.FULL_MESSAGE}), 503
    try:
        r.set(keys.health_probe(), "1", ex=60)
        pool = r.get(keys.pool_heartbeat())
        background = r.get(keys.background_heartbeat())
        configured = [c.name for c in printers.all_configs(r)]
        alive = {name for name in configured if r.exists(keys.printer_worker(name))}
    except redis.RedisError as exc:
        return jsonify({"ok": False, "redis": False, "problem": str(exc)}), 503
    workers = json.loads(pool)["workers"] if pool else {}
    missing = sorted(set(configured) - alive)
    parts = json.loads(background)["parts"] if background else {}
    down = sorted(name for name, running in parts.items() if not running)
    ok = pool is not None and not missing and background is not None and not down
    body = {"ok": ok, "version": __version__, "host": socket.gethostname(),
            "redis": True, "storage_free": free, "pool": pool is not None,
            "printers": {name: name in alive for name in configured}, "worker_pids": workers,
            "background": parts}
    if not ok:
        body["problem"] = ("worker pool down" if pool is None else f"no worker yet for {', '.join(missing)}"
                           if missing else "background process down" if background is None
                           else f"background process: {', '.join(down)} stopped")
    return jsonify(body), 200 if ok else 503
