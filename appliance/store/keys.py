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


# The owner and the setup page ---------------------------------------------------------

def admin() -> str:
    """Hash: the owner's password hash (Argon2id) and the setup page's language."""
    return f"{PREFIX}:admin"


def setup_code() -> str:
    """String: the one-time code that claims an unclaimed box (deleted once claimed)."""
    return f"{PREFIX}:admin:setup-code"


def admin_failures(client: str) -> str:
    """Counter with a TTL: wrong setup codes, passwords or login codes from one address."""
    return f"{PREFIX}:admin:failures:{client}"


def admin_login_code() -> str:
    """String with a 15-minute TTL: sha256 of the one-time login code made at the box."""
    return f"{PREFIX}:admin:login-code"


def admin_session(digest: str) -> str:
    """String with a TTL (pushed back as it is used): one login to the setup page, by the
    sha256 of the id its cookie holds."""
    return f"{PREFIX}:admin:session:{digest}"


def admin_sessions() -> str:
    """Set: the digests of the setup page's sessions, to end them all at once (some may have
    expired already)."""
    return f"{PREFIX}:admin:sessions"


def allowed_origins() -> str:
    """Set: the web origins (``https://pos.example.com``) whose pages may call the API from a
    browser (CORS), as the owner listed them."""
    return f"{PREFIX}:admin:origins"


# Printers ------------------------------------------------------------------------------

def printers() -> str:
    """Hash: printer name -> JSON config (uri, roles, width, profile)."""
    return f"{PREFIX}:printers"


def printers_changed() -> str:
    """Pub/sub channel: a printer was added or removed, so the worker pool re-reads."""
    return f"{PREFIX}:printers:changed"


def printer_search() -> str:
    """Hash: the last printer search the setup page asked for: state (searching / done),
    asked_at, finished_at, subnet, found (JSON list), notes (JSON list of what could not be
    searched and why). Expires an hour after the search."""
    return f"{PREFIX}:printers:search"


def printer_search_requests() -> str:
    """List: searches asked for, taken by the background process (it has real threads for the
    seconds-long mDNS browse and Bluetooth scan; the web server has not)."""
    return f"{PREFIX}:printers:search:requests"


def polled_offer(printer: str) -> str:
    """String: the id of the job offered to a printer that calls the box (CloudPRNT, Server
    Direct Print: its next poll takes it), written by its worker, cleared once it answered."""
    return f"{PREFIX}:polled:{printer}:offer"


def polled_results(printer: str) -> str:
    """List: "job_id code" for each answer such a printer gave (code 2xx: printed), pushed by
    the web process, taken by the printer's worker."""
    return f"{PREFIX}:polled:{printer}:results"


def printer_callers() -> str:
    """Hash: the URI of each printer that called the box (cloudprnt://MAC, sdp://ID) -> JSON
    (status code, status, when, from where, the printer it is once accepted): "new printers
    asking to join" on the page and the CLI."""
    return f"{PREFIX}:polled:callers"


def virtual_port_states() -> str:
    """Hash: printer name -> what its virtual network port is doing ("listening", or why it
    cannot open), written by the background process for the setup page and the CLI."""
    return f"{PREFIX}:printers:ports"


def printer_addresses() -> str:
    """Hash: printer name -> JSON (its own address on the shop's network, the interface and
    MAC address it holds, what getting it is doing), written by the background process
    (system/addresses.py), read by everything that tells a printer by the address an app dialled."""
    return f"{PREFIX}:printers:addresses"


def qz_certificates() -> str:
    """Hash: SHA-256 fingerprint -> JSON (subject, PEM, trusted or asking, first origin, when)
    of each signing certificate a QZ-compatible web POS presented (printing/qz.py)."""
    return f"{PREFIX}:qz:certificates"


def qz_signature_seen(digest: str) -> str:
    """String with a day's expiry: a signed QZ call already taken (its signature's SHA-256), so
    a replay of it is refused."""
    return f"{PREFIX}:qz:seen:{digest}"


def app_connections() -> str:
    """Set: the ids of the app connections to virtual ports whose bytes are not all queued
    yet (the background process recovers them when it starts)."""
    return f"{PREFIX}:printers:ports:connections"


def app_connection(connection: str) -> str:
    """Hash: one app connection's record: printer, family (escpos / star, once told), seq
    (jobs queued so far), closed (the app ended it on purpose)."""
    return f"{PREFIX}:printers:ports:connection:{connection}"


def app_connection_bytes(connection: str) -> str:
    """String: what an app sent that is not yet a queued job, appended as it arrives, so a
    crash of the box loses nothing a printer would have printed."""
    return f"{PREFIX}:printers:ports:connection:{connection}:bytes"


def printer_status(name: str) -> str:
    """Hash: the last status read from the printer itself, with its time."""
    return f"{PREFIX}:printer:{name}:status"


def printer_reading_wanted(name: str) -> str:
    """List with a short TTL: someone (an app's status question) wants the printer's status
    read now; its worker takes it within a few milliseconds and reads it."""
    return f"{PREFIX}:printer:{name}:reading-wanted"


def printer_queue(name: str) -> str:
    """The rq queue name of one printer (rq derives its own ``rq:queue:...`` keys)."""
    return f"{PREFIX}.printer.{name}"


