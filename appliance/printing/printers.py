"""The printers the box owns: their configuration, live status and roles.

Role rule (documented in docs/printing.md): a job for a role goes to the device's own
receipt printer when the role is ``receipt`` and the device has one; otherwise to the first
printer, by name, that holds the role and was ready at its last status check; when none is
ready, to the first by name, where the job waits at the head of the queue until it is (or
until its stand-in takes it over: see ``stand_in``). The emulated printer, there to try the
box with no printer, steps aside for every role a real printer holds.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import redis
from escpos import capabilities
from rq import Queue

from appliance import settings
from appliance.errors import Conflict, Invalid, NotFound
from appliance.printing import languages, transports
from appliance.store import keys
from appliance.store.client import transaction

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
WIDTHS = (58, 80)
FAILOVER_AFTER = 60.0
NEW_BOX_ROLES = ("receipt", "kitchen", "bar")  # the first printer of a box prints for every role
FAILOVER_RANGE = (5.0, 3600.0)
BOX_PORTS = (22, 53, 80, 443, 5353, 8008, 8043, 8080, 8443)  # the box's own services: never a printer's
PORT_RANGE = f"use a port from 1 to 65535 other than the box's own ({', '.join(map(str, BOX_PORTS))})"
PORT_TAKEN = "another printer is already exposed on this port"
UNLIKE_BACKUP = ("the backup printer %(backup)s takes %(width)s mm paper or another printer profile: its "
                 "receipts, made for this %(own)s mm printer, would come out garbled")


@dataclass(frozen=True)
class PrinterConfig:
    name: str
    uri: str
    roles: tuple[str, ...] = ()
    width: int = 80
    profile: str = "default"
    backup: str | None = None  # the printer its waiting jobs move to when it cannot print
    failover_after: float = FAILOVER_AFTER  # seconds unable to print before they move
    emulated: bool = False  # the built-in emulated printer (steps aside for real ones)
    port: int | None = None  # exposed as a virtual network printer on this TCP port (virtual_ports.py)
    # The printer's language (languages.ALL): learnt from the printer by its driver, unless
    # the owner named it (``language_forced``).
    language: str = "escpos"
    language_forced: bool = False
    # Its own address on the shop's network (system/addresses.py): apps that take only an
    # address reach it there, on port 9100, ePOS-Print and the makers' searches.
    own_address: bool = False

    def transport(self) -> transports.Transport:
        return transports.for_uri(self.uri, profile=self.profile, width_mm=self.width)


def _check_name(kind: str, value: str) -> str:
    if not NAME.match(value):
        raise Invalid(f"{kind} {value!r}: use 1-32 lowercase letters, digits, '-' or '_'")
    return value


def printer_uri(address: str) -> str:
    """What the owner typed, as a printer URI: ``192.168.1.50`` and ``192.168.1.50:9100`` are
    network printers (``tcp://``), a URI stays as it is. The page, the CLI and the API all
    take a printer's address through here."""
    address = address.strip()
    return address if "://" in address else f"tcp://{address}"


def validate(name: str, uri: str, roles: list[str] | tuple[str, ...] = (), width: int = 80,
             profile: str = "default", backup: str | None = None, failover_after: float = FAILOVER_AFTER,
             emulated: bool = False, port: int | None = None, language: str | None = None) -> PrinterConfig:
    """A printer's configuration, checked whole; ``uri`` may be a bare address (``printer_uri``).
    ``language`` None: the printer's driver learns it by asking the printer."""
    uri = printer_uri(uri)
    _check_name("printer name", name)
    for role in roles:
        _check_name("role", role)
    if backup is not None:
        _check_name("backup printer", backup)
        if backup == name:
            raise Invalid("a printer cannot be its own backup", backup=backup)
    low, high = FAILOVER_RANGE
    if not low <= failover_after <= high:
        raise Invalid(f"failover delay {failover_after:g} s: use {low:g} to {high:g} seconds",
                      failover_after=failover_after)
    if width not in WIDTHS:
        raise Invalid(f"paper width {width}: use 58 or 80 (mm)")
    if profile not in capabilities.CAPABILITIES["profiles"]:
        raise Invalid(f"unknown printer profile {profile!r} (see `appliance printers profiles`)")
    if language is not None and language not in languages.ALL:
        raise Invalid(f"printer language {language!r}: use one of {', '.join(languages.ALL)}", field="language")
    try:
        transports.for_uri(uri, profile=profile, width_mm=width)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    return PrinterConfig(name, uri, tuple(dict.fromkeys(roles)), width, profile, backup, float(failover_after),
                         emulated, _check_port(port), language=language or "escpos",
                         language_forced=language is not None)


def _check_port(port: int | None) -> int | None:
    if port is not None and (not 1 <= port <= 65535 or port in BOX_PORTS):
        raise Invalid(PORT_RANGE, port=port)
    return port


def alike(a: PrinterConfig, b: PrinterConfig) -> bool:
    """Can ``b`` print what was rendered for ``a``? Same paper width; for two ESC/POS printers,
    the same profile (its code pages).

    A job's bytes are rendered for its printer when it is accepted (and an app's bytes, from
    a virtual port or ePOS-Print, were made for it by the app: they cannot be rendered again),
    so failover moves bytes. A printer of another language prints them as a picture of the
    receipt (``translate.py``); but an 80 mm receipt on a 58 mm printer comes out garbled, and
    keeping every document to render it again would cost the card a write per job for the
    rare failover: a backup of another width is refused when it is set instead, and the role's
    stand-ins are looked for among alike ones."""
    both_escpos = a.language == b.language == "escpos"
    return a.width == b.width and (a.profile == b.profile or not both_escpos)


def _backup_alike(r: redis.Redis, config: PrinterConfig) -> None:
    if config.backup is None or not r.hexists(keys.printers(), config.backup):
        return
    backup = get(r, config.backup)
    if not alike(config, backup):
        raise Invalid(UNLIKE_BACKUP, params={"backup": backup.name, "width": backup.width, "own": config.width},
                      field="backup")


def _port_free(r: redis.Redis, config: PrinterConfig) -> None:
    for other in all_configs(r):
        if config.port and other.port == config.port and other.name != config.name:
            raise Conflict(PORT_TAKEN, port=config.port, printer=other.name)


def add(r: redis.Redis, config: PrinterConfig) -> PrinterConfig:
    _port_free(r, config)
    _backup_alike(r, config)
    if not r.hsetnx(keys.printers(), config.name, json.dumps(asdict(config))):
        raise Conflict(f"a printer named {config.name!r} exists already")
    r.publish(keys.printers_changed(), config.name)
    return config


def expose(r: redis.Redis, name: str, port: int | None, own_address: bool | None = None) -> PrinterConfig:
    """Expose a printer as a virtual network printer on ``port`` (None: stop) and, with
    ``own_address``, at an address of its own on the shop's network (None: as it was). The
    network process opens the port, or asks the shop's router for the address, within a
    second or two."""
    current = get(r, name)
    own = current.own_address if own_address is None else own_address
    changed = replace(current, port=_check_port(port), own_address=own)
    _port_free(r, changed)
    r.hset(keys.printers(), name, json.dumps(asdict(changed)))
    return changed


def update(r: redis.Redis, name: str, *, backup: str | None, failover_after: float) -> PrinterConfig:
    """Change a printer's backup and failover delay (its worker reads them when it needs
    them: no restart)."""
    def change(current: PrinterConfig) -> PrinterConfig:
        checked = validate(current.name, current.uri, current.roles, current.width, current.profile,
                           backup or None, failover_after, current.emulated, current.port)
        changed = replace(checked, language=current.language, language_forced=current.language_forced,
                          own_address=current.own_address)
        _backup_alike(r, changed)
        return changed

    return _change(r, name, change)


def set_language(r: redis.Redis, name: str, language: str | None) -> PrinterConfig:
    """The owner names the printer's language (None: the box learns it again from the printer,
    the next time its link opens)."""
    if language is not None and language not in languages.ALL:
        raise Invalid(f"printer language {language!r}: use one of {', '.join(languages.ALL)}", field="language")
    changed = _change(r, name, lambda current: replace(current, language=language or current.language,
                                                        language_forced=language is not None))
    r.publish(keys.printers_changed(), name)  # its worker starts again, and learns when told to
    return changed


def learn_language(r: redis.Redis, name: str, language: str) -> PrinterConfig:
    """What the printer's driver found the printer speaks; the owner's choice stands."""
    return _change(r, name, lambda current: current if current.language_forced
                   else replace(current, language=language))


def _change(r: redis.Redis, name: str, change: Callable[[PrinterConfig], PrinterConfig]) -> PrinterConfig:
    """Read, change and write one printer's configuration, again if it changed meanwhile
    (the owner's edit and the driver's learning never undo each other)."""
    def body(pipe: redis.client.Pipeline) -> PrinterConfig:
        value = pipe.hget(keys.printers(), name)
        if value is None:
            raise NotFound(f"no printer named {name!r}")
        changed = change(_load(value))
        pipe.multi()
        pipe.hset(keys.printers(), name, json.dumps(asdict(changed)))
        pipe.execute()
        return changed

    return transaction(r, [keys.printers()], body)


def roles_taken_from_emulated(r: redis.Redis, added: PrinterConfig) -> list[str]:
    """The roles the emulated printer held that ``added``, a real printer, now takes."""
    if added.emulated:
        return []
    held = {role for c in all_configs(r) if c.emulated for role in c.roles}
    return [role for role in added.roles if role in held]


def all_configs(r: redis.Redis) -> list[PrinterConfig]:
    raw = r.hgetall(keys.printers())
    configs = [_load(value) for value in raw.values()]
    return sorted(configs, key=lambda c: c.name)


def _load(value: bytes) -> PrinterConfig:
    data = json.loads(value)
    data["roles"] = tuple(data.get("roles", ()))
    return PrinterConfig(**data)


def get(r: redis.Redis, name: str) -> PrinterConfig:
    value = r.hget(keys.printers(), name)
    if value is None:
        raise NotFound(f"no printer named {name!r}")
    return _load(value)


def queue(r: redis.Redis, name: str) -> Queue:
    return Queue(keys.printer_queue(name), connection=r)


def pending_count(r: redis.Redis, name: str) -> int:
    """Jobs accepted for this printer and not yet printed, including the one printing."""
    return r.zcard(keys.printer_pending(name))


def remove(r: redis.Redis, name: str) -> None:
    """Forget a printer. Refused while jobs wait for it, so nothing accepted is dropped;
    cancel them (or let them print) first."""
    get(r, name)
    waiting = pending_count(r, name)
    if waiting:
        raise Conflict(f"printer {name!r} still has {waiting} job(s) to print; cancel them first",
                       pending=waiting)
    r.hdel(keys.printers(), name)
    r.delete(keys.printer_status(name))
    r.publish(keys.printers_changed(), name)


NOT_READ = "status not read yet"
FRESH = 1.0  # seconds: how old a reading an app's status question may be answered from
READING_WAIT = 0.8  # seconds an app's question waits for a new reading


@dataclass(frozen=True)
class PrinterState:
    """A printer as its worker last found it: written by the driver (``record_state``) after
    its conversations with the printer, read by everyone else through ``state``: the page, the
    API, the CLI, the failover, the virtual ports' and ePOS's status answers."""

    online: bool = False
    ready: bool = False
    paper: str = "unknown"  # ok, near_end, out; unknown: never read, or not reachable
    cover_open: bool = False
    error: bool = False  # cutter jam, head too hot...
    problem: str | None = NOT_READ  # in a person's words; None when ready
    confirmation: str = "unknown"  # paper, received, none: how far its jobs are proven
    failover_to: str | None = None  # the printer its waiting jobs moved to
    maker: str | None = None  # as the printer says (GS I)
    model: str | None = None
    checked_at: float | None = None  # None: never read

    @property
    def answered(self) -> bool:
        """It answered a status question at its last reading (its paper is known)."""
        return self.paper != "unknown"


def record_state(r: redis.Redis, name: str, state: PrinterState) -> None:
    """Written by the printer's worker after a conversation with the printer."""
    r.set(keys.printer_status(name), json.dumps({**asdict(state), "checked_at": time.time()}))


def want_reading(r: redis.Redis, name: str) -> None:
    """Ask the printer's worker to read its status now (it waits for no one: a printer
    that is printing is read between its jobs)."""
    with r.pipeline(transaction=False) as pipe:
        pipe.rpush(keys.printer_reading_wanted(name), 1)
        pipe.pexpire(keys.printer_reading_wanted(name), 5000)
        pipe.execute()


def fresh_state(r: redis.Redis, name: str, wait: Callable[[float], None] = time.sleep) -> PrinterState:
    """The state as an app asking the printer itself would hear it: a reading no older than
    FRESH seconds. An older one makes the worker read it again, waited for up to READING_WAIT
    (the time an app gives a printer to answer); past that, the last reading."""
    shown = state(r, name)
    if shown.checked_at is not None and time.time() - shown.checked_at <= FRESH:
        return shown
    asked = time.time()
    want_reading(r, name)
    deadline = time.monotonic() + READING_WAIT
    while time.monotonic() < deadline:
        wait(0.01)
        shown = state(r, name)
        if shown.checked_at is not None and shown.checked_at >= asked:
            break
    return shown


def state(r: redis.Redis, name: str) -> PrinterState:
    raw = r.get(keys.printer_status(name))
    if not raw:
        return PrinterState()
    known = {f.name for f in fields(PrinterState)}
    return PrinterState(**{key: value for key, value in json.loads(raw).items() if key in known})


def open_to_apps(r: redis.Redis) -> list[PrinterConfig]:
    """The printers that apps printing without a token (ePOS-Print, by name, role or
    ``local_printer``) may reach: the ones the owner exposed on a port, or every printer once
    the owner said so (the setting ``apps_reach_all``)."""
    configs = all_configs(r)
    return configs if settings.get(r, "apps_reach_all") else [c for c in configs if c.port or c.own_address]


def describe(r: redis.Redis, config: PrinterConfig) -> dict:
    """What GET /api/v1/printers and `appliance printers list` show for one printer."""
    shown = state(r, config.name)
    return {
        **asdict(config),
        "roles": list(config.roles),
        **{key: value for key, value in asdict(shown).items() if key != "error"},
        "port_state": ((r.hget(keys.virtual_port_states(), config.name) or b"").decode() or None
                       if config.port else None),
        # {address, interface, mac, state} (system/addresses.py), while it has or asks for one
        "own_address_state": (json.loads(r.hget(keys.printer_addresses(), config.name) or "null")
                              if config.own_address else None),
        "queue": pending_count(r, config.name),
    }


def describe_all(r: redis.Redis) -> list[dict]:
    """Every printer; the emulated one with only the roles no real printer holds (it steps
    aside for the others: ``choose``)."""
    configs = all_configs(r)
    real = {role for c in configs if not c.emulated for role in c.roles}
    return [{**shown, "roles": [role for role in shown["roles"] if role not in real]} if config.emulated else shown
            for config in configs for shown in [describe(r, config)]]


def _ready(r: redis.Redis, name: str) -> bool:
    return state(r, name).ready


def _for_role(configs: list[PrinterConfig], role: str) -> list[PrinterConfig]:
    """The printers holding ``role``, by name; the emulated one only if no real one does."""
    holders = [c for c in configs if role in c.roles]
    real = [c for c in holders if not c.emulated]
    return real or holders


def choose(r: redis.Redis, role: str, own_receipt_printer: str | None = None,
           among: list[PrinterConfig] | None = None) -> PrinterConfig:
    """The printer a job for ``role`` goes to (the rule is in this module's docstring), among
    every printer or the ones given."""
    configs = all_configs(r) if among is None else among
    if role == "receipt" and own_receipt_printer:
        for config in configs:
            if config.name == own_receipt_printer:
                return config
    candidates = _for_role(configs, role)
    if not candidates:
        raise Invalid(f"no printer has the role {role!r}", role=role)
    for config in candidates:
        if _ready(r, config.name):
            return config
    return candidates[0]


def stand_in(r: redis.Redis, failed: PrinterConfig) -> PrinterConfig | None:
    """Where the waiting jobs of a printer that cannot print go: its backup if that is
    ready, else the first ready printer sharing one of its roles, among the printers ``alike``
    it; None when no printer is ready to take them (they stay, rather than bounce between
    broken printers, or come out garbled on unlike ones)."""
    configs = [c for c in all_configs(r) if c.name != failed.name and alike(failed, c)]
    wanted = [c for c in configs if c.name == failed.backup]
    for role in failed.roles:
        wanted += _for_role(configs, role)
    for config in wanted:
        if _ready(r, config.name):
            return config
    return None
