"""Shop-wide settings of the sync hub: who sees parked receipts, and the named default
tickets (the shop's tables) that every tablet shows."""

from __future__ import annotations

import json
import re
import time

import redis

from appliance import settings
from appliance.errors import Conflict, Invalid
from appliance.store import keys
from appliance.sync import log
from appliance.sync.mutations import new_ticket


def set_name(r: redis.Redis, name: str) -> None:
    settings.put(r, shop_name=name)


def name(r: redis.Redis) -> str:
    return settings.get(r, "shop_name")


BY_LANGUAGE = {"fr": "EUR", "en": "EUR", "pl": "PLN", "ru": "RUB"}  # a shop's currency unless the owner chose


def currency(r: redis.Redis) -> str:
    """The shop's currency (ISO 4217): the owner's choice, else its language's."""
    from appliance.access import owner

    return settings.get(r, "currency") or BY_LANGUAGE.get(owner.language(r), "EUR")


def pairing_open(r: redis.Redis) -> bool:
    """A PIN is waiting for a tablet (it lives 10 minutes)."""
    return next(r.scan_iter(keys.pin("*"), count=100), None) is not None


def set_visibility(r: redis.Redis, mode: str) -> None:
    """all: every tablet sees every parked receipt; own: a tablet sees those its staff
    member opened; role: those opened with the same role (waiters, bar...)."""
    with r.pipeline() as pipe:  # the log entry tells open event streams to filter anew
        settings.put(pipe, visibility=mode)
        log.append(pipe, "settings", "visibility", {"visibility": mode})
        pipe.execute()


def default_ticket_id(label: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    return f"default-{slug}"


def default_tickets(r: redis.Redis) -> list[str]:
    """The names of the shop's standing tickets (its tables), in the order a person reads them
    ("Table 2" before "Table 10")."""
    ids = sorted(member.decode() for member in r.smembers(keys.entities("ticket"))
                 if member.startswith(b"default-"))
    found = [json.loads(value) for value in r.mget([keys.entity("ticket", i) for i in ids])] if ids else []
    labels = [ticket["label"] for ticket in found if ticket and ticket.get("default")]
    return sorted(labels, key=lambda label: [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", label)])


def set_default_tickets(r: redis.Redis, labels: list[str]) -> list[str]:
    """Create the named tickets that are missing (idempotent); returns their ids."""
    ids = []
    for label in labels:
        if not label.strip():
            raise Invalid("a default ticket needs a name")
        ticket_id = default_ticket_id(label)
        ids.append(ticket_id)
        key = keys.entity("ticket", ticket_id)
        with r.pipeline() as pipe:
            pipe.watch(key)
            if pipe.exists(key):
                pipe.reset()
                continue
            ticket = new_ticket(ticket_id, label.strip(), None, default=True, now=time.time())
            pipe.multi()
            pipe.set(key, json.dumps(ticket))
            pipe.sadd(keys.entities("ticket"), ticket_id)
            log.append(pipe, "ticket", ticket_id, ticket, "", "shop.default_tickets")
            try:
                pipe.execute()
            except redis.WatchError:
                raise Conflict(f"{label} changed while it was being created; retry") from None
    return ids
