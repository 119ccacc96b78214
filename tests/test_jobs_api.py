"""Posting jobs: accepted durably, printed once, refused clearly when wrong."""

from __future__ import annotations

import base64
import io
import json
import uuid

import pytest
from PIL import Image

from appliance.printing import jobs
from appliance.store import keys
from appliance.tools.client import Client
from appliance.web import create_app
from tests.box import Box, wait_for
from tests.fakeprinter import FakePrinter

TICKET = {"lines": [{"text": "Table 4", "size": "double"}, {"columns": ["2x Burger", "25.00"]}]}


@pytest.fixture
def counter(shared_box: Box, printer: FakePrinter) -> FakePrinter:
    name = f"p{uuid.uuid4().hex[:8]}"
    shared_box.add_printer(name, printer.uri, ("counter-" + name,))
    printer.name = name  # type: ignore[attr-defined]
    return printer


def test_job_prints_and_reports_printed(tablet: Client, counter: FakePrinter) -> None:
    job = tablet.print(printer=counter.name, document=TICKET)
    assert job["status"] == "queued" and job["printer"] == counter.name
    done = tablet.wait_job(job["id"])
    assert done["status"] == "printed" and done["attempts"] == 1 and done["printed_at"]
    [receipt] = counter.wait_receipts(1)
    assert "Table 4" in receipt.text and "2x Burger" in receipt.text and "25.00" in receipt.text


def test_same_id_twice_prints_once(tablet: Client, counter: FakePrinter) -> None:
    job_id = str(uuid.uuid4())
    first = tablet.print(printer=counter.name, document=TICKET, job_id=job_id)
    status, second, headers = tablet.request("POST", "/api/v1/jobs",
                                             {"id": job_id, "printer": counter.name, "document": TICKET})
    assert status == 200 and headers.get("Idempotent-Replayed") == "true"
    assert second["id"] == first["id"] == job_id
    assert tablet.wait_job(job_id)["status"] == "printed"
    status, _, _ = tablet.request("POST", "/api/v1/jobs", {"id": job_id, "printer": counter.name, "document": TICKET})
    assert status == 200
    counter.wait_receipts(1)
    assert len(counter.receipts) == 1


def test_reused_id_with_other_content_is_a_conflict(tablet: Client, counter: FakePrinter) -> None:
    job_id = str(uuid.uuid4())
    tablet.print(printer=counter.name, document=TICKET, job_id=job_id)
    status, body, _ = tablet.request("POST", "/api/v1/jobs", {"id": job_id, "printer": counter.name,
                                                             "document": {"lines": [{"text": "other"}]}})
    assert status == 409 and job_id in body["message"]


def test_copies_drawer_and_raw(tablet: Client, counter: FakePrinter) -> None:
    raw = base64.b64encode(b"\x1b@RAW TICKET\n\x1dV\x00").decode()
    job = tablet.print(printer=counter.name, raw=raw, copies=2, drawer=True)
    assert tablet.wait_job(job["id"])["status"] == "printed"
    receipts = counter.wait_receipts(2)
    assert [r.text for r in receipts] == ["RAW TICKET\n", "RAW TICKET\n"]
    assert b"\x1bp\x00" in counter.raw  # the drawer pulse


def test_cancel_a_waiting_job(tablet: Client, counter: FakePrinter) -> None:
    counter.set_state(paper="out")
    job = tablet.print(printer=counter.name, document=TICKET)
    wait_for(lambda: tablet.job(job["id"])["last_error"] == "out of paper", what="the job to wait for paper")
    cancelled = tablet.cancel(job["id"])
    assert cancelled["status"] == "cancelled"
    counter.set_state(paper="ok")
    follow = tablet.print(printer=counter.name, document={"lines": [{"text": "after"}]})
    assert tablet.wait_job(follow["id"])["status"] == "printed"
    assert [r.text.strip() for r in counter.receipts] == ["after"]
    status, body, _ = tablet.request("DELETE", f"/api/v1/jobs/{follow['id']}")
    assert status == 409 and "printed" in body["message"]


def test_a_job_that_failed_on_the_box_s_own_error_is_retried(shared_box: Box, tablet: Client,
                                                            counter: FakePrinter) -> None:
    counter.set_state(paper="out")
    job = tablet.print(printer=counter.name, document=TICKET)
    wait_for(lambda: tablet.job(job["id"])["last_error"] == "out of paper", what="the job to wait for paper")
    r = shared_box.redis
    payload = r.hget(keys.job(job["id"]), "payload")
    r.hdel(keys.job(job["id"]), "payload")  # a record the worker cannot read: a bug, as far as it knows
    counter.set_state(paper="ok")
    failed = tablet.wait_job(job["id"], until=("failed",))
    assert "internal error" in failed["last_error"]
    assert [j["id"] for j in jobs.failed(r)] == [job["id"]]
    assert tablet.retry(job["id"])["status"] == "queued"  # retried as it is: it fails again
    wait_for(lambda: tablet.job(job["id"])["status"] == "failed", what="the job to fail again")
    r.hset(keys.job(job["id"]), "payload", payload)  # repaired (say, by an update)
    assert tablet.retry(job["id"])["status"] == "queued"
    assert tablet.wait_job(job["id"])["status"] == "printed"
    assert [rc.text.split("\n")[0] for rc in counter.wait_receipts(1)] == ["Table 4"]  # once
    assert jobs.failed(r) == [] and tablet.retry(job["id"])["status"] == "printed"  # nothing to retry
    other = shared_box.client("jobs-other-tablet")
    assert other.request("POST", f"/api/v1/jobs/{job['id']}/retry")[0] == 403


