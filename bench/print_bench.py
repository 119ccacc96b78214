"""Print pipeline benchmark: POST /api/v1/jobs -> last byte at the printer.

    .venv/bin/python bench/print_bench.py [--jobs 2000] [--sequential 300]

Runs a real box (`appliance serve`, its own Redis with appendfsync always) against fake
network printers on loopback, and prints:
- latency, one job at a time: p50 / p99 from the POST to the receipt's last byte (the cut);
- throughput: a burst from 20 concurrent tablets over 4 printers, jobs/s until the last cut;
- resident memory of all the box's processes (RSS and PSS), idle and during the burst;
- CPU time per job during the burst: user + system of every process of the box, Redis
  included (CUPS: cupsd and its children), divided by the jobs;
- Star printers (StarPRNT text, and Star Graphic: the box draws the receipt and sends it as
  raster), one job at a time: p50 / p99 and CPU per job beside an Epson printer's;
- a virtual network printer (port 9100 style): connect, send a receipt's bytes, close -> its
  cut at the printer, through the box (durably queued, confirmed on paper) and the same bytes
  sent straight to a fake printer, one job at a time;
- a rush at a real printing speed (a 30-line receipt takes about 0.5 s): the share of the
  time each printer spends printing, every job confirmed on paper;
- time from `appliance serve` to a healthy /healthz;
- when cupsd and lp are installed, the same jobs through a CUPS raw queue, side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.printing import printers
from appliance.printing.document import Document
from appliance.printing.render import render
from appliance.store import keys
from bench import cups, stats
from bench.stats import busy_share, cpu_seconds, percentile
from tests.box import Box, free_port, wait_for
from tests.fakeprinter import FakePrinter

TICKET = {"lines": [
    {"text": "Table 12", "size": "double", "align": "center"},
    {"columns": ["2x Crème brûlée", "15.00"]},
    {"columns": ["1x Żurek", "12.00"]},
    {"columns": ["1x Борщ", "9.00"]},
    {"rule": True},
    {"columns": ["TOTAL", "36.00"], "bold": True},
]}


RUSH_TICKET = {"lines": [{"text": "Table 7", "size": "double"},
                         *({"columns": [f"{n}x Plat du jour", "14.50"]} for n in range(1, 29)),
                         {"columns": ["TOTAL", "406.00"], "bold": True}]}
RUSH_SPEED = 250.0  # mm/s: about 0.5 s for RUSH_TICKET, a real thermal printer's pace


def memory(box: Box) -> tuple[float, float]:
    """(RSS, PSS) in MB summed over every process of the box. PSS counts pages shared by
    forked workers once, which is what the Pi's RAM actually holds."""
    rss = pss = 0
    for pid in box.pids():
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def startup(tmp: Path) -> float:
    box = Box(tmp / "startup")
    start = time.monotonic()
    box.start(timeout=30)
    elapsed = time.monotonic() - start
    box.stop()
    return elapsed


def sequential(box: Box, printer: FakePrinter, name: str, count: int) -> list[float]:
    tablet = box.client("bench-seq")
    latencies = []
    for _ in range(20):  # warm up connections and code paths
        tablet.print(printer=name, document=TICKET)
    printer.wait_receipts(20)
    for _ in range(count):
        done = len(printer.cut_times)
        start = time.monotonic()
        tablet.print(printer=name, document=TICKET)
        with printer.cond:
            printer.cond.wait_for(lambda d=done: len(printer.cut_times) > d, 10)
        latencies.append((printer.cut_times[done] - start) * 1000)
    return latencies


def per_language(box: Box, count: int) -> dict:
    """One job at a time on an Epson, a StarPRNT and a Star Graphic printer: latency to the cut
    and CPU per job of every process of the box (a Star job must cost no more than an Epson one)."""
    found = {}
    models = {"escpos": None, "starprnt": b"mC-Print3 Ver1.0", "star-graphic": b"TSP143IIIW Ver1.0"}
    for language, model in models.items():
        fake = FakePrinter(language="star", model=model) if model else FakePrinter()
        name = f"lang-{language}"
        try:
            box.add_printer(name, fake.uri)
            wait_for(lambda n=name: printers.state(box.redis, n).confirmation == "paper", 20, f"{name} to be learnt")
            cpu_before = cpu_seconds(box.pids())
            lat = sequential(box, fake, name, count)
            cpu = cpu_seconds(box.pids()) - cpu_before
            found[language] = {"p50": percentile(lat, 50), "p99": percentile(lat, 99),
                               "cpu_ms_per_job": cpu * 1000 / (count + 20)}  # the warm-up jobs count too
        finally:
            fake.stop()
            with contextlib.suppress(Exception):  # its worker would keep dialling it during the burst
                printers.remove(box.redis, name)
    return found


def through_port(port: int, payload: bytes, printer: FakePrinter, count: int) -> list[float]:
    """ms from connect to the receipt's cut at ``printer``, one job at a time, as an app
    printing to an IP address does."""
    latencies = []
    for index in range(count + 10):
        done = len(printer.cut_times)
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as app:
            app.sendall(payload)
        with printer.cond:
            printer.cond.wait_for(lambda d=done: len(printer.cut_times) > d, 10)
        if index >= 10:  # the first ones warm connections and code paths
            latencies.append((printer.cut_times[done] - start) * 1000)
    return latencies


