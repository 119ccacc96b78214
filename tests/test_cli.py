"""The `appliance` command as a shop owner or installer types it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from appliance.access import owner
from appliance.tools.client import Client
from tests.box import Box, child_env, wait_for
from tests.fakeprinter import FakePrinter


def run(box: Box, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(box.argv(*args), capture_output=True, text=True, env=child_env(), timeout=60)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def test_fresh_box_prints_on_the_emulated_printer(tmp_path: Path) -> None:
    box = Box(tmp_path / "fresh", emulated_printer=True).start()
    try:
        receipts = box.data_dir / "receipts"
        first = wait_for(lambda: (found := sorted(receipts.glob("*.txt"))) and len(found) >= 2 and found,
                         20, "the welcome and test receipts")
        welcome = first[0].read_text(encoding="utf-8")
        assert owner.setup_code(box.redis) in welcome and "http://comptoir.local:" in welcome  # how to claim it
        text = first[1].read_text(encoding="utf-8")
        assert "Crème brûlée" in text and "Żurek" in text and "Борщ" in text
        assert first[1].with_suffix(".png").stat().st_size > 1000  # and a picture of it
        tablet = box.client()
        [emulated] = tablet.printers()
        assert emulated["name"] == "emulated" and set(emulated["roles"]) >= {"receipt", "kitchen", "bar"}
        job = tablet.print(role="kitchen", document={"lines": [{"text": "Table 7"}]})
        assert tablet.wait_job(job["id"])["status"] == "printed"
        wait_for(lambda: any("Table 7" in p.read_text() for p in receipts.glob("*.txt")), what="Table 7")
    finally:
        box.stop()


def test_printers_are_managed_while_the_box_runs(box: Box, printer: FakePrinter) -> None:
    out = run(box, "printers", "add", "kitchen", "--uri", printer.uri, "--roles", "kitchen,bar", "--width", "58")
    assert "added kitchen" in out.stdout
    tablet = box.client()
    wait_for(lambda: any(p["name"] == "kitchen" and p["ready"] for p in tablet.printers()), what="kitchen ready")
    listing = run(box, "printers", "list").stdout
    assert "kitchen" in listing and "kitchen,bar" in listing and "ready" in listing

    out = run(box, "printers", "test", "kitchen")
    assert "printed" in out.stdout
    assert "Борщ" in printer.wait_receipts(1)[0].text

    duplicate = run(box, "printers", "add", "kitchen", "--uri", printer.uri, ok=False)
    assert duplicate.returncode == 2 and "exists already" in duplicate.stderr
    bad = run(box, "printers", "add", "usb1", "--uri", "usb://epson", ok=False)
    assert bad.returncode == 2 and "vendor and product ids" in bad.stderr

    printer.set_state(paper="out")
    job = tablet.print(printer="kitchen", document={"lines": [{"text": "waiting"}]})
    refused = run(box, "printers", "remove", "kitchen", ok=False)
    assert "1 job(s) to print" in refused.stderr
    run(box, "jobs", "cancel", job["id"])
    run(box, "printers", "remove", "kitchen")
    wait_for(lambda: tablet.printers() == [], what="the printer to be gone")


def test_pair_prints_a_pin_that_a_tablet_can_use(box: Box) -> None:
    out = run(box, "pair", "--name", "Caisse 3").stdout
    pin = out.split()[1]
    assert len(pin) == 6 and pin.isdigit()
    tablet = Client(box.url)
    assert tablet.pair(pin)["name"] == "Caisse 3"
    listing = run(box, "devices", "list").stdout
    assert "Caisse 3" in listing and "staff" in listing
    run(box, "devices", "revoke", "Caisse 3")
    assert tablet.request("GET", "/api/v1/printers")[0] == 401


def test_cli_works_when_the_box_is_stopped(tmp_path: Path, printer: FakePrinter) -> None:
    box = Box(tmp_path / "offline")
    run(box, "printers", "add", "counter", "--uri", printer.uri, "--roles", "receipt")
    assert "counter" in run(box, "printers", "list").stdout
    box.start()
    try:
        tablet = box.client()
        job = tablet.print(role="receipt", document={"lines": [{"text": "hello"}]})
        assert tablet.wait_job(job["id"])["status"] == "printed"
    finally:
        box.stop()


def test_sigterm_stops_every_process_cleanly(tmp_path: Path, printer: FakePrinter) -> None:
    box = Box(tmp_path / "stop").start()
    box.add_printer("counter", printer.uri)
    assert {"serve", "web", "workers", "redis"} <= {role for role in ("serve", "web", "workers", "redis")
                                                     if box.pids(role)}
    assert box.process is not None
    box.process.send_signal(signal.SIGTERM)
    assert box.process.wait(30) == 0
    assert box.pids() == []  # no orphan: Redis, the API and every printer worker are gone
    assert "Comptoir stopped." in box.log.read_text()


def test_simulate_a_lunch_rush(tmp_path: Path) -> None:
    box = Box(tmp_path / "rush", emulated_printer=True).start()
    try:
        out = run(box, "simulate", "--tablets", "4", "--minutes", "0.1", "--url", box.url)
        assert "tablets converged on the box's state: 4/4" in out.stdout
        printed = [line for line in out.stdout.splitlines() if line.startswith("kitchen tickets printed exactly once")]
        count = printed[0].split(": ")[1]
        assert count.split("/")[0] == count.split("/")[1] and int(count.split("/")[0]) > 4
        assert out.stdout.strip().endswith("OK")
    finally:
        box.stop()


def test_discovery_commands_say_what_they_can_do_here(tmp_path: Path) -> None:
    box = Box(tmp_path / "disc")
    listing = run(box, "printers", "discover", "--seconds", "0.1")  # mDNS is off in tests: nothing to list
    assert "(none)" in listing.stdout
    too_big = run(box, "printers", "discover", "--subnet", "10.0.0.0/16", ok=False)
    assert too_big.returncode != 0 and "at most 1024" in too_big.stderr
    scan = run(box, "printers", "scan", "--bluetooth", "--seconds", "1", ok=False)
    if scan.returncode != 0:  # no BlueZ here: said in words, not a traceback
        assert "Bluetooth" in scan.stderr and "Traceback" not in scan.stderr


def test_an_address_is_taken_as_typed_and_the_test_page_says_the_shop(box: Box, printer: FakePrinter) -> None:
    """The CLI takes a printer's bare address as the page does, and its test page is headed
    with the shop's name, as the page's is (one service behind both)."""
    from appliance.sync import shop

    shop.set_name(box.redis, "Chez Zofia")
    run(box, "printers", "add", "bar", "--uri", f"127.0.0.1:{printer.port}", "--roles", "bar")
    assert "tcp://127.0.0.1:" in run(box, "printers", "list").stdout
    run(box, "printers", "test", "bar", "--wait", "20")
    paper = printer.wait_receipts(1, timeout=20)[0].text
    assert paper.splitlines()[0].strip() == "Chez Zofia" and "Żurek" in paper


def test_settings_are_typed_bounded_and_the_same_from_the_shell(box: Box) -> None:
    """Every owner setting is declared once (type, bounds, default): the CLI sets what the page
    sets, refuses what is out of bounds in words, and reports a key no setting declares."""
    from appliance import settings
    from appliance.store import keys

    assert "forward_idle_s = 120" in run(box, "settings", "show").stdout
    assert run(box, "settings", "set", "forward_idle_s", "30").stdout.strip() == "forward_idle_s = 30.0"
    assert settings.get(box.redis, "forward_idle_s") == 30.0
    refused = run(box, "settings", "set", "app_receipt_metres", "500", ok=False)
    assert refused.returncode != 0 and "from 0.5 to 20" in refused.stderr
    assert "one of" in run(box, "settings", "set", "visibility", "nobody", ok=False).stderr
    run(box, "settings", "set", "apps_reach_all", "on")
    assert settings.get(box.redis, "apps_reach_all") is True
    box.redis.hset(keys.shop_settings(), "forward_idel_s", "5")  # a typo made with redis-cli
    assert "forward_idel_s: not a setting" in run(box, "settings", "show").stderr
