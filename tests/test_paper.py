"""Printed means on paper: confirmation levels, power cuts and paper out mid-receipt, the
printer that dies with a stand-in next to it, and rq's share of the truth.

The fake printers here print at a real speed where it matters (a few cm per second, so a
receipt is mid-print long enough to hurt it), and hold only 4 KiB of unprinted bytes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rq import Queue, Worker
from rq.job import Job

from appliance.printing import printers
from appliance.store import keys
from appliance.tools.client import Client
from tests.box import Box, ticket, wait_for
from tests.fakeprinter import FakePrinter


def whole(printer: FakePrinter) -> list[str]:
    """The labels of the receipts that came out whole (cut), REPRINT marks left aside."""
    found = []
    for receipt in printer.receipts:
        if not receipt.cut:
            continue
        lines = [line.strip() for line in receipt.text.splitlines() if line.strip()]
        lines = [line for line in lines if line not in ("REPRINT",) and not line.startswith("moved from")]
        found.append(lines[0])
    return found


def add(box: Box, printer: FakePrinter | str, *roles: str, **options) -> str:
    name = f"p{uuid.uuid4().hex[:8]}"
    uri = printer if isinstance(printer, str) else printer.uri
    printers.add(box.redis, printers.validate(name, uri, list(roles), **options))
    wait_for(lambda: box.redis.exists(keys.printer_worker(name)), 10, f"a worker for {name}")
    return name


def shown(tablet: Client, name: str) -> dict:
    return next(p for p in tablet.printers() if p["name"] == name)


@pytest.mark.parametrize(("options", "level"), [
    ({}, "paper"),  # GS ( H process IDs
    ({"process_id": False}, "paper"),  # GS r only
    ({"process_id": False, "paper_status": False}, "received"),  # DLE EOT only
])
def test_each_printer_shows_how_it_confirms_and_prints(shared_box: Box, tablet: Client, make_printer,
                                                      options: dict, level: str) -> None:
    printer = make_printer(**options)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == level, what=f"confirmation {level}")
    job = tablet.print(printer=name, document=ticket("LEVEL", 3))
    assert tablet.wait_job(job["id"])["status"] == "printed"
    assert whole(printer) == ["LEVEL"]


def test_a_write_only_link_confirms_nothing(shared_box: Box, tablet: Client, tmp_path: Path) -> None:
    device = tmp_path / "lp0.out"
    device.touch()
    name = add(shared_box, f"file://{device}")
    job = tablet.print(printer=name, document=ticket("LP", 2))
    assert tablet.wait_job(job["id"])["status"] == "printed"
    assert shown(tablet, name)["confirmation"] == "none"
    assert b"LP" in device.read_bytes()


def test_printed_is_never_seen_before_the_receipt_is_on_paper(shared_box: Box, tablet: Client,
                                                              make_printer) -> None:
    printer = make_printer(speed_mm_s=40)  # about 2 s for this receipt
    name = add(shared_box, printer)
    job = tablet.print(printer=name, document=ticket("SLOW", 20))
    seen = []

    def printed() -> bool:
        status = tablet.job(job["id"])["status"]
        seen.append((status, len(printer.receipts)))
        return status == "printed"

    wait_for(printed, 15, "the job to be printed")
    assert ("printing", 0) in seen  # it was in the printer's hands, not on paper, for a while
    assert all(on_paper == 1 for status, on_paper in seen if status == "printed")


def test_a_power_cut_mid_receipt_prints_it_again_and_keeps_the_order(shared_box: Box, tablet: Client,
                                                                    make_printer) -> None:
    printer = make_printer(speed_mm_s=40)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", what="the printer to be known")
    ids = [tablet.print(printer=name, document=ticket(f"CUT{i}", 20))["id"] for i in range(4)]
    wait_for(lambda: printer.engine.dots_fed > 200, what="the first receipt to be half printed")
    assert printer.receipts == [] and tablet.job(ids[0])["status"] == "printing"
    printer.reachable = False  # the plug: its buffer (the rest of CUT0, maybe CUT1) is gone
    wait_for(lambda: tablet.job(ids[0])["status"] == "queued", what="the cut job to go back to the queue")
    assert tablet.job(ids[0])["reprint"]
    printer.reachable = True
    for job_id in ids:
        assert tablet.wait_job(job_id, timeout=60)["status"] == "printed"
    assert whole(printer) == ["CUT0", "CUT1", "CUT2", "CUT3"]
    torn = [r for r in printer.receipts if not r.cut]
    assert len(torn) == 1 and "CUT0" in torn[0].text  # what was on paper when the power went
    reprinted = [r for r in printer.receipts if r.cut and "REPRINT" in r.text]
    assert reprinted and "CUT0" in reprinted[0].text


def test_a_link_lost_while_the_printer_keeps_printing_still_confirms_on_paper(shared_box: Box, tablet: Client,
                                                                             make_printer) -> None:
    """A USB cable pulled and put back, a Wi-Fi blink: the printer stays on and prints what its
    buffer holds while the box comes back. The box finds it still busy (its in-order answers
    come late): it goes on confirming on paper, and no job is printed before its receipt is."""
    printer = make_printer(speed_mm_s=15)  # slow: it is still printing when the box is back
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", what="the printer to be known")
    assert tablet.wait_job(tablet.print(printer=name, document=ticket("LINK0", 5))["id"], 20)["status"] == "printed"
    before = printer.engine.dots_fed
    ids = [tablet.print(printer=name, document=ticket(f"LINK{i}", 40 if i == 1 else 5))["id"] for i in range(1, 4)]
    wait_for(lambda: printer.engine.dots_fed > before + 200, what="LINK1 half printed")
    printer.unplug()
    wait_for(lambda: tablet.job(ids[0])["reprint"], 30, "the box to find the link gone")
    printer.reachable = True  # plugged back while it still prints what it had
    seen = []

    def all_printed() -> bool:
        statuses = [tablet.job(job_id)["status"] for job_id in ids]
        seen.append((statuses, whole(printer)))
        return statuses == ["printed"] * 3

    wait_for(all_printed, 120, "the jobs to be printed")
    for statuses, on_paper in seen:
        for n, status in enumerate(statuses, start=1):
            assert status != "printed" or f"LINK{n}" in on_paper, (n, on_paper)
    assert shown(tablet, name)["confirmation"] == "paper"
    assert whole(printer)[-1] == "LINK3" and {"LINK1", "LINK2"} <= set(whole(printer))


def test_paper_out_mid_receipt_waits_and_finishes_the_same_receipt(shared_box: Box, tablet: Client,
                                                                   make_printer) -> None:
    printer = make_printer(speed_mm_s=40)
    name = add(shared_box, printer)
    job = tablet.print(printer=name, document=ticket("ROLL", 20))
    wait_for(lambda: printer.engine.dots_fed > 200, what="the receipt to be half printed")
    printer.set_state(paper="out")
    waiting = wait_for(lambda: (j := tablet.job(job["id"]))["last_error"] and j, what="the job to say why it waits")
    assert waiting["status"] == "printing" and "out of paper" in waiting["last_error"]
    listed = wait_for(lambda: (p := shown(tablet, name))["problem"] == "out of paper" and p, what="the list to say so")
    assert not listed["ready"]
    assert printer.receipts == []
    printer.set_state(paper="ok")
    assert tablet.wait_job(job["id"], timeout=20)["status"] == "printed"
    assert whole(printer) == ["ROLL"] and "REPRINT" not in printer.texts()[0]


def test_a_dead_printer_hands_its_jobs_to_its_backup(shared_box: Box, tablet: Client, make_printer) -> None:
    role = f"hot{uuid.uuid4().hex[:6]}"
    spare_printer, dead_printer = make_printer(), make_printer()
    spare = add(shared_box, spare_printer)
    dead = add(shared_box, dead_printer, role, backup=spare, failover_after=5)
    wait_for(lambda: shown(tablet, spare)["ready"] and shown(tablet, dead)["ready"], what="both printers ready")
    dead_printer.reachable = False
    ids = [tablet.print(printer=dead, document=ticket(f"HOT{i}", 3))["id"] for i in range(3)]
    wait_for(lambda: "unreachable" in (tablet.job(ids[0])["last_error"] or ""), what="the outage")
    for job_id in ids:
        assert tablet.wait_job(job_id, timeout=30)["status"] == "printed"
    assert whole(spare_printer) == ["HOT0", "HOT1", "HOT2"]
    assert all(r.text.lstrip().startswith(f"moved from {dead}") for r in spare_printer.receipts)
    records = [tablet.job(job_id) for job_id in ids]
    assert all(r["printer"] == spare and r["moved_from"] == dead for r in records)
    assert shown(tablet, dead)["failover_to"] == spare
    # A job for the role goes straight to a ready printer meanwhile; once back, the printer
    # takes its own jobs again.
    late = tablet.print(printer=dead, document=ticket("LATE", 2))
    assert tablet.wait_job(late["id"], timeout=30)["printer"] == spare
    dead_printer.reachable = True
    wait_for(lambda: shown(tablet, dead)["ready"], 30, "the printer to be back")
    assert shown(tablet, dead)["failover_to"] is None
    again = tablet.print(printer=dead, document=ticket("BACK", 2))
    assert tablet.wait_job(again["id"])["printer"] == dead
    assert whole(dead_printer) == ["BACK"]


def test_rq_holds_nothing_for_finished_or_cancelled_jobs(shared_box: Box, tablet: Client, printer: FakePrinter) -> None:
    name = add(shared_box, printer)
    r = shared_box.redis
    done = tablet.print(printer=name, document=ticket("RQ", 2))
    assert tablet.wait_job(done["id"])["status"] == "printed"
    printer.set_state(paper="out")
    held = tablet.print(printer=name, document=ticket("HELD", 2))
    behind = tablet.print(printer=name, document=ticket("BEHIND", 2))
    wait_for(lambda: tablet.job(held["id"])["last_error"], what="the job to wait for paper")
    assert Job.fetch(behind["id"], connection=r).get_status() == "queued"
    assert tablet.cancel(behind["id"])["status"] == "cancelled"
    assert not r.exists(keys.rq_job(behind["id"])) and not r.exists(keys.rq_job(done["id"]))
    assert Queue(keys.printer_queue(name), connection=r).count == 0
    printer.set_state(paper="ok")
    assert tablet.wait_job(held["id"])["status"] == "printed"
    assert r.llen(keys.rq_intermediate(name)) == 0 and not r.exists(keys.rq_job(held["id"]))
    worker = next(w for w in Worker.all(connection=r) if w.name.startswith(keys.printer_queue(name) + "."))
    assert wait_for(lambda: worker.refresh() or worker.get_state() == "idle", what="the worker to say idle")


def test_the_next_job_goes_out_while_the_previous_one_prints(shared_box: Box, tablet: Client, make_printer) -> None:
    printer = make_printer(speed_mm_s=40)
    name = add(shared_box, printer)
    wait_for(lambda: shown(tablet, name)["confirmation"] == "paper", what="the printer to be known")
    first, second = (tablet.print(printer=name, document=ticket(label, 20)) for label in ("ONE", "TWO"))
    wait_for(lambda: tablet.job(second["id"])["status"] == "printing", what="the second job to be sent")
    assert printer.receipts == [] and tablet.job(first["id"])["status"] == "printing"
    assert tablet.wait_job(second["id"], timeout=20)["status"] == "printed"
    assert whole(printer) == ["ONE", "TWO"]


def test_the_emulated_printer_steps_aside_for_a_real_one(tmp_path: Path, printer: FakePrinter) -> None:
    import subprocess

    box = Box(tmp_path / "box", emulated_printer=True).start()
    try:
        receipts = Path(box.settings.receipts_dir)
        test_page = wait_for(lambda: sorted(receipts.glob("*.bin")), 20, "the emulated test receipt")
        data = test_page[0].read_bytes()
        assert data.startswith(b"\x1b@") and b"\x1dV" in data  # the receipt itself, up to its cut
        added = subprocess.run(box.argv("printers", "add", "kitchen", "--uri", printer.uri, "--roles", "kitchen"),
                               capture_output=True, text=True, check=True)
        assert "steps aside" in added.stdout and "kitchen" in added.stdout
        tablet = box.client()
        job = tablet.print(role="kitchen", document=ticket("KITCHEN", 2))
        assert job["printer"] == "kitchen"
        assert tablet.wait_job(job["id"])["status"] == "printed" and whole(printer) == ["KITCHEN"]
        receipt = tablet.print(role="receipt", document=ticket("TILL", 2))
        assert receipt["printer"] == "emulated"  # no real printer holds that role yet
        listed = subprocess.run(box.argv("printers", "list"), capture_output=True, text=True, check=True).stdout
        header, *rows = listed.splitlines()
        assert "CONFIRMATION" in header
        assert all(" paper " in f" {row} " for row in rows if row.split()[0] in ("kitchen", "emulated"))
    finally:
        box.stop()
