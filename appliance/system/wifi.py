"""The shop's Wi-Fi, through NetworkManager (``nmcli``), and the box's own access point.

The setup page joins the shop's Wi-Fi (``join``); NetworkManager keeps the network (its
keyfiles live on the data partition) and joins it again at every boot. With no network at
all, no cable and no Wi-Fi joined, for ``GRACE`` seconds, the background process opens the box's
own access point ``Comptoir-3fa2`` (WPA2, the password printed on the welcome receipt and shown
on the setup page), with NetworkManager's shared mode handing out addresses, so a phone can
reach the setup page at http://10.42.0.1/. It closes again as soon as a network is back (a
Raspberry Pi has one radio: joining a network from the page closes it, and it opens again if
the join failed).

Only the SD image manages Wi-Fi (``appliance background --manage-wifi``); the comptoir user may
drive NetworkManager through a polkit rule the image installs. Elsewhere the page says that
NetworkManager is not there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import redis

from appliance.errors import Invalid, Unavailable
from appliance.store import keys

log = logging.getLogger(__name__)

AP_CONNECTION = "comptoir-ap"
CLIENT_CONNECTION = "comptoir-wifi"
AP_ADDRESS = "10.42.0.1"  # NetworkManager's shared mode
GRACE = 45.0
CHECK_EVERY = 5.0
KEEP_EVENTS = 10
PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to misread on a receipt
NO_NETWORKMANAGER = "Wi-Fi is managed by the box itself (NetworkManager is not running here)."
JOIN_FAILED = "the box could not join this network: check the password"
NAME_NEEDED = "choose the Wi-Fi network to join"
NOT_HEARD = "the box does not hear this network: check its name, or bring the box closer to the router"
NO_WIFI = "this box has no Wi-Fi"
EVENTS = ("access point opened", "access point closed", "access point failed")  # the page says "access point " + what
SYS_NET = Path("/sys/class/net")


def has_wifi() -> bool:
    """A Wi-Fi radio is there (cheap: no NetworkManager asked)."""
    return any((device / "wireless").exists() for device in SYS_NET.glob("*")) if SYS_NET.is_dir() else False


def fields(line: str) -> list[str]:
    """One line of ``nmcli --terse``: fields split on ':', with nmcli's '\\:' and '\\\\' escapes."""
    out, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


