"""Sync hub benchmark: a change pushed by one tablet, seen by 50; and sustained pushes.

    .venv/bin/python bench/sync_bench.py [--subscribers 50] [--events 200] [--pushers 30]

Prints, on this machine:
- fan-out latency: one tablet pushes a mutation, 50 tablets hold Server-Sent Events streams;
  the time from the push to the change arriving at each of them (p50, p99 over all pairs);
- throughput: 30 tablets pushing batches of mutations for a few seconds (mutations/s);
- the floor: a bare Redis XADD -> XREAD round trip on the box's own Redis (appendfsync always),
  and bare XADD throughput, for scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.access import devices
from appliance.store import keys
from appliance.tools.client import Client, Tablet
from bench.stats import percentile
from tests.box import Box, wait_for


def floor(box: Box, count: int) -> dict:
    """XADD in one client, XREAD BLOCK in another: the least any relay over Redis can cost."""
    reader = box.redis.__class__(connection_pool=box.redis.connection_pool.__class__(
        connection_class=box.redis.connection_pool.connection_class,
        **{**box.redis.connection_pool.connection_kwargs, "socket_timeout": None}))
    stream = "bench:floor"
    latencies: list[float] = []
    last = "$"
    ready = threading.Event()
    sent: dict[bytes, float] = {}

    def read() -> None:
        nonlocal last
        ready.set()
        while len(latencies) < count:
            for _, entries in reader.xread({stream: last}, block=1000) or []:
                for entry_id, fields in entries:
                    latencies.append((time.perf_counter() - float(fields[b"t"])) * 1000)
                    last = entry_id

    thread = threading.Thread(target=read)
    thread.start()
    ready.wait()
    time.sleep(0.1)
    for _ in range(count):
        box.redis.xadd(stream, {"t": time.perf_counter()})
        time.sleep(0.002)
    thread.join()
    start = time.perf_counter()
    for _ in range(2000):
        box.redis.xadd(stream, {"t": 0})
    rate = 2000 / (time.perf_counter() - start)
    box.redis.delete(stream)
    del sent
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "xadd_per_s": rate}


def fan_out(box: Box, subscribers: int, events: int) -> dict:
    writer = Tablet(box.client("writer"), staff="w")
    writer.start()
    writer.mutate("ticket.open", ticket_id="bench", label="Bench")
    writer.mutate("ticket.add_line", ticket_id="bench", line_id="l", product="Burger", qty=1, unit_price=1250)
    writer.push()
    arrivals: dict[int, list[float]] = {}
    lock = threading.Lock()
    connected = threading.Barrier(subscribers + 1)

    def listen(n: int) -> None:
        client = box.client(f"sub{n}")
        stream = client.events(timeout=120)
        next(stream)  # the snapshot
        connected.wait()
        seen = 0
        for event, _, data in stream:
            if event == "change" and data["kind"] == "ticket" and data["id"] == "bench":
                now = time.perf_counter()
                marker = data["data"]["lines"][0]["qty"]
                with lock:
                    arrivals.setdefault(marker, []).append(now)
                seen += 1
                if seen == events:
                    return

    threads = [threading.Thread(target=listen, args=(n,), daemon=True) for n in range(subscribers)]
    for thread in threads:
        thread.start()
    connected.wait()
    sent: dict[int, float] = {}
    for qty in range(2, events + 2):  # the quantity marks each change; the ticket stays the size of a real one
        writer.mutate("ticket.set_qty", ticket_id="bench", line_id="l", qty=qty)
        sent[qty] = time.perf_counter()
        writer.push()
        wait_for(lambda q=qty: len(arrivals.get(q, [])) == subscribers, 10, "every subscriber")
    latencies = [(t - sent[qty]) * 1000 for qty, times in arrivals.items() for t in times]
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "samples": len(latencies)}


def throughput(box: Box, pushers: int, batch: int, seconds: float) -> float:
    tablets = []
    for n in range(pushers):
        tablet = Tablet(box.client(f"push{n}"), staff=f"p{n}")
        tablet.start()
        tablet.mutate("ticket.open", ticket_id=f"tp{n}", label=f"T{n}")
        tablet.push()
        tablets.append(tablet)
    counts = [0] * pushers
    end = time.monotonic() + seconds

    def run(n: int, tablet: Tablet) -> None:
        ticket, lines = f"tp{n}", 0
        while time.monotonic() < end:
            for _ in range(batch):
                if lines == 20:  # a table of realistic size; then the next guests
                    ticket, lines = uuid.uuid4().hex[:10], 0
                    tablet.mutate("ticket.open", ticket_id=ticket, label="T")
                tablet.mutate("ticket.add_line", ticket_id=ticket, line_id=uuid.uuid4().hex[:10], product="x",
                              qty=1, unit_price=1)
                lines += 1
            answer = tablet.push()
            counts[n] += sum(1 for r in answer["results"] if r["status"] == "applied")

    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(n, t)) for n, t in enumerate(tablets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pushers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        box = Box(Path(tmp) / "box").start()
        try:
            manager = Client(box.url)
            manager.pair(devices.new_pin(box.redis, "boss", "manager"))
            manager.open_register()
            base = floor(box, 500)
            fan = fan_out(box, args.subscribers, args.events)
            rates = {batch: throughput(box, args.pushers, batch, args.seconds) for batch in (1, 10)}
            log_length = box.redis.xlen(keys.sync_log())
        finally:
            box.stop()
    print(f"push -> event at each of {args.subscribers} SSE tablets: p50 {fan['p50']:.2f} ms, "
          f"p99 {fan['p99']:.2f} ms ({fan['samples']} deliveries)")
    print(f"bare Redis XADD -> XREAD floor: p50 {base['p50']:.2f} ms, p99 {base['p99']:.2f} ms; "
          f"bare XADD {base['xadd_per_s']:.0f}/s")
    for batch, rate in rates.items():
        print(f"{args.pushers} tablets pushing batches of {batch}: {rate:.0f} mutations/s")
    print(f"(log length at the end: {log_length})")


if __name__ == "__main__":
    main()
