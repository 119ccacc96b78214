"""The print pipeline as a shop sees it: order, outages, paper, roles, confirmation."""

from __future__ import annotations

import time
import uuid

import pytest

from appliance.access import devices
from appliance.printing import printers
from appliance.tools.client import Client
from tests.box import Box, big_ticket, ticket, wait_for
from tests.fakeprinter import FakePrinter


def labels(printer: FakePrinter) -> list[str]:
    return [r.text.strip().splitlines()[0].strip() if r.text.strip() else "" for r in printer.receipts]


def add(box: Box, printer: FakePrinter, *roles: str) -> str:
    name = f"p{uuid.uuid4().hex[:8]}"
    box.add_printer(name, printer.uri, roles)
    return name


def test_jobs_print_in_the_order_they_were_accepted(shared_box: Box, tablet: Client, printer: FakePrinter) -> None:
    name = add(shared_box, printer)
    ids = [tablet.print(printer=name, document=ticket(f"T{i:02d}"))["id"] for i in range(30)]
    assert tablet.wait_job(ids[-1])["status"] == "printed"
    printer.wait_receipts(30)
    assert labels(printer) == [f"T{i:02d}" for i in range(30)]
    assert all(tablet.job(i)["attempts"] == 1 for i in ids)


def test_a_slow_printer_never_delays_another(shared_box: Box, tablet: Client, make_printer) -> None:
    slow, fast = make_printer(), make_printer()
    slow.bytes_per_second = 2000
    slow_name, fast_name = add(shared_box, slow), add(shared_box, fast)
    stuck = tablet.print(printer=slow_name, document=big_ticket("SLOW"))
    wait_for(lambda: tablet.job(stuck["id"])["status"] == "printing", what="the slow job to start")
    quick = tablet.print(printer=fast_name, document=ticket("FAST"))
    assert tablet.wait_job(quick["id"], timeout=3)["status"] == "printed"
    assert tablet.job(stuck["id"])["status"] == "printing"
    slow.bytes_per_second = None


def test_an_unreachable_printer_keeps_its_jobs_until_it_is_back(shared_box: Box, tablet: Client,
                                                               printer: FakePrinter) -> None:
    name = add(shared_box, printer)
    printer.reachable = False
    ids = [tablet.print(printer=name, document=ticket(f"U{i}"))["id"] for i in range(3)]
    first = wait_for(lambda: (j := tablet.job(ids[0]))["last_error"] and j, what="the job to report the outage")
    assert first["status"] == "queued" and "unreachable" in first["last_error"]
    listed = wait_for(lambda: [p for p in tablet.printers() if p["name"] == name and not p["online"]],
                      what="the printer to show offline")
    assert listed[0]["queue"] == 3
    printer.reachable = True
    assert tablet.wait_job(ids[-1], timeout=40)["status"] == "printed"
    assert labels(printer) == ["U0", "U1", "U2"]


@pytest.mark.parametrize(("fault", "fix", "problem"), [
    ({"paper": "out"}, {"paper": "ok"}, "out of paper"),
    ({"cover_open": True}, {"cover_open": False}, "cover open"),
])
def test_paper_out_or_cover_open_holds_the_job_at_the_head(shared_box: Box, tablet: Client, printer: FakePrinter,
                                                           fault: dict, fix: dict, problem: str) -> None:
    name = add(shared_box, printer)
    printer.set_state(**fault)
    first = tablet.print(printer=name, document=ticket("HEAD"))
    second = tablet.print(printer=name, document=ticket("NEXT"))
    wait_for(lambda: tablet.job(first["id"])["last_error"] == problem, what=problem)
    status = next(p for p in tablet.printers() if p["name"] == name)
    assert not status["ready"] and status["problem"] == problem and status["queue"] == 2
    assert printer.receipts == []
    printer.set_state(**fix)
    assert tablet.wait_job(second["id"], timeout=10)["status"] == "printed"
    assert labels(printer) == ["HEAD", "NEXT"]