def test_unknown_job_is_404(tablet: Client) -> None:
    assert tablet.request("GET", f"/api/v1/jobs/{uuid.uuid4()}")[0] == 404
    assert tablet.request("GET", "/api/v1/jobs/not-a-uuid")[0] == 404
    assert tablet.request("DELETE", f"/api/v1/jobs/{uuid.uuid4()}")[0] == 404


def _png(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("1", (width, height), 1).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


BAD_BODIES = [
    ("malformed JSON", b'{"role": "x",', 400, "not valid JSON"),
    ("not an object", b"[1, 2]", 422, "JSON object"),
    ("empty body", b"", 422, "JSON body is required"),
    ("no target", {"document": TICKET}, 422, "exactly one target"),
    ("two targets", {"role": "kitchen", "printer": "x", "document": TICKET}, 422, "exactly one target"),
    ("no content", {"role": "kitchen"}, 422, "exactly one content"),
    ("unknown role", {"role": "sauna", "document": TICKET}, 422, "no printer has the role 'sauna'"),
    ("unknown printer", {"printer": "nope", "document": TICKET}, 422, "no printer named 'nope'"),
    ("invalid base64", {"printer": "{p}", "raw": "%%%not base64"}, 422, "raw is not valid base64"),
    ("unknown element", {"printer": "{p}", "document": {"lines": [{"blink": "x"}]}}, 422, "exactly one of"),
    ("two elements in a line", {"printer": "{p}", "document": {"lines": [{"text": "a", "qr": "b"}]}}, 422,
     "exactly one of"),
    ("unknown option", {"printer": "{p}", "document": {"lines": [{"text": "a", "blink": True}]}}, 422,
     "lines.0.text.blink"),
    ("bad size", {"printer": "{p}", "document": {"lines": [{"text": "a", "size": "huge"}]}}, 422, "size"),
    ("bad EAN-13", {"printer": "{p}", "document": {"lines": [{"barcode": {"type": "EAN13", "data": "12ab"}}]}},
     422, "EAN13 takes 12 or 13 digits"),
    ("image not an image", {"printer": "{p}", "document": {"lines": [{"image": base64.b64encode(b"GIF89a").decode()}]}},
     422, "not a readable PNG"),
    ("image too large", {"printer": "{p}", "document": {"lines": [{"image": _png(5000, 10)}]}}, 422,
     "image too large"),
    ("bad id", {"id": "123", "printer": "{p}", "document": TICKET}, 422, "id"),
    ("too many copies", {"printer": "{p}", "document": TICKET, "copies": 500}, 422, "copies"),
    ("over 1 MiB", {"printer": "{p}", "raw": "A" * (1024 * 1024 + 10)}, 413, "larger than"),
]


@pytest.mark.parametrize(("case", "body", "status", "message"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_input_is_a_clear_4xx_and_queues_nothing(shared_box: Box, tablet: Client, counter: FakePrinter,
                                                     case: str, body, status: int, message: str) -> None:
    raw = json.dumps(body).replace("{p}", counter.name).encode() if isinstance(body, dict) else body
    before = len(list(shared_box.redis.scan_iter(keys.job("*"))))
    got, answer, headers = tablet.request("POST", "/api/v1/jobs", raw=raw)
    assert got == status, answer
    assert headers["Content-Type"] == "application/json"
    assert message in answer["message"] or message in str(answer.get("problems")), answer
    assert len(list(shared_box.redis.scan_iter(keys.job("*")))) == before
    assert jobs.pending_ids(shared_box.redis, counter.name) == []


def test_openapi_describes_every_route(shared_box: Box) -> None:
    status, doc, _ = Client(shared_box.url).request("GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    served = {str(rule.rule).removeprefix("/api/v1").replace("<", "{").replace(">", "}")
              for rule in create_app(shared_box.settings).url_map.iter_rules() if rule.rule.startswith("/api/v1")}
    assert set(doc["paths"]) == served
    assert set(doc["paths"]["/jobs/{job_id}"]) >= {"get", "delete"}
    job_schema = doc["components"]["schemas"]["JobRequest"]
    assert {"id", "role", "printer", "document", "raw", "copies", "drawer"} <= set(job_schema["properties"])


def test_healthz(shared_box: Box) -> None:
    status, body, _ = Client(shared_box.url).request("GET", "/healthz")
    assert status == 200 and body["ok"] and body["redis"] and body["pool"]