def virtual_port(box: Box, printer: FakePrinter, name: str, count: int) -> dict:
    """The durable detour of a virtual network printer, beside the same bytes sent straight."""
    payload = render(Document.model_validate({**TICKET, "cut": True}))
    port = free_port()
    printers.expose(box.redis, name, port)
    wait_for(lambda: box.redis.hget(keys.virtual_port_states(), name) == b"listening", 10)
    detour = through_port(port, payload, printer, count)
    printers.expose(box.redis, name, None)
    straight_printer = FakePrinter()
    try:
        straight = through_port(straight_printer.port, payload, straight_printer, count)
    finally:
        straight_printer.stop()
    return {"p50": percentile(detour, 50), "p99": percentile(detour, 99),
            "straight_p50": percentile(straight, 50), "straight_p99": percentile(straight, 99), "count": count}


def status_freshness(box: Box, printer: FakePrinter, name: str, count: int) -> dict:
    """Seconds from a printer's cover opening to an app hearing it through a virtual port:
    asked (DLE EOT 2 on an idle printer whose last reading is a second old or more), and told
    (Automatic Status Back, GS a, while the app listens)."""
    port = free_port()
    printers.expose(box.redis, name, port)
    wait_for(lambda: box.redis.hget(keys.virtual_port_states(), name) == b"listening", 10)
    asked, told = [], []
    try:
        for _ in range(count):
            time.sleep(printers.FRESH)  # the case being measured: the last reading is not fresh
            printer.set_state(cover_open=True)
            start = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=10) as app:
                while True:
                    app.sendall(b"\x10\x04\x02")
                    if app.recv(1)[0] & 0x04:  # DLE EOT 2: cover open
                        break
            asked.append(time.monotonic() - start)
            printer.set_state(cover_open=False)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as app:
                app.sendall(b"\x1da\xff")
                while app.recv(4)[0] & 0x20:  # until the ASB says closed
                    pass
                printer.set_state(cover_open=True)
                start = time.monotonic()
                while not app.recv(4)[0] & 0x20:  # ASB: cover open
                    pass
                told.append(time.monotonic() - start)
            printer.set_state(cover_open=False)
    finally:
        printers.expose(box.redis, name, None)
    return {"asked_p50": percentile(asked, 50), "asked_max": max(asked), "told_p50": percentile(told, 50),
            "told_max": max(told), "count": count}


def burst(box: Box, printers: list[tuple[str, FakePrinter]], total: int, clients: int = 20) -> dict:
    tablets = [box.client(f"bench-{i}") for i in range(clients)]
    before = sum(len(p.cut_times) for _, p in printers)
    per_client = total // clients
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            samples.append(memory(box))

    def run(index: int, tablet) -> None:
        for n in range(per_client):
            name = printers[(index + n) % len(printers)][0]
            tablet.print(printer=name, document=TICKET, job_id=str(uuid.uuid4()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tablets)]
    cpu_before = cpu_seconds(box.pids())
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = time.monotonic()
    wait_for(lambda: sum(len(p.cut_times) for _, p in printers) - before >= per_client * clients, 120,
             "the burst to print")
    end = max(p.cut_times[-1] for _, p in printers)
    done = per_client * clients
    wait_for(lambda: not any(box.redis.zcard(keys.printer_pending(n)) for n, _ in printers), 30,
             "the last confirmations")
    cpu = cpu_seconds(box.pids()) - cpu_before
    stop.set()
    sampler.join()
    return {"jobs": done, "clients": clients, "printers": len(printers),
            "accept_per_s": done / (accepted - start), "jobs_per_s": done / (end - start),
            "cpu_ms_per_job": cpu * 1000 / done,
            "rss_mb": max(s[0] for s in samples), "pss_mb": max(s[1] for s in samples)}


