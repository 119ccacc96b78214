"""The same jobs through CUPS, for comparison: a private cupsd (its own config, spool and
socket in a temporary directory) with raw queues to fake printers, fed with `lp -o raw`.

Used only when cupsd, lp, lpadmin and CUPS's socket backend are installed (Debian: `cups`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from appliance.printing.document import Document
from appliance.printing.render import render
from bench.stats import busy_share, cpu_seconds, percentile, rush
from tests.box import wait_for
from tests.fakeprinter import FakePrinter

BACKEND = Path("/usr/lib/cups/backend/socket")


def available() -> bool:
    return all(shutil.which(tool) for tool in ("cupsd", "lp", "lpadmin")) and BACKEND.exists()


CUPSD_CONF = """\
Listen {root}/cups.sock
LogLevel warn
MaxJobs 0
PreserveJobHistory No
PreserveJobFiles No
<Location />
  Order allow,deny
  Allow all
</Location>
<Location /admin>
  Order allow,deny
  Allow all
</Location>
"""
FILES_CONF = """\
ServerRoot {root}
RequestRoot {root}/spool
TempDir {root}/tmp
CacheDir {root}/cache
StateDir {root}/state
ServerBin /usr/lib/cups
DataDir /usr/share/cups
ErrorLog {root}/error_log
AccessLog /dev/null
PageLog /dev/null
User lp
Group lp
SystemGroup root
Sandboxing Relaxed
"""


def _cupsd(root: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    for sub in ("spool", "tmp", "cache", "state", "ppd"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    # CUPS runs its backends as the unprivileged user lp: it must reach the spool.
    for path in (root.parent, root, root / "spool", root / "tmp"):
        path.chmod(0o755)
    (root / "cupsd.conf").write_text(CUPSD_CONF.format(root=root))
    (root / "cups-files.conf").write_text(FILES_CONF.format(root=root))
    process = subprocess.Popen(["cupsd", "-f", "-c", str(root / "cupsd.conf"), "-s", str(root / "cups-files.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "CUPS_SERVER": str(root / "cups.sock")}
    wait_for(lambda: (root / "cups.sock").exists(), 10, "cupsd to listen")
    return process, env


def _lp(env: dict[str, str], queue: str, path: Path) -> None:
    subprocess.run(["lp", "-d", queue, "-o", "raw", str(path)], env=env, check=True, stdout=subprocess.DEVNULL)


def _queues(env: dict[str, str], prefix: str, fakes: list[FakePrinter]) -> None:
    for i, fake in enumerate(fakes):
        subprocess.run(["lpadmin", "-p", f"{prefix}{i}", "-E", "-v", f"socket://127.0.0.1:{fake.port}", "-m", "raw"],
                       env=env, check=True, capture_output=True)


def _rush(root: Path, env: dict[str, str], ticket: dict, speed: float, per_printer: int, clients: int = 8) -> float:
    """The real-speed rush through CUPS: the worst printer's busy share."""
    fakes = [FakePrinter(speed_mm_s=speed) for _ in range(4)]
    try:
        _queues(env, "rush", fakes)
        job = root / "rush.bin"
        job.write_bytes(render(Document.model_validate(ticket)))

        rush(fakes, per_printer, clients, lambda index, n: _lp(env, f"rush{n % len(fakes)}", job))
        return min(busy_share(fakes))
    finally:
        for fake in fakes:
            fake.stop()


def measure(tmp: Path, ticket: dict, sequential: int, burst: int, clients: int = 20,
            real_speed: tuple[dict, float, int] | None = None) -> dict:
    root = tmp / "cups"
    process, env = _cupsd(root)
    fakes = [FakePrinter() for _ in range(4)]
    try:
        _queues(env, "bench", fakes)
        job = root / "ticket.bin"
        job.write_bytes(render(Document.model_validate(ticket)))

        latencies = []
        for n in range(sequential):
            done = len(fakes[0].cut_times)
            start = time.monotonic()
            _lp(env, "bench0", job)
            with fakes[0].cond:
                fakes[0].cond.wait_for(lambda d=done: len(fakes[0].cut_times) > d, 30)
            if n >= 5:  # warm-up
                latencies.append((fakes[0].cut_times[done] - start) * 1000)

        before = sum(len(f.cut_times) for f in fakes)
        per_client = burst // clients

        def run(index: int) -> None:
            for k in range(per_client):
                _lp(env, f"bench{(index + k) % len(fakes)}", job)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        cpu_before = cpu_seconds([process.pid], children=True)
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: sum(len(f.cut_times) for f in fakes) - before >= per_client * clients, 300,
                 "CUPS to print the burst")
        end = max(f.cut_times[-1] for f in fakes)
        wait_for(lambda: not subprocess.run(["lpstat", "-o"], env=env, capture_output=True, text=True).stdout,
                 60, "CUPS to finish its jobs")
        cpu = cpu_seconds([process.pid], children=True) - cpu_before
        figures = {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                   "jobs_per_s": per_client * clients / (end - start),
                   "cpu_ms_per_job": cpu * 1000 / (per_client * clients)}
        if real_speed is not None:
            figures["rush_busy_min"] = _rush(root, env, *real_speed)
        return figures
    finally:
        process.terminate()
        process.wait(10)
        for fake in fakes:
            fake.stop()
