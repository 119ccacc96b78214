"""`appliance simulate`: a lunch rush against a running box.

N tablets open tables, add lines, send kitchen tickets (synced as kitchen.send, and printed on
the kitchen role), pay and close. At the end it checks, and prints, that every tablet
converged on the box's state and that every kitchen ticket printed exactly once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import redis

from appliance.access import devices
from appliance.tools.client import ApiError, Client, Tablet

PRODUCTS = [("Burger", 1250), ("Żurek", 900), ("Борщ", 850), ("Crème brûlée", 750), ("Frites", 400), ("Café", 250)]


@dataclass
class Outcome:
    applied: int = 0
    rejected: int = 0
    paid: int = 0
    kitchen_jobs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _rush(tablet: Tablet, seconds: float, seed: int, outcome: Outcome, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ticket_id = uuid.uuid4().hex[:12]
        tablet.mutate("ticket.open", ticket_id=ticket_id, label=f"Table {rng.randint(1, 30)}")
        lines = []
        for _ in range(rng.randint(1, 4)):
            product, price = rng.choice(PRODUCTS)
            line_id = uuid.uuid4().hex[:8]
            qty = rng.randint(1, 3)
            lines.append((product, qty, price))
            tablet.mutate("ticket.add_line", ticket_id=ticket_id, line_id=line_id, product=product, qty=qty,
                          unit_price=price)
        kitchen_id = str(uuid.uuid4())
        tablet.mutate("kitchen.send", kitchen_id=kitchen_id, ticket_id=ticket_id)
        tablet.sync()
        job = tablet.client.print(role="kitchen", job_id=kitchen_id, document={"lines": [
            {"text": f"KITCHEN {kitchen_id[:8]}", "bold": True},
            *({"columns": [f"{qty}x {product}", ""]} for product, qty, _ in lines)]})
        total = sum(qty * price for _, qty, price in lines)
        tablet.mutate("ticket.pay", ticket_id=ticket_id, payment_id=uuid.uuid4().hex[:8],
                      method=rng.choice(["cash", "card"]), amount=total)
        tablet.sync()
        with lock:
            outcome.kitchen_jobs.append(job["id"])
            outcome.paid += 1
        time.sleep(rng.uniform(0, 0.2))  # a waiter is not a machine


def run(r: redis.Redis, url: str, tablets: int, minutes: float, out=print) -> bool:
    manager = Client(url)
    manager.pair(devices.new_pin(r, "simulate-manager", "manager"))
    if manager.call("GET", "/api/v1/register")["state"] != "open":
        manager.open_register()
    crew = []
    for n in range(tablets):
        client = Client(url)
        client.pair(devices.new_pin(r, f"simulated-{n + 1}"))
        tablet = Tablet(client, staff=f"waiter{n + 1}", role="waiter")
        tablet.start()
        crew.append(tablet)
    outcome, lock = Outcome(), threading.Lock()

    def guarded(n: int, tablet: Tablet) -> None:
        try:
            _rush(tablet, minutes * 60, n, outcome, lock)
        except (ApiError, OSError) as exc:
            with lock:
                outcome.errors.append(f"tablet {n + 1}: {exc}")

    out(f"lunch rush: {tablets} tablets for {minutes:g} min against {url}")
    threads = [threading.Thread(target=guarded, args=(n, t)) for n, t in enumerate(crew)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for tablet in crew:
        tablet.close()
    truth = manager.pull()
    expected = {kind: {e.get("id", e.get("product")): e for e in items} for kind, items in truth["state"].items()}
    converged = 0
    for tablet in crew:
        while tablet.replica.cursor != truth["cursor"]:
            tablet.pull()
        mine = {k: v for k, v in tablet.replica.state.items() if v}
        converged += mine == {k: v for k, v in expected.items() if v}
    for tablet in crew:
        for result in tablet.results.values():
            outcome.applied += result["status"] == "applied"
            outcome.rejected += result["status"] == "rejected"

    deadline = time.monotonic() + 60
    jobs = [manager.job(job_id) for job_id in outcome.kitchen_jobs]
    while any(j["status"] != "printed" for j in jobs) and time.monotonic() < deadline:
        time.sleep(0.2)
        jobs = [manager.job(j["id"]) if j["status"] != "printed" else j for j in jobs]
    once = sum(1 for j in jobs if j["status"] == "printed" and not j["reprint"])

    out(f"mutations applied: {outcome.applied}, refused by the rules: {outcome.rejected}")
    out(f"tickets paid: {outcome.paid}")
    out(f"tablets converged on the box's state: {converged}/{tablets}")
    out(f"kitchen tickets printed exactly once: {once}/{len(jobs)}")
    for error in outcome.errors:
        out(f"error: {error}")
    ok = converged == tablets and once == len(jobs) and not outcome.errors
    out("OK" if ok else "FAILED")
    return ok