# rq's keys are spelled by rq itself, imported only where they are used: the processes that
# never touch a print queue (the supervisor, the background process) stay without rq.

def rq_queue(name: str) -> str:
    """rq's list of one printer's queued job ids."""
    from rq import Queue

    return Queue.redis_queue_namespace_prefix + printer_queue(name)


def rq_intermediate(name: str) -> str:
    """rq's list of the jobs a printer's worker has taken: the ones in the printer's hands."""
    from rq.intermediate_queue import IntermediateQueue

    return IntermediateQueue.get_intermediate_queue_key(rq_queue(name))


def rq_job(job_id: str) -> str:
    """rq's hash for one print job: its queue entry's payload and rq status. Deleted in the
    same transaction that ends the job."""
    from rq.job import Job

    return Job.key_for(job_id)


def printer_pending(name: str) -> str:
    """Sorted set of the ids of accepted, unfinished jobs of one printer, scored by
    acceptance time. It is the truth the worker rebuilds its queue from after a crash."""
    return f"{PREFIX}:printer:{name}:pending"


def printer_worker(name: str) -> str:
    """String with a TTL: the live worker of one printer, JSON {pid, worker} (its heartbeat)."""
    return f"{PREFIX}:printer:{name}:worker"


# Jobs ----------------------------------------------------------------------------------

def job(job_id: str) -> str:
    """Hash: one print job, its payload and its state; the job id is the idempotency key."""
    return f"{PREFIX}:job:{job_id}"


def job_history() -> str:
    """Sorted set of the ids of every job the box accepted and still remembers, scored by
    acceptance time: the jobs page's history and ``GET /api/v1/jobs`` read it newest first;
    ``history.trim`` keeps it to the owner's days and a bounded count."""
    return f"{PREFIX}:jobs:history"


def failed_jobs() -> str:
    """Sorted set of the ids of failed jobs (a bug, never a printer problem), scored by when
    they failed: the jobs page lists them for someone to retry or cancel. A failed job keeps
    its bytes for that (its record expires like any ended job's)."""
    return f"{PREFIX}:jobs:failed"


# Processes -----------------------------------------------------------------------------

def health_probe() -> str:
    """String with a TTL: written by /healthz to prove Redis takes writes (a full card or a
    failed disk make Redis refuse them while it still answers PING)."""
    return f"{PREFIX}:health:probe"


def pool_heartbeat() -> str:
    """String with a TTL: the worker pool is alive (read by /healthz)."""
    return f"{PREFIX}:pool:heartbeat"


def background_heartbeat() -> str:
    """String with a TTL (JSON: pid, each part of the background process and whether it runs):
    the background process is alive and whole (read by /healthz)."""
    return f"{PREFIX}:background:heartbeat"


# Sync: the shared state of the shop ------------------------------------------------------

def sync_log() -> str:
    """Stream: every applied change, in the order it was applied. Entry ids are cursors."""
    return f"{PREFIX}:sync:log"


def sync_applied(device_id: str) -> str:
    """String: the id of the last mutation of this device that the box applied."""
    return f"{PREFIX}:sync:applied:{device_id}"


def entity(kind: str, entity_id: str) -> str:
    """String: one entity as JSON: ticket, receipt, kitchen ticket, customer, stock level,
    product (from the back office)."""
    return f"{PREFIX}:{kind}:{entity_id}"


def entities(kind: str) -> str:
    """Set: the ids of the entities of one kind, for snapshots and listings."""
    return f"{PREFIX}:{kind}s"


def shop_settings() -> str:
    """Hash: shop-wide settings (visibility of parked receipts, default tickets, back office,
    ``apps_reach_all``: 1 when apps without a token may print to every printer, not only the
    exposed ones)."""
    return f"{PREFIX}:settings"


# Register and sessions --------------------------------------------------------------------

def register() -> str:
    """Hash: the cash register (state, number, opened_at, opened_by)."""
    return f"{PREFIX}:register"


def register_totals(number: int) -> str:
    """Hash: running sales totals of one register period, for its closing (Z) report."""
    return f"{PREFIX}:register:{number}:totals"


def session(device_id: str) -> str:
    """Hash: a tablet's selling session (id, state, started_at, closed_by)."""
    return f"{PREFIX}:session:{device_id}"


# Back office -------------------------------------------------------------------------------

def outbox() -> str:
    """Stream: records the back office needs, appended with the change that made them."""
    return f"{PREFIX}:outbox"


def outbox_cursor() -> str:
    """String: the id of the last outbox record the back office has settled."""
    return f"{PREFIX}:outbox:cursor"


def dead_letters() -> str:
    """List: records the back office rejected, kept for the admin (JSON)."""
    return f"{PREFIX}:outbox:dead"


def forwarder_status() -> str:
    """Hash: last success, last error, catalogue version of the forwarder."""
    return f"{PREFIX}:outbox:status"


# Wi-Fi -------------------------------------------------------------------------------------

def access_point() -> str:
    """Hash: the box's own Wi-Fi access point (ssid, password), made once, opened when the box
    has no network at all; the password is on the welcome receipt."""
    return f"{PREFIX}:wifi:access-point"


def wifi_state() -> str:
    """Hash: the access point's last openings and closings (JSON ``events``), for the setup page."""
    return f"{PREFIX}:wifi:state"
