"""Sales reach the back office whenever it is there: an outage loses nothing, duplicates
nothing, and the backlog drains by itself; a rejected record never blocks the rest."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from appliance import settings
from appliance.access import devices
from appliance.sync import forwarder
from appliance.tools.client import Client, Tablet
from tests.box import ROOT, Box, child_env, free_port, wait_for

TOKEN = "test-token"


class BackOffice:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = tmp / "backoffice.jsonl"
        self.process: subprocess.Popen | None = None

    def start(self) -> BackOffice:
        self.process = subprocess.Popen([sys.executable, "-m", "appliance", "backoffice", "serve", "--port",
                                         str(self.port), "--token", TOKEN, "--data", str(self.data)],
                                        env=child_env(), cwd=ROOT, stdout=subprocess.DEVNULL)
        wait_for(self._up, 10, "the back office to listen")
        return self

    def _up(self) -> bool:
        try:
            self.get("/records")
            return True
        except OSError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        request = urllib.request.Request(self.url + path, method=method,
                                         data=json.dumps(body).encode() if body else None, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def get(self, path: str) -> dict:
        return self._request("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._request("POST", path, body)

    def sales(self) -> list[str]:
        return sorted(r["key"] for r in self.get("/records")["records"] if r["kind"] == "sale")


@pytest.fixture
def backoffice(tmp_path: Path):
    office = BackOffice(tmp_path).start()
    yield office
    if office.process and office.process.poll() is None:
        office.kill()


def selling_tablet(box: Box, backoffice: BackOffice) -> Tablet:
    forwarder.link(box.redis, backoffice.url, TOKEN)
    settings.put(box.redis, forward_active_s=0.2, forward_idle_s=0.2)
    manager = Client(box.url)
    manager.pair(devices.new_pin(box.redis, "boss", "manager"))
    manager.open_register()
    tablet = Tablet(box.client("caisse"), staff="marie")
    tablet.start()
    return tablet


def manager_of(box: Box) -> Client:
    manager = Client(box.url)
    manager.pair(devices.new_pin(box.redis, "another boss", "manager"))
    return manager


def sell(tablet: Tablet, ticket_id: str, amount: int = 1500) -> None:
    tablet.mutate("ticket.open", ticket_id=ticket_id, label=ticket_id)
    tablet.mutate("ticket.add_line", ticket_id=ticket_id, line_id="l", product="Menu", qty=1, unit_price=amount)
    tablet.mutate("ticket.pay", ticket_id=ticket_id, payment_id=f"p-{ticket_id}", method="card", amount=amount)
    tablet.push()


def test_an_outage_loses_and_duplicates_nothing(box: Box, backoffice: BackOffice) -> None:
    tablet = selling_tablet(box, backoffice)
    sell(tablet, "s1")
    wait_for(lambda: backoffice.sales() == ["sale:s1.1"], 15, "the first sale to arrive")
    backoffice.kill()  # the internet is gone
    for n in range(2, 40):
        sell(tablet, f"s{n}")  # the shop keeps selling
    status = wait_for(lambda: (s := forwarder.status(box.redis))["last_error"] and s, 15, "the outage to show")
    assert status["backlog"] >= 38
    backoffice.start()  # it is back: the backlog drains by itself, oldest first
    wait_for(lambda: forwarder.status(box.redis)["backlog"] == 0, 30, "the backlog to drain")
    assert backoffice.sales() == sorted(f"sale:s{n}.1" for n in range(1, 40))
    shown = manager_of(box).call("GET", "/api/v1/backoffice")
    assert shown["backlog"] == 0 and shown["last_success"] is not None and shown["configured"]


def test_a_rejected_record_goes_to_the_dead_letters_and_blocks_nothing(box: Box, backoffice: BackOffice) -> None:
    tablet = selling_tablet(box, backoffice)
    tablet.mutate("customer.upsert", customer_id="c1", name="Anna", email="anna-at-example")
    tablet.push()
    sell(tablet, "after")
    wait_for(lambda: backoffice.sales() == ["sale:after.1"], 15, "the sale behind the bad record")
    # The back office stores the sale as it answers; the box writes the verdicts just after.
    [dead] = wait_for(lambda: forwarder.dead_letters(box.redis), 10, "the refused record in the dead letters")
    assert dead["record"]["kind"] == "customer" and "e-mail" in dead["reason"]
    assert forwarder.status(box.redis)["dead_letters"] == 1


def test_catalogue_changes_reach_every_tablet(box: Box, backoffice: BackOffice) -> None:
    tablet = selling_tablet(box, backoffice)
    backoffice.post("/catalogue", {"id": "zurek", "name": "Żurek", "price": 1200})

    def seen() -> bool:
        tablet.pull()
        return tablet.replica.state.get("product", {}).get("zurek", {}).get("price") == 1200

    wait_for(seen, 15, "the product on the tablet")