def rush(box: Box, per_printer: int, clients: int = 8) -> dict:
    """Tablets post a lunch rush faster than four real-speed printers can print it; how busy
    is each printer, and is every job confirmed on paper?"""
    fakes = [FakePrinter(speed_mm_s=RUSH_SPEED) for _ in range(4)]
    names = [f"rush{i}" for i in range(len(fakes))]
    try:
        for name, fake in zip(names, fakes, strict=True):
            box.add_printer(name, fake.uri)
        wait_for(lambda: all(printers.state(box.redis, n).confirmation == "paper"
                             for n in names), 20,
                 "the rush printers to be known")
        tablets = [box.client(f"rush-{i}") for i in range(clients)]
        ids: list[str] = []

        stats.rush(fakes, per_printer, clients, lambda index, n: ids.append(
            tablets[index].print(printer=names[n % len(fakes)], document=RUSH_TICKET)["id"]))
        confirmed = wait_for(lambda: (s := [tablets[0].job(i)["status"] for i in ids]).count("printed") == len(ids)
                             and s, 30, "every job confirmed")
        shares = busy_share(fakes)
        seconds = statistics.mean(f.cut_times[-1] - f.device.first_printed_at for f in fakes)
        return {"jobs": len(confirmed), "per_printer": per_printer, "receipt_s": seconds / per_printer,
                "busy_min": min(shares), "busy_mean": statistics.mean(shares)}
    finally:
        for fake in fakes:
            fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000, help="jobs in the burst")
    parser.add_argument("--sequential", type=int, default=300, help="jobs timed one at a time")
    parser.add_argument("--rush", type=int, default=30, help="jobs per printer in the real-speed rush")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    results: dict = {"machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
                                f"Python {platform.python_version()}"}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        results["startup_s"] = statistics.median(startup(tmp) for _ in range(3))
        box = Box(tmp / "bench").start()
        fakes = [FakePrinter() for _ in range(4)]
        try:
            names = []
            for i, fake in enumerate(fakes):
                box.add_printer(f"bench{i}", fake.uri)
                names.append((f"bench{i}", fake))
            wait_for(lambda: all(box.redis.exists(keys.printer_status(n)) for n, _ in names))
            time.sleep(1)  # let start-up work settle before measuring idle memory
            results["idle_rss_mb"], results["idle_pss_mb"] = memory(box)
            lat = sequential(box, fakes[0], "bench0", args.sequential)
            results["latency_ms"] = {"p50": percentile(lat, 50), "p99": percentile(lat, 99),
                                     "count": len(lat)}
            results["virtual_port"] = virtual_port(box, fakes[0], "bench0", args.sequential)
            results["status"] = status_freshness(box, fakes[0], "bench0", 10)
            results["languages"] = per_language(box, min(args.sequential, 200))
            results["burst"] = burst(box, names, args.jobs)
            results["rush"] = rush(box, args.rush)
        finally:
            box.stop()
            for fake in fakes:
                fake.stop()
        rush_args = (RUSH_TICKET, RUSH_SPEED, args.rush)
        results["cups"] = cups.measure(tmp, TICKET, args.sequential, args.jobs, real_speed=rush_args) \
            if cups.available() else None

    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def report(r: dict) -> None:
    lat, b, c = r["latency_ms"], r["burst"], r["cups"]
    print(f"machine: {r['machine']}")
    print(f"{'':34}{'Comptoir':>12}{'CUPS raw':>12}")
    print(f"{'latency p50 (ms, POST -> cut)':34}{lat['p50']:>12.2f}{(c or {}).get('p50', float('nan')):>12.2f}")
    print(f"{'latency p99 (ms)':34}{lat['p99']:>12.2f}{(c or {}).get('p99', float('nan')):>12.2f}")
    cups_rate = (c or {}).get("jobs_per_s", float("nan"))
    v = r["virtual_port"]
    print(f"virtual port 9100 (ms, connect -> cut): through the box p50 {v['p50']:.2f} / p99 {v['p99']:.2f}; "
          f"straight to the printer p50 {v['straight_p50']:.2f} / p99 {v['straight_p99']:.2f} "
          f"(detour {v['p50'] - v['straight_p50']:.2f} ms at p50)")
    st = r["status"]
    print(f"cover opened -> an app hears it (s): asked (DLE EOT) p50 {st['asked_p50']:.2f} / max "
          f"{st['asked_max']:.2f}; told (ASB) p50 {st['told_p50']:.2f} / max {st['told_max']:.2f}")
    for language, figures in r.get("languages", {}).items():
        print(f"one job at a time, {language:13} p50 {figures['p50']:.2f} / p99 {figures['p99']:.2f} ms, "
              f"CPU {figures['cpu_ms_per_job']:.2f} ms a job")
    print(f"{'burst jobs/s (20 clients, 4 prn)':34}{b['jobs_per_s']:>12.0f}{cups_rate:>12.0f}")
    print(f"  accepted/s during the burst: {b['accept_per_s']:.0f}")
    cups_cpu = (c or {}).get("cpu_ms_per_job", float("nan"))
    print(f"{'CPU per job (ms, all processes)':34}{b['cpu_ms_per_job']:>12.2f}{cups_cpu:>12.2f}")
    rush_ = r["rush"]
    cups_busy = (c or {}).get("rush_busy_min", float("nan"))
    print(f"{'rush: printer busy, worst (%)':34}{rush_['busy_min'] * 100:>12.1f}{cups_busy * 100:>12.1f}")
    print(f"  rush: {rush_['jobs']} jobs confirmed on paper over 4 printers, {rush_['receipt_s']:.2f} s a receipt, "
          f"mean busy {rush_['busy_mean'] * 100:.1f} %")
    print(f"memory idle: RSS {r['idle_rss_mb']:.0f} MB, PSS {r['idle_pss_mb']:.0f} MB; "
          f"during burst: RSS {b['rss_mb']:.0f} MB, PSS {b['pss_mb']:.0f} MB")
    print(f"serve -> healthy: {r['startup_s']:.2f} s (median of 3)")
    if c is None:
        print("CUPS: not measured (cupsd/lp not installed)")


if __name__ == "__main__":
    main()
