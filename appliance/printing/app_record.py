"""An app connection's bytes on the box's disk as they arrive (virtual_ports.Connection), until
they are queued jobs: so a crash or a power cut of the box after an app's last byte loses
nothing a printer would have printed. The background process queues what is left when it
starts (virtual_ports.recover).

The record is written in the same transaction as the jobs cut from what arrived
(``jobs.submit_raw_many``'s ``also``): a read that ends a receipt costs one write to the card,
a read that ends the connection too. Each connection's jobs get ids made from the
connection's id and their rank, so a job queued just before a crash and queued again from the
record after it is one job (submit is idempotent on the id): never lost, never twice.
"""

from __future__ import annotations

import uuid

import redis

from appliance.store import keys


def job_id(connection: str, seq: int) -> str:
    """The id of a connection's ``seq``-th job (from 0)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"comptoir:app-connection:{connection}:{seq}"))


class Record:
    """One connection's record: what it read and is not yet a job, and how many jobs it
    queued. Its writes go into the caller's transaction (``write``) and count once that
    transaction is stored (``written``); a write tried again after the storage failed to answer
    gives the same record (bytes are put at their offset, not appended)."""

    def __init__(self, printer: str) -> None:
        self.printer = printer
        self.id = uuid.uuid4().hex
        self.issued = 0  # job ids handed out
        self._open = False  # the record exists in Redis
        self._family: str | None = None
        self._length = 0  # bytes the record holds
        self._next: tuple[bool, str | None, int] = (False, None, 0)

    def next_job_id(self) -> str:
        issued, self.issued = self.issued, self.issued + 1
        return job_id(self.id, issued)

    def write(self, pipe: redis.client.Pipeline, data: bytes, pending: bytes, family: str | None,
              cut: bool, ended: bool) -> None:
        """Queue in ``pipe`` what ``data``, just read, changes: the connection ``ended`` (its
        jobs are queued beside: nothing is left to keep), jobs were ``cut`` from it (the
        record keeps only ``pending``, what is not yet a job), or neither (``data`` is kept)."""
        meta, raw = keys.app_connection(self.id), keys.app_connection_bytes(self.id)
        if ended or (cut and not pending):
            if self._open:
                pipe.delete(meta, raw)
                pipe.srem(keys.app_connections(), self.id)
            self._next = (False, None, 0)
            return
        if not self._open:
            pipe.sadd(keys.app_connections(), self.id)
        fields = {"printer": self.printer, "family": family or ""} if not self._open or family != self._family else {}
        if cut or not self._open:
            fields["seq"] = self.issued
        if fields:
            pipe.hset(meta, mapping=fields)
        if cut:
            pipe.set(raw, pending)
            self._next = (True, family, len(pending))
        else:
            pipe.setrange(raw, self._length, data)
            self._next = (True, family, self._length + len(data))

    def written(self) -> None:
        """The transaction holding the last ``write`` was stored."""
        self._open, self._family, self._length = self._next


def forget(r: redis.Redis, connection: str) -> None:
    with r.pipeline() as pipe:
        pipe.delete(keys.app_connection(connection), keys.app_connection_bytes(connection))
        pipe.srem(keys.app_connections(), connection)
        pipe.execute()
