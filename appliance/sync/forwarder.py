"""Sales and other records to the cloud back office, whenever the internet is there.

Records wait in the outbox stream, written in the same transaction as the change that made
them. The forwarder sends them oldest first, in batches, each with its idempotency key,
every 10 s while the shop is active and every 2 minutes when idle (both are settings). A
back office that is down costs nothing but a backlog: the tablets keep selling, and when it
answers again the backlog drains by itself, batch after batch. A record the back office
rejects goes to the dead-letter list for the admin and never blocks the others. It also
pulls catalogue and price changes and broadcasts them to the tablets. The protocol is in
docs/backoffice.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import redis

from appliance import settings as owner_settings
from appliance.errors import Invalid
from appliance.store import keys
from appliance.store.client import decode_hash, transaction
from appliance.sync import log

logger = logging.getLogger(__name__)

BATCH = 100
ACTIVE_FOR = 300.0  # a change within this many seconds makes the shop "active"
HTTP_TIMEOUT = 15.0


def link(r: redis.Redis, url: str, token: str) -> None:
    if not url.strip():
        raise Invalid("the back office URL starts with http:// or https://", field="backoffice_url")
    owner_settings.put(r, backoffice_url=url.strip().rstrip("/"), backoffice_token=token)


def _settings(r: redis.Redis) -> dict[str, Any]:
    """The forwarder's settings, its token included, typed."""
    return {**owner_settings.get_all(r), "backoffice_token": owner_settings.get(r, "backoffice_token")}


def status(r: redis.Redis) -> dict:
    settings = _settings(r)
    state = decode_hash(r.hgetall(keys.forwarder_status()))
    return {"configured": bool(settings.get("backoffice_url")), "url": settings.get("backoffice_url"),
            "backlog": r.xlen(keys.outbox()), "dead_letters": r.llen(keys.dead_letters()),
            "last_success": float(state["last_success"]) if state.get("last_success") else None,
            "last_error": state.get("last_error") or None, "catalogue_version": int(state.get("catalogue_version", 0))}


def dead_letters(r: redis.Redis) -> list[dict]:
    return [json.loads(item) for item in r.lrange(keys.dead_letters(), 0, -1)]


def settle_dead_letters(r: redis.Redis, retry: bool) -> int:
    """Send the rejected records again (after the back office was fixed), or drop them; one
    transaction either way. Returns how many."""
    def settle(pipe: redis.client.Pipeline) -> int:
        letters = [json.loads(item) for item in pipe.lrange(keys.dead_letters(), 0, -1)]
        pipe.multi()
        if retry:
            for letter in letters:
                pipe.xadd(keys.outbox(), {"record": json.dumps(letter["record"])})
        pipe.delete(keys.dead_letters())
        pipe.execute()
        return len(letters)

    return transaction(r, [keys.dead_letters()], settle)


def test_connection(r: redis.Redis) -> str | None:
    """Ask the linked back office for its catalogue once: None when it answers, else what
    went wrong, in words (for the setup page's "test the connection")."""
    settings = _settings(r)
    if not settings.get("backoffice_url"):
        return "no back office is linked"
    try:
        Forwarder(r)._call(settings, "GET", "/catalogue?since=0")
    except Unreachable as exc:
        return str(exc)
    return None


class Unreachable(Exception):
    """The back office did not answer, or answered an error: retry later, same records."""


class Forwarder:
    def __init__(self, r: redis.Redis, stop: threading.Event | None = None) -> None:
        self.r = r
        self.stop = stop or threading.Event()  # the background process's part: each wait beats

    def _call(self, settings: dict[str, str], method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            settings["backoffice_url"] + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {settings.get('backoffice_token', '')}"})
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unreachable(f"{method} {path}: {exc}") from exc

    def send_batch(self, settings: dict[str, str]) -> int:
        """Send the oldest records; returns how many were settled (accepted or dead-lettered)."""
        entries = self.r.xrange(keys.outbox(), count=BATCH)
        if not entries:
            return 0
        records = [json.loads(fields[b"record"]) for _, fields in entries]
        answer = self._call(settings, "POST", "/records",
                            {"records": [{"key": f"{r['kind']}:{r['id']}", "kind": r["kind"], "data": r["data"]}
                                         for r in records]})
        verdicts = {item["key"]: item for item in answer.get("results", [])}
        settled = 0
        with self.r.pipeline() as pipe:
            for (entry_id, _), record in zip(entries, records, strict=True):
                verdict = verdicts.get(f"{record['kind']}:{record['id']}")
                if verdict is None:
                    break  # not answered for: keep it and what follows, for the next batch
                if verdict.get("status") == "rejected":
                    pipe.rpush(keys.dead_letters(), json.dumps({"record": record, "reason": verdict.get("reason", ""),
                                                                "at": time.time()}))
                pipe.xdel(keys.outbox(), entry_id)
                settled += 1
            pipe.hset(keys.forwarder_status(), mapping={"last_success": time.time(), "last_error": ""})
            pipe.execute()
        return settled

    def pull_catalogue(self, settings: dict[str, str]) -> int:
        version = int(self.r.hget(keys.forwarder_status(), "catalogue_version") or 0)
        answer = self._call(settings, "GET", f"/catalogue?since={version}")
        products = answer.get("products", [])
        if not products and answer.get("version", version) == version:
            return 0
        with self.r.pipeline() as pipe:
            for product in products:
                pipe.set(keys.entity("product", product["id"]), json.dumps(product))
                pipe.sadd(keys.entities("product"), product["id"])
                log.append(pipe, "product", product["id"], product, "", "backoffice.catalogue")
            pipe.hset(keys.forwarder_status(), "catalogue_version", answer.get("version", version))
            pipe.execute()
        return len(products)

    def _interval(self, settings: dict[str, str]) -> float:
        last = log.last_cursor(self.r)
        active = time.time() - log.parse_cursor(last)[0] / 1000 < ACTIVE_FOR
        return settings["forward_active_s" if active else "forward_idle_s"]

    def cycle(self) -> float:
        """One round; returns how long to sleep before the next."""
        settings = _settings(self.r)
        if not settings.get("backoffice_url"):
            return 5.0
        try:
            while not self.stop.wait(0) and self.send_batch(settings) == BATCH:
                pass  # a backlog: drain it, oldest first, batch after batch
            self.pull_catalogue(settings)
        except Unreachable as exc:
            logger.warning("back office unreachable: %s", exc)
            self.r.hset(keys.forwarder_status(), "last_error", f"{time.strftime('%H:%M:%S')} {exc}")
        return self._interval(settings)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                pause = self.cycle()
            except redis.RedisError as exc:
                logger.warning("Redis unreachable (%s); retrying", exc)
                pause = 1.0
            end = time.monotonic() + pause
            while (left := end - time.monotonic()) > 0 and not self.stop.wait(min(1.0, left)):
                pass  # a wait a second at most: each one is the part's heartbeat
