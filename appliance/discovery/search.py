"""The printer search the setup page starts, carried out by the background process.

The page asks (``ask``), the background process takes the request (``serve``), lists the USB
printers plugged into the box (first), browses mDNS, probes port 9100 on the local subnets and
the subnet the owner typed, scans Bluetooth, and
writes what it found and what it could not search (``result``), which the page shows live.
The search runs there because mDNS browsing and Bluetooth scans block real threads for
seconds, and the web server's workers are gevent's.

Where mDNS is off (``APPLIANCE_MDNS_INTERFACES=none``, as in the tests) the box stays off the
network by itself: no mDNS browse and no probe of its own subnets; a subnet the owner typed
is still probed, since someone asked for exactly that.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from appliance.discovery import bluetooth, mdns, probe, usb
from appliance.errors import Invalid
from appliance.store import keys

logger = logging.getLogger(__name__)

BROWSE_SECONDS = 3.0
SCAN_SECONDS = 6
KEEP = 3600
SUBNET_FORMAT = f"write the subnet as 192.168.1.0/24, with at most {probe.MAX_HOSTS} addresses"
OFF, TOO_LARGE, NO_BLUETOOTH, FAILED = NOTES = (
    "Network search is off on this box (mDNS is off): only a subnet you type is probed.",
    "This subnet is too large to probe:", "Bluetooth is not available:", "The search failed:")
GIVE_UP_AFTER = 60.0  # a search still "searching" after this: the background process is not there


def ask(r: redis.Redis, subnet: str = "") -> None:
    """Start a search (a second ask while one runs joins it). Refuses a subnet too large to
    probe, with the limit."""
    subnet = subnet.strip()
    if subnet:
        try:
            probe.hosts([subnet])
        except ValueError:
            raise Invalid(SUBNET_FORMAT, field="subnet") from None
    current = result(r)
    if current["state"] == "searching" and current.get("subnet", "") == subnet:
        return
    with r.pipeline() as pipe:
        pipe.delete(keys.printer_search())
        pipe.hset(keys.printer_search(), mapping={"state": "searching", "asked_at": time.time(), "subnet": subnet,
                                                  "found": "[]", "notes": "[]"})
        pipe.expire(keys.printer_search(), KEEP)
        pipe.rpush(keys.printer_search_requests(), subnet)
        pipe.execute()


def result(r: redis.Redis) -> dict:
    """The last search: state none / searching / done / lost, what was found, the notes."""
    raw = {k.decode(): v.decode() for k, v in r.hgetall(keys.printer_search()).items()}
    if not raw:
        return {"state": "none", "found": [], "notes": []}
    state = raw["state"]
    if state == "searching" and time.time() - float(raw["asked_at"]) > GIVE_UP_AFTER:
        state = "lost"
    return {"state": state, "subnet": raw.get("subnet", ""), "asked_at": float(raw["asked_at"]),
            "finished_at": float(raw["finished_at"]) if raw.get("finished_at") else None,
            "found": json.loads(raw["found"]), "notes": json.loads(raw["notes"])}


def search(subnet: str, interfaces: str, bluetooth_too: bool = True) -> tuple[list[dict], list[dict]]:
    """Every printer found (name, model, how it was found, the URI to add it with), each
    once, and notes on what could not be searched: {text (fixed, to translate), detail}.
    ``interfaces``: where mDNS may browse (``config.Settings.mdns_interfaces``)."""
    found: list[dict] = []
    notes: list[dict] = []
    chosen = mdns.interfaces_setting(interfaces)
    subnets = [subnet] if subnet else []
    if chosen is None:
        notes.append({"text": OFF, "detail": ""})
    else:
        for item in mdns.browse(BROWSE_SECONDS, chosen):
            uri = f"tcp://{item['address']}" + (f":{item['port']}" if item["port"] != 9100 else "")
            if item["service"] == "_pdl-datastream._tcp":
                found.append({"name": item["name"], "model": item["model"], "uri": uri, "how": "mDNS"})
        subnets += [s for s in probe.local_subnets() if s not in subnets]
    for each in subnets:
        try:
            addresses = probe.hosts([each])
        except ValueError as exc:
            notes.append({"text": TOO_LARGE, "detail": str(exc)})
            continue
        found += [{"name": item["model"] or item["address"], "model": item["model"], "uri": item["uri"],
                   "how": "port 9100"} for item in probe.probe(addresses)]
    try:
        found += [{"name": item["name"] or item["address"], "model": None, "uri": item["uri"], "how": "Bluetooth"}
                  for item in (bluetooth.scan(SCAN_SECONDS) if bluetooth_too else []) if item["printer"]]
    except bluetooth.Unavailable as exc:
        notes.append({"text": NO_BLUETOOTH, "detail": str(exc)})
    unique = {item["uri"]: item for item in reversed(found)}  # mDNS names win over probe answers
    return [*usb.printers(), *sorted(unique.values(), key=lambda item: item["uri"])], notes


def serve(r: redis.Redis, stop: threading.Event, interfaces: str) -> None:
    """The background process's side: take each request, search, write the result."""
    while not stop.wait(0):
        try:
            request = r.blpop([keys.printer_search_requests()], timeout=1)
            if request is None:
                continue
            subnet = request[1].decode()
            try:
                found, notes = search(subnet, interfaces)
            except OSError as exc:
                found, notes = [], [{"text": FAILED, "detail": str(exc)}]
            with r.pipeline() as pipe:
                pipe.hset(keys.printer_search(), mapping={"state": "done", "finished_at": time.time(),
                                                          "found": json.dumps(found), "notes": json.dumps(notes)})
                pipe.expire(keys.printer_search(), KEEP)
                pipe.execute()
        except redis.RedisError as exc:
            logger.warning("printer search: %s; trying again", exc)
            stop.wait(1.0)
