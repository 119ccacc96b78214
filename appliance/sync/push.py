"""Applying a tablet's mutations: validated, applied and logged atomically, in order.

A push is one optimistic transaction: WATCH the device's applied-id and every entity the
batch touches, read them, apply the pure mutations, then MULTI/EXEC the new states, their
log entries, the back office records and the register totals. Two pushes that touch the
same ticket cannot interleave: the second one's EXEC fails and it runs again on fresh state.
Pushes that touch different entities run side by side.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis
from pydantic import BaseModel, ConfigDict, Field

from appliance.errors import Conflict
from appliance.store import keys
from appliance.store.client import transaction
from appliance.sync import log, sessions
from appliance.sync.mutations import Context, Effects, Key, Rejected, apply, parse, touches

MAX_ATTEMPTS = 100


class Mutation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=64)
    args: dict = Field(default_factory=dict)
    staff: str | None = Field(default=None, max_length=64)
    role: str | None = Field(default=None, max_length=64)


class PushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    session: str = Field(min_length=1, max_length=64)
    staff: str = Field(default="", max_length=64)
    role: str = Field(default="", max_length=64)
    mutations: list[Mutation] = Field(min_length=1, max_length=500)


@dataclass
class _Batch:
    results: list[dict]
    writes: dict[Key, dict | None]
    effects: list[tuple[str, Effects]]
    last: int


def _plan(view: dict[Key, dict | None], request: PushRequest, device_id: str, last: int,
          register_open: bool) -> _Batch:
    """Run the batch against ``view`` (pure): what each mutation did, and what to write."""
    batch = _Batch([], {}, [], last)
    for mutation in request.mutations:
        if mutation.id <= batch.last:
            batch.results.append({"id": mutation.id, "status": "duplicate"})
            continue
        if mutation.id != batch.last + 1:
            batch.results.append({"id": mutation.id, "status": "gap", "expected": batch.last + 1})
            continue
        ctx = Context(device_id, mutation.staff or request.staff, mutation.role or request.role, time.time(),
                      register_open)
        try:
            args = parse(mutation.name, mutation.args)
            effects = apply(view, mutation.name, args, ctx)
        except Rejected as exc:
            batch.results.append({"id": mutation.id, "status": "rejected", "reason": str(exc)})
        else:
            view.update(effects.changes)
            batch.writes.update(effects.changes)
            batch.effects.append((mutation.name, effects))
            batch.results.append({"id": mutation.id, "status": "applied"})
        batch.last = mutation.id
    return batch


def _touched(request: PushRequest) -> list[Key]:
    found: list[Key] = []
    for mutation in request.mutations:
        try:
            found.extend(touches(parse(mutation.name, mutation.args)))
        except Rejected:
            continue
    return list(dict.fromkeys(found))


def push(r: redis.Redis, device_id: str, request: PushRequest) -> dict:
    """Apply what is new in ``request``; the answer says, per mutation, applied, duplicate
    (applied before: a retry), rejected (consumed, with the reason) or gap (resend from
    ``expected``)."""
    touched = _touched(request)
    watched = [keys.sync_applied(device_id), keys.session(device_id), keys.register(),
               *(keys.entity(kind, entity_id) for kind, entity_id in touched)]
    def apply(pipe: redis.client.Pipeline) -> dict:
        sessions.check_push(pipe, device_id, request.session)
        last = int(pipe.get(keys.sync_applied(device_id)) or 0)
        values = pipe.mget(watched[3:]) if touched else []
        view = {key: json.loads(value) if value else None for key, value in zip(touched, values, strict=True)}
        register = pipe.hgetall(keys.register())
        using = tuple(v.decode() if v else "" for v in pipe.hmget(keys.session(device_id), "staff", "role"))
        batch = _plan(view, request, device_id, last, register.get(b"state") == b"open")
        if batch.last == last:
            pipe.reset()
            return {"results": batch.results, "last_mutation_id": last}
        pipe.multi()
        _write(pipe, device_id, batch, int(register.get(b"number", 0)))
        sessions.who(pipe, device_id, request.staff, request.role, using)
        pipe.execute()
        return {"results": batch.results, "last_mutation_id": batch.last}

    return transaction(r, watched, apply, attempts=MAX_ATTEMPTS,
                       contended=Conflict("too much contention on these tickets; retry"))


def _write(pipe: redis.client.Pipeline, device_id: str, batch: _Batch, register_number: int) -> None:
    pipe.set(keys.sync_applied(device_id), batch.last)
    encoded = {key: json.dumps(data) if data is not None else None for key, data in batch.writes.items()}
    for (kind, entity_id), data in batch.writes.items():
        if data is None:
            pipe.delete(keys.entity(kind, entity_id))
        else:
            pipe.set(keys.entity(kind, entity_id), encoded[(kind, entity_id)])
        if log.is_live(kind, data):
            pipe.sadd(keys.entities(kind), entity_id)
        else:
            pipe.srem(keys.entities(kind), entity_id)
    # One log entry per entity the push changed, carrying its final state: intermediate
    # states inside one batch tell a tablet nothing it needs.
    names: dict[Key, list[str]] = {}
    for name, effects in batch.effects:
        for key in effects.changes:
            names.setdefault(key, []).append(name)
        for record in effects.records:
            pipe.xadd(keys.outbox(), {"record": json.dumps(record)})
        if effects.totals:
            sessions.add_totals(pipe, register_number, effects.totals)
    for (kind, entity_id), data in batch.writes.items():
        log.append(pipe, kind, entity_id, data, device_id, ",".join(dict.fromkeys(names[(kind, entity_id)])),
                   encoded[(kind, entity_id)])