def test_near_end_paper_is_shown_and_still_prints(shared_box: Box, tablet: Client, printer: FakePrinter) -> None:
    name = add(shared_box, printer)
    printer.set_state(paper="near_end")
    job = tablet.print(printer=name, document=ticket("LOW"))
    assert tablet.wait_job(job["id"])["status"] == "printed"
    assert next(p for p in tablet.printers() if p["name"] == name)["paper"] == "near_end"


def test_a_role_goes_to_its_first_ready_printer(shared_box: Box, tablet: Client, make_printer) -> None:
    role = f"grill{uuid.uuid4().hex[:6]}"
    one, two = make_printer(), make_printer()
    first_name, second_name = sorted([add(shared_box, one, role), add(shared_box, two, role)])
    wait_for(lambda: all(p["ready"] for p in tablet.printers() if p["name"] in (first_name, second_name)),
             what="both printers' first status")
    if first_name != printers.choose(shared_box.redis, role).name:
        pytest.fail("the first printer by name must be chosen while all are ready")
    primary = one if printers.get(shared_box.redis, first_name).uri == one.uri else two
    backup = two if primary is one else one
    job = tablet.print(role=role, document=ticket("R1"))
    assert job["printer"] == first_name
    assert tablet.wait_job(job["id"])["status"] == "printed"
    primary.set_state(paper="out")
    probe = tablet.print(printer=first_name, document=ticket("STUCK"))
    wait_for(lambda: tablet.job(probe["id"])["last_error"] == "out of paper", what="the primary to run out")
    job = tablet.print(role=role, document=ticket("R2"))
    assert job["printer"] == second_name
    assert tablet.wait_job(job["id"])["status"] == "printed" and labels(backup) == ["R2"]
    primary.set_state(paper="ok")
    tablet.wait_job(probe["id"])


def test_a_tablet_can_have_its_own_receipt_printer(shared_box: Box, make_printer) -> None:
    shop, own = make_printer(), make_printer()
    role = "receipt"
    shop_name = add(shared_box, shop, role)
    own_name = add(shared_box, own)
    tablet = shared_box.client("bar-tablet")
    device = devices.find(shared_box.redis, "bar-tablet")
    devices.set_receipt_printer(shared_box.redis, device["device_id"], own_name)
    job = tablet.print(role=role, document=ticket("MINE"))
    assert job["printer"] == own_name
    assert tablet.wait_job(job["id"])["status"] == "printed" and labels(own) == ["MINE"]
    assert shop.receipts == [] and shop_name != own_name


def test_an_idle_printer_keeps_its_worker(shared_box: Box, printer: FakePrinter) -> None:
    """Regression: an idle worker once died every 5 s (the Redis client's default socket
    timeout cut rq's blocking dequeue). Stability over time is the point, so this one waits."""
    name = add(shared_box, printer)
    worker = shared_box.worker(name)["worker"]
    time.sleep(7)
    assert shared_box.worker(name)["worker"] == worker


def test_a_backup_must_print_what_its_printer_prints(redis_only) -> None:
    """Failover moves a job's bytes, rendered for its printer: an 80 mm kitchen printer cannot
    hand its tickets to a 58 mm bar printer (they would come out garbled), and a role's
    stand-in is looked for among alike printers only."""
    from appliance.errors import Invalid

    r = redis_only
    printers.add(r, printers.validate("bar58", "tcp://127.0.0.1:9", ["kitchen"], width=58))
    printers.add(r, printers.validate("spare80", "tcp://127.0.0.1:9", ["kitchen"], width=80))
    with pytest.raises(Invalid, match="bar58 takes 58 mm"):
        printers.add(r, printers.validate("kitchen80", "tcp://127.0.0.1:9", ["kitchen"], backup="bar58"))
    kitchen = printers.add(r, printers.validate("kitchen80", "tcp://127.0.0.1:9", ["kitchen"], backup="spare80"))
    with pytest.raises(Invalid):
        printers.update(r, "kitchen80", backup="bar58", failover_after=60)
    for name in ("bar58", "spare80"):
        printers.record_state(r, name, printers.PrinterState(online=True, ready=True, paper="ok", problem=None))
    assert printers.stand_in(r, kitchen).name == "spare80"
    printers.remove(r, "spare80")
    assert printers.stand_in(r, kitchen) is None  # the 58 mm one shares the role, but not the paper
