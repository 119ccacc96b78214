"""Many tablets at once: they all end on the same state, and a power cut in the middle of
the storm loses no mutation the box acknowledged."""

from __future__ import annotations

import random
import threading
import time
import uuid

from appliance.access import devices
from appliance.sync import log, shop
from appliance.tools.client import ApiError, Client, Tablet
from tests.box import Box, wait_for

TABLES = [f"Table {n}" for n in range(1, 7)]


def open_shop(box: Box) -> Client:
    manager = Client(box.url)
    manager.pair(devices.new_pin(box.redis, "boss", "manager"))
    manager.open_register()
    shop.set_default_tickets(box.redis, TABLES)
    return manager


def random_step(tablet: Tablet, rng: random.Random, mine: list[str]) -> None:
    """One thing a waiter does, chosen from what this tablet sees."""
    tickets = [t for t in tablet.replica.state.get("ticket", {}).values() if t["status"] == "open"]
    choice = rng.random()
    if choice < 0.15 or not tickets:
        ticket_id = uuid.uuid4().hex[:8]
        mine.append(ticket_id)
        tablet.mutate("ticket.open", ticket_id=ticket_id, label=f"Counter {ticket_id[:3]}")
        return
    ticket = rng.choice(tickets)
    lines = [line for line in ticket["lines"] if not line["void"]]
    if choice < 0.55 or not lines:
        tablet.mutate("ticket.add_line", ticket_id=ticket["id"], line_id=uuid.uuid4().hex[:8],
                      product=rng.choice(["Burger", "Żurek", "Борщ", "Crème brûlée"]), qty=rng.randint(1, 3),
                      unit_price=rng.choice([450, 900, 1250]))
    elif choice < 0.65:
        tablet.mutate("ticket.set_qty", ticket_id=ticket["id"], line_id=rng.choice(lines)["line_id"],
                      qty=rng.randint(1, 5))
    elif choice < 0.72:
        tablet.mutate("ticket.void_line", ticket_id=ticket["id"], line_id=rng.choice(lines)["line_id"])
    elif choice < 0.8:
        tablet.mutate("ticket.pay", ticket_id=ticket["id"], payment_id=uuid.uuid4().hex[:8], method="card",
                      amount=max(1, ticket["total"] - ticket["paid"]), version=ticket["version"])
    elif choice < 0.88:
        tablet.mutate("kitchen.send", kitchen_id=uuid.uuid4().hex[:8], ticket_id=ticket["id"])
    elif choice < 0.94:
        tablet.mutate("stock.move", movement_id=uuid.uuid4().hex[:8], product="beer", delta=rng.randint(-2, 5))
    else:
        tablet.mutate("customer.upsert", customer_id=f"c{rng.randint(1, 3)}", name=rng.choice(["Anna", "Jan"]))


def test_thirty_tablets_end_with_the_same_state(box: Box) -> None:
    open_shop(box)
    tablets = [Tablet(box.client(f"t{n}"), staff=f"s{n}", role="waiter") for n in range(30)]
    for tablet in tablets:
        tablet.start()
    errors: list[BaseException] = []

    def storm(index: int, tablet: Tablet) -> None:
        rng = random.Random(index)
        mine: list[str] = []
        try:
            for _ in range(25):
                for _ in range(rng.randint(1, 3)):
                    random_step(tablet, rng, mine)
                tablet.sync()
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=storm, args=(i, t)) for i, t in enumerate(tablets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]

    final = log.last_cursor(box.redis)
    for tablet in tablets:
        tablet.push()
        while tablet.replica.cursor != final:
            tablet.pull()
    truth = tablets[0].client.pull()  # a fresh snapshot of the box
    expected = {kind: {e["id"] if "id" in e else e["product"]: e for e in items}
                for kind, items in truth["state"].items()}
    for tablet in tablets:
        assert {k: v for k, v in tablet.replica.state.items() if v} == {k: v for k, v in expected.items() if v}
    applied = sum(1 for t in tablets for r in t.results.values() if r["status"] == "applied")
    assert applied > 500 and len(expected["ticket"]) > 6
    # Stock movements from 30 tablets add up: none lost to a concurrent write.
    moved = sum(m["args"]["delta"] for t in tablets for m in t.pushed if m["name"] == "stock.move"
                and t.results[m["id"]]["status"] == "applied")
    assert expected.get("stock", {}).get("beer", {"qty": 0})["qty"] == moved


def test_power_cut_mid_storm_loses_no_acknowledged_mutation(box: Box) -> None:
    open_shop(box)
    tablets = [Tablet(box.client(f"k{n}"), staff=f"k{n}") for n in range(8)]
    for n, tablet in enumerate(tablets):
        tablet.start()
        tablet.mutate("ticket.open", ticket_id=f"tab{n}", label=f"Tab {n}")
        tablet.push()
    acknowledged: dict[int, set[str]] = {n: set() for n in range(len(tablets))}
    stop = threading.Event()

    def storm(n: int, tablet: Tablet) -> None:
        while not stop.is_set():
            line = uuid.uuid4().hex[:8]
            tablet.mutate("ticket.add_line", ticket_id=f"tab{n}", line_id=line, product="x", qty=1, unit_price=100)
            sent = list(tablet.pending)
            try:
                answer = tablet.push()
            except (OSError, ApiError):
                tablet.client.close()
                time.sleep(0.05)  # the box is down: retry the same numbered mutations
                continue
            assert answer is not None
            acknowledged[n].update(m["args"]["line_id"] for m in sent
                                   if m["name"] == "ticket.add_line" and m["id"] <= answer["last_mutation_id"])

    threads = [threading.Thread(target=storm, args=(n, t)) for n, t in enumerate(tablets)]
    for thread in threads:
        thread.start()
    wait_for(lambda: sum(map(len, acknowledged.values())) > 200, 30, "the storm to be under way")
    box.kill9(*box.pids())
    wait_for(lambda: not box.pids(), what="the box to be down")
    before_restart = {n: set(lines) for n, lines in acknowledged.items()}
    box.start()
    wait_for(lambda: sum(map(len, acknowledged.values())) > sum(map(len, before_restart.values())) + 100, 30,
             "the tablets to carry on")
    stop.set()
    for thread in threads:
        thread.join(30)
    for n, tablet in enumerate(tablets):
        while tablet.pending:
            tablet.push()
        lines = {line["line_id"] for line in tablet.client.ticket(f"tab{n}")["lines"]}
        assert before_restart[n] <= lines, "an acknowledged mutation was lost in the power cut"
        assert acknowledged[n] <= lines
