"""The receipts a box prints by itself: the test page (every document element, the three
languages of our first shops) and the welcome receipt, with the one service function each
that the CLI, the setup page and the first start all call."""

from __future__ import annotations

import redis

from appliance.access import owner
from appliance.discovery import probe
from appliance.printing import jobs
from appliance.sync import shop
from appliance.system import wifi


def test_page(shop: str, printer: str) -> dict:
    """The page `printers test` and the first start print: every element, three languages."""
    return {"lines": [
        {"text": shop, "size": "double", "align": "center", "bold": True},
        {"text": f"Imprimante · Printer: {printer}", "align": "center"},
        {"rule": True},
        {"columns": ["Crème brûlée", "7.50"]},
        {"columns": ["Żurek", "12.00"]},
        {"columns": ["Борщ", "9.00"]},
        {"rule": "="},
        {"columns": ["TOTAL", "28.50"], "bold": True},
        {"barcode": {"type": "CODE128", "data": "COMPTOIR-TEST"}},
        {"qr": "https://comptoir.example/test"},
        {"text": "Merci · Dziękujemy · Спасибо", "align": "center"},
    ], "cut": True}


def welcome_page(shop: str, addresses: list[str], code: str, access_point: dict | None = None) -> dict:
    """The first receipt of an unclaimed box: where its setup page is (the first address in a
    QR code, the others beside it), and the code that claims it (physical access to the
    printer is the proof of ownership); on a box with Wi-Fi, its own access point, for when it
    has no network."""
    address, *others = addresses
    wifi = [
        {"rule": True},
        {"text": "Sans réseau, le Wi-Fi du boîtier · With no network, the box's Wi-Fi:"},
        {"text": access_point["ssid"], "bold": True},
        {"text": f"Mot de passe · Password: {access_point['password']}", "bold": True},
        {"text": "puis · then http://10.42.0.1/"},
    ] if access_point else []
    return {"lines": [
        {"text": shop, "size": "double", "align": "center", "bold": True},
        {"text": "Bienvenue · Welcome", "align": "center"},
        {"rule": True},
        {"text": "Page d'installation · Setup page:"},
        {"text": address, "bold": True},
        *({"text": f"ou · or {other}"} for other in others),
        {"qr": {"data": address, "size": 6}, "align": "center"},
        {"text": "Code d'installation · Setup code:"},
        {"text": code, "size": "double", "align": "center", "bold": True},
        *wifi,
        {"rule": True},
        {"text": "Gardez ce ticket · Keep this receipt", "align": "center"},
    ], "cut": True}


def setup_addresses(port: int) -> list[str]:
    """Where the setup page is: by the box's address first, what any phone opens with or
    without mDNS, then by its name, ``comptoir.local``, which needs mDNS but stays the same
    when the shop's router hands out another address. The one source of both for every
    receipt and message that says where to go."""
    suffix = "" if port == 80 else f":{port}"
    addresses = probe.local_addresses()
    return [*(f"http://{a}{suffix}/" for a in addresses[:1]), f"http://comptoir.local{suffix}/"]


def print_test_page(r: redis.Redis, printer: str) -> dict:
    """Queue the test page on ``printer``, headed with the shop's name; the job."""
    return jobs.print_document(r, test_page(shop.name(r), printer), printer=printer)


def print_welcome(r: redis.Redis, printer: str, addresses: list[str]) -> dict | None:
    """Queue the welcome receipt on ``printer`` while the box is not claimed; the job."""
    code = owner.setup_code(r)
    if not code:
        return None
    access_point = wifi.access_point(r) if wifi.has_wifi() else None
    return jobs.print_document(r, welcome_page(shop.name(r), addresses, code, access_point), printer=printer)
