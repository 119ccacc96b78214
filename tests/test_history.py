"""Every job's history: "did table 7's ticket print, and when?" answered through the API, the
CLI and (test_setup_page) the owner's page; a copy printed on request, marked on paper; the
history kept to the owner's days."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from appliance import settings
from appliance.access import devices
from appliance.printing import history, jobs
from appliance.store import keys
from appliance.tools.client import ApiError, Client
from tests.box import Box, wait_for
from tests.fakeprinter import FakePrinter


def manager(box: Box, name: str) -> Client:
    client = Client(box.url)
    client.pair(devices.new_pin(box.redis, name, "manager"), name)
    return client


@pytest.fixture(scope="module")
def counter(shared_box: Box):
    printer = FakePrinter()
    shared_box.add_printer("comptoir-hist", printer.uri)
    yield printer
    printer.stop()


def test_a_ticket_is_found_by_its_words_with_its_life(shared_box: Box, counter: FakePrinter) -> None:
    waiter, other = shared_box.client("Terrasse"), shared_box.client("Salle")
    seven = waiter.print(printer="comptoir-hist", document={"lines": [
        {"text": "Table 7", "size": "double"}, {"columns": ["2x Żurek", "24.00"]}]})
    nine = other.print(printer="comptoir-hist", document={"lines": [{"text": "Table 9"}, {"text": "Борщ"}]})
    for job in (seven, nine):
        assert waiter.wait_job(job["id"], timeout=20)["status"] == "printed"
    boss = manager(shared_box, "Patronne")
    [found] = boss.history(q="table 7 zurek")["jobs"]  # capitals and the Polish accent ignored
    assert found["id"] == seven["id"] and found["status"] == "printed" and found["printer"] == "comptoir-hist"
    assert found["created_at"] <= found["sent_at"] <= found["printed_at"]
    assert [j["id"] for j in boss.history(q="борщ")["jobs"]] == [nine["id"]]
    assert boss.history(q="table 8")["jobs"] == []
    # A waiter's tablet sees its own tickets only; the manager's, every tablet's.
    assert [j["id"] for j in waiter.history(q="table")["jobs"]] == [seven["id"]]
    assert {seven["id"], nine["id"]} <= {j["id"] for j in boss.history(printer="comptoir-hist", limit=50)["jobs"]}
    # Paged, newest first: the page's "next" is where the following page starts.
    first = boss.history(printer="comptoir-hist", limit=1)
    assert [j["id"] for j in first["jobs"]] == [nine["id"]] and first["next"] is not None
    second = boss.history(printer="comptoir-hist", limit=1, before=first["next"])
    assert [j["id"] for j in second["jobs"]] == [seven["id"]]
    # Bad parameters get a clear 422 naming the parameter.
    for bad in ({"limit": "0"}, {"since": "yesterday"}, {"status": "lost"}, {"colour": "red"}):
        with pytest.raises(ApiError) as refused:
            boss.history(**bad)
        assert refused.value.status == 422 and next(iter(bad)) in json.dumps(refused.value.body)


def test_a_copy_prints_marked_on_paper_and_is_a_job_of_its_own(shared_box: Box, counter: FakePrinter) -> None:
    waiter = shared_box.client("Bar")
    first = waiter.print(printer="comptoir-hist", document={"lines": [{"text": "Table 12"}, {"text": "Crème brûlée"}]})
    assert waiter.wait_job(first["id"], timeout=20)["status"] == "printed"
    before = len(counter.receipts)
    copy = waiter.reprint(first["id"])
    assert copy["id"] != first["id"] and copy["duplicate_of"] == first["id"]
    assert waiter.wait_job(copy["id"], timeout=20)["status"] == "printed"
    paper = counter.wait_receipts(before + 1)[-1].text
    assert "DUPLICATA / COPY" in paper and "Crème brûlée" in paper and "Table 12" in paper
    # Another waiter's ticket is not this tablet's to reprint.
    with pytest.raises(ApiError) as refused:
        shared_box.client("Terrasse 2").reprint(first["id"])
    assert refused.value.status == 403


def test_an_app_s_raw_ticket_is_found_by_its_words_and_the_cli_lists_it(shared_box: Box, counter: FakePrinter) -> None:
    job_id = jobs.submit_raw(shared_box.redis, "comptoir-hist", b"\x1b@Stolik 4\n2x Pierogi\n\x1dV\x00", "port:test")
    wait_for(lambda: jobs.status_of(shared_box.redis, job_id) == "printed", 20, "the app's ticket")
    listed = subprocess.run(shared_box.argv("jobs", "history", "stolik", "pierogi"), capture_output=True,
                            text=True, check=True).stdout
    assert job_id in listed and "printed" in listed and "comptoir-hist" in listed
    assert job_id not in subprocess.run(shared_box.argv("jobs", "history", "stolik", "--status", "cancelled"),
                                        capture_output=True, text=True, check=True).stdout


def test_the_history_keeps_the_owner_s_days_and_never_a_waiting_job(shared_box: Box) -> None:
    r = shared_box.redis
    settings.put(r, job_history_days=2)
    try:
        waiting = FakePrinter()
        waiting.set_state(paper="out")
        shared_box.add_printer("stuck-hist", waiting.uri)
        held = jobs.print_document(r, {"lines": [{"text": "Attend du papier"}]}, printer="stuck-hist")
        wait_for(lambda: jobs.get(r, held["id"])["last_error"], 20, "the job to wait for paper")
        ended = [job["id"] for job in history.search(r, history.Query(status="printed", limit=200))[0]]
        assert ended
        in_three_days = time.time() + 3 * 86400
        assert history.trim(r, in_three_days) >= len(ended)
        assert not any(r.exists(keys.job(job_id)) for job_id in ended)
        assert r.exists(keys.job(held["id"])) and history.search(r, history.Query(limit=200))[0][0]["id"] == held["id"]
        waiting.stop()
        jobs.cancel(r, held["id"])
    finally:
        settings.put(r, job_history_days=7)
