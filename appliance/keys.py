"""The Redis key layout: the only module that spells a key.

Everything the box stores lives under one prefix so a shared Redis (``REDIS_URL``) can
hold it beside other data, and so ``redis-cli --scan --pattern 'comptoir:*'`` shows all
of it. rq keeps its own ``rq:*`` keys; we only name the rq queue of each printer here.
"""

PREFIX = "comptoir"


# Devices and pairing -------------------------------------------------------------------

def device(device_id: str) -> str:
    """Hash: one paired tablet (name, role, created_at, receipt_printer, token_hash)."""
    return f"{PREFIX}:device:{device_id}"


def devices() -> str:
    """Sorted set of device ids by pairing time, for listing."""
    return f"{PREFIX}:devices"


def tokens() -> str:
    """Hash: sha256(token) -> device id. Tokens themselves are never stored."""
    return f"{PREFIX}:tokens"


def pin(code: str) -> str:
    """String with a 10-minute TTL: a one-time pairing PIN and what it grants (JSON)."""
    return f"{PREFIX}:pin:{code}"


def pair_failures(client: str) -> str:
    """Counter with a TTL: wrong PINs from one client address, for rate limiting."""
    return f"{PREFIX}:pairfail:{client}"


def pair_failures_all() -> str:
    """Counter with a TTL: wrong PINs from everybody, a ceiling against address hopping."""
    return f"{PREFIX}:pairfail:*all*"


# Printers ------------------------------------------------------------------------------

def printers() -> str:
    """Hash: printer name -> JSON config (uri, roles, width, profile)."""
    return f"{PREFIX}:printers"


def printers_changed() -> str:
    """Pub/sub channel: a printer was added or removed, so the worker pool re-reads."""
    return f"{PREFIX}:printers:changed"


def printer_status(name: str) -> str:
    """Hash: the last status read from the printer itself, with its time."""
    return f"{PREFIX}:printer:{name}:status"


def printer_queue(name: str) -> str:
    """The rq queue name of one printer (rq derives its own ``rq:queue:...`` keys)."""
    return f"{PREFIX}.printer.{name}"


def printer_pending(name: str) -> str:
    """Sorted set of the ids of accepted, unfinished jobs of one printer, scored by
    acceptance time. It is the truth the worker rebuilds its queue from after a crash."""
    return f"{PREFIX}:printer:{name}:pending"


def printer_worker(name: str) -> str:
    """String with a TTL: the pid of the live worker of one printer (its heartbeat)."""
    return f"{PREFIX}:printer:{name}:worker"


# Jobs ----------------------------------------------------------------------------------

def job(job_id: str) -> str:
    """Hash: one print job, its payload and its state; the job id is the idempotency key."""
    return f"{PREFIX}:job:{job_id}"


# Processes -----------------------------------------------------------------------------

def pool_heartbeat() -> str:
    """String with a TTL: the worker pool is alive (read by /healthz)."""
    return f"{PREFIX}:pool:heartbeat"