def _nmcli(*args: str, timeout: float = 30.0) -> list[list[str]]:
    if shutil.which("nmcli") is None:
        raise Unavailable(NO_NETWORKMANAGER)
    try:
        done = subprocess.run(["nmcli", "--terse", *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"NetworkManager did not answer within {timeout:.0f} s") from exc
    if done.returncode:
        raise Unavailable((done.stderr or done.stdout).strip() or f"nmcli failed ({done.returncode})")
    return [fields(line) for line in done.stdout.splitlines() if line]


def _forget(*connections: str) -> None:
    """Delete these NetworkManager connections; one that is not there is no error."""
    for name in connections:
        subprocess.run(["nmcli", "connection", "delete", name], capture_output=True)


def _mode(connection: str) -> str:
    rows = _nmcli("--get-values", "802-11-wireless.mode", "connection", "show", connection)
    return rows[0][0] if rows and rows[0] else "infrastructure"


def state() -> dict:
    """What the box's network is now: the Wi-Fi device, a cable, the Wi-Fi network joined (its
    address), the access point. ``available`` False where NetworkManager is not running."""
    try:
        devices = _nmcli("--fields", "DEVICE,TYPE,STATE,CONNECTION", "device", "status")
    except Unavailable as exc:
        return {"available": False, "problem": exc.message}
    wired = any(kind == "ethernet" and status.startswith("connected") for _, kind, status, _ in devices)
    radios = [(device, status, connection) for device, kind, status, connection in devices if kind == "wifi"]
    own = next(((d, s, c) for d, s, c in radios if not s.startswith("connected") or c == AP_CONNECTION
                or _mode(c) != "ap"), None)  # the radio the box uses: not one another program made an AP of
    joined = address = None
    ap = False
    if own is not None and own[1].startswith("connected"):
        if own[2] == AP_CONNECTION:
            ap = True
        else:
            joined = _nmcli("--get-values", "802-11-wireless.ssid", "connection", "show", own[2])[0][0]
            found = _nmcli("--get-values", "IP4.ADDRESS", "device", "show", own[0])
            address = found[0][0].split("/")[0] if found and found[0] and found[0][0] else None
    return {"available": True, "device": own[0] if own else None, "wired": wired, "joined": joined,
            "address": address, "access_point": ap}


def networks(device: str) -> list[dict]:
    """The Wi-Fi networks the box hears, strongest first, each once."""
    rows = _nmcli("--fields", "SSID,SIGNAL,SECURITY", "device", "wifi", "list", "ifname", device, "--rescan", "auto")
    best: dict[str, dict] = {}
    for ssid, signal, security in (row for row in rows if len(row) == 3):
        if ssid and (ssid not in best or int(signal or 0) > best[ssid]["signal"]):
            best[ssid] = {"ssid": ssid, "signal": int(signal or 0), "secured": security not in ("", "--")}
    return sorted(best.values(), key=lambda n: -n["signal"])


def join(ssid: str, password: str) -> dict:
    """Join the shop's Wi-Fi (the access point closes: one radio), kept for every boot."""
    ssid = ssid.strip()
    if not ssid:
        raise Invalid(NAME_NEEDED, field="ssid")
    now = state()
    if not now["available"]:
        raise Unavailable(now["problem"])
    if now["device"] is None:
        raise Unavailable(NO_WIFI)
    _forget(CLIENT_CONNECTION, AP_CONNECTION)
    with contextlib.suppress(Unavailable):  # a fresh list: the radio may just have left access point mode
        _nmcli("device", "wifi", "list", "ifname", now["device"], "--rescan", "yes", timeout=30)
    try:
        _nmcli("--wait", "45", "device", "wifi", "connect", ssid, *(("password", password) if password else ()),
               "ifname", now["device"], "name", CLIENT_CONNECTION, timeout=60)
    except Unavailable as exc:
        _forget(CLIENT_CONNECTION)
        if "No network with SSID" in exc.message:
            raise Invalid(NOT_HEARD, field="ssid", detail=exc.message) from None
        raise Invalid(JOIN_FAILED, field="password", detail=exc.message) from None
    return state()


def access_point(r: redis.Redis) -> dict:
    """The box's own access point: ``Comptoir-3fa2`` from the host name, a password made once."""
    suffix = socket.gethostname().rpartition("-")[2][-4:] or "box"
    password = "".join(secrets.choice(PASSWORD_LETTERS) for _ in range(10))
    r.hsetnx(keys.access_point(), "password", password)
    return {"ssid": f"Comptoir-{suffix}", "password": r.hget(keys.access_point(), "password").decode()}


def decide(network: bool, ap_open: bool, lost_since: float | None, now: float) -> str | None:
    """Open the access point after GRACE seconds with no network; close it when one is back."""
    if network:
        return "close" if ap_open else None
    if not ap_open and lost_since is not None and now - lost_since >= GRACE:
        return "open"
    return None


def _open(device: str, ssid: str, password: str) -> None:
    _forget(AP_CONNECTION)
    _nmcli("connection", "add", "type", "wifi", "ifname", device, "con-name", AP_CONNECTION, "autoconnect", "no",
           "ssid", ssid, "802-11-wireless.mode", "ap", "802-11-wireless.band", "bg", "ipv4.method", "shared",
           "ipv4.addresses", f"{AP_ADDRESS}/24", "ipv6.method", "disabled", "wifi-sec.key-mgmt", "wpa-psk",
           "wifi-sec.proto", "rsn", "wifi-sec.pairwise", "ccmp", "wifi-sec.group", "ccmp", "wifi-sec.psk", password)
    _nmcli("--wait", "30", "connection", "up", AP_CONNECTION, timeout=45)


def _event(r: redis.Redis, what: str, ssid: str, detail: str = "") -> None:
    kept = [*events(r), {"at": time.time(), "what": what, "ssid": ssid, "detail": detail}][-KEEP_EVENTS:]
    r.hset(keys.wifi_state(), "events", json.dumps(kept))
    # On the console too (a screen plugged into the box), as the setup code is.
    print(f"Comptoir: Wi-Fi access point {ssid} {what}{f' ({detail})' if detail else ''}", flush=True)


def events(r: redis.Redis) -> list[dict]:
    raw = r.hget(keys.wifi_state(), "events")
    return json.loads(raw) if raw else []


def serve(r: redis.Redis, stop: threading.Event) -> None:
    """The background process's side: watch the network, open or close the access point."""
    lost_since: float | None = None
    while not stop.wait(CHECK_EVERY):
        try:
            now = state()
            if not now["available"] or now["device"] is None:
                continue
            network = now["wired"] or now["joined"] is not None
            lost_since = None if network else (lost_since or time.monotonic())
            action = decide(network, now["access_point"], lost_since, time.monotonic())
            if action is None:
                continue
            ap = access_point(r)
            if action == "open":
                try:
                    _open(now["device"], ap["ssid"], ap["password"])
                    _event(r, "opened", ap["ssid"])
                except Unavailable as exc:
                    _event(r, "failed", ap["ssid"], exc.message)
                    lost_since = time.monotonic()  # try again after another grace
            else:
                _forget(AP_CONNECTION)
                _event(r, "closed", ap["ssid"])
        except (redis.RedisError, Unavailable, OSError) as exc:
            log.warning("Wi-Fi: %s; trying again", exc)
