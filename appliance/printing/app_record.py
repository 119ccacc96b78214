"""An app connection's bytes on the box's disk as they arrive (virtual_ports.Connection), until
they are queued jobs: so a crash or a power cut of the box after an app's last byte loses
nothing a printer would have printed. The background process queues what is left when it
starts (virtual_ports.recover).

Each connection's jobs get ids made from the connection's id and their rank, so a job queued
just before a crash and queued again from the record after it is one job (submit is
idempotent on the id): never lost, never twice.
"""

from __future__ import annotations

import uuid

import redis

from appliance.store import keys


def job_id(connection: str, seq: int) -> str:
    """The id of a connection's ``seq``-th job (from 0)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"comptoir:app-connection:{connection}:{seq}"))


class Record:
    """One connection's record: written once a chunk (APPEND: one write a chunk), rewritten
    to what is still pending once jobs are cut from it, forgotten when the connection ends."""

    def __init__(self, r: redis.Redis, printer: str) -> None:
        self.r, self.printer = r, printer
        self.id = uuid.uuid4().hex
        self.issued = 0  # job ids handed out
        self._open = False
        self._family: str | None = None

    def next_job_id(self) -> str:
        issued, self.issued = self.issued, self.issued + 1
        return job_id(self.id, issued)

    def arrived(self, data: bytes, family: str | None) -> None:
        """``data`` just read, kept before anything is done with it."""
        with self.r.pipeline() as pipe:
            if not self._open:
                pipe.sadd(keys.app_connections(), self.id)
                pipe.hset(keys.app_connection(self.id), mapping={"printer": self.printer, "seq": self.issued})
            if family is not None and family != self._family:
                pipe.hset(keys.app_connection(self.id), "family", family)
            pipe.append(keys.app_connection_bytes(self.id), data)
            pipe.execute()
        self._open, self._family = True, family

    def queued(self, pending: bytes) -> None:
        """Jobs were queued from it: it keeps only ``pending``, what is not a job yet."""
        with self.r.pipeline() as pipe:
            pipe.hset(keys.app_connection(self.id), "seq", self.issued)
            if pending:
                pipe.set(keys.app_connection_bytes(self.id), pending)
            else:
                pipe.delete(keys.app_connection_bytes(self.id))
            pipe.execute()

    def closed(self) -> None:
        """The app ended the connection on purpose: its last receipt is whole."""
        if self._open:
            self.r.hset(keys.app_connection(self.id), "closed", 1)

    def forget(self) -> None:
        if self._open:
            forget(self.r, self.id)
            self._open = False


def forget(r: redis.Redis, connection: str) -> None:
    with r.pipeline() as pipe:
        pipe.delete(keys.app_connection(connection), keys.app_connection_bytes(connection))
        pipe.srem(keys.app_connections(), connection)
        pipe.execute()
