"""A real box for tests: `appliance serve` in a subprocess with its own data dir, Redis and
port, and the means to hurt it (kill -9 any of its processes) the way a power cut would."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from PIL import Image

from appliance import config
from appliance.access import devices
from appliance.printing import printers
from appliance.store import client, keys
from appliance.tools.client import Client

ROOT = Path(__file__).resolve().parent.parent
# Where the browser tests put their screenshots: a temporary folder, or COMPTOIR_SCREENSHOTS
# (`make screenshots` points it at docs/screenshots/); never the checkout by themselves.
SCREENSHOTS = Path(os.environ.get("COMPTOIR_SCREENSHOTS") or tempfile.mkdtemp(prefix="comptoir-screenshots-"))


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port no one listens on, never the same twice in a run, and below the kernel's range
    for outgoing connections: a port the kernel hands out (bind to 0) may be handed out again
    to the next caller or to any client's connection before the box binds it (a box once got
    the same port twice and failed to start, "Address already in use")."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    for port in random.sample(range(10000, ephemeral), 200):
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise AssertionError("no free port found below the ephemeral range")


def device(address: str = "127.0.0.1"):
    """An HTTP session from one loopback address: another device on the shop's network (the
    box limits and locks out by address)."""
    import requests
    from requests.adapters import HTTPAdapter

    class From(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs) -> None:
            kwargs["source_address"] = (address, 0)
            super().init_poolmanager(*args, **kwargs)

    s = requests.Session()
    s.trust_env = False  # the machine's CA bundle and proxies are not the shop's
    s.mount("http://", From())
    s.mount("https://", From())
    return s


class Strangers:
    """``count`` devices trying wrong passwords on the setup page back to back, each from its own
    address (127.0.3.x, so no one address's lock-out stops them all), every other one with a
    1 MB "password"; plain keep-alive connections, as an attacker's tool would use, so that the
    box, not the client, is what is measured. ``answers`` counts the statuses they got."""

    def __init__(self, box: Box, count: int) -> None:
        import http.client
        import re
        from collections import Counter

        self.box, self.http, self.stop, self.answers = box, http.client, threading.Event(), Counter()
        self.token = re.compile(r'name="csrf" value="([^"]+)"')
        self.threads = [threading.Thread(target=self._try, args=(n,), daemon=True) for n in range(count)]
        for thread in self.threads:
            thread.start()

    def _connect(self, n: int):
        return self.http.HTTPConnection("127.0.0.1", self.box.port, timeout=30, source_address=(f"127.0.3.{n + 1}", 0))

    def _try(self, n: int) -> None:
        from urllib.parse import urlencode

        conn = self._connect(n)
        conn.request("GET", "/login")
        page = conn.getresponse()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = self.token.search(page.read().decode()).group(1)
        body = urlencode({"csrf": token, "password": "x" * 1_000_000 if n % 2 else "not the password"}).encode()
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        while not self.stop.is_set():
            try:
                conn.request("POST", "/login", body, headers)
                answer = conn.getresponse()
                answer.read()
                self.answers[answer.status] += 1
                if answer.will_close:
                    conn.close()
                    conn = self._connect(n)
            except OSError:  # the box closed a connection it would not read the rest of
                conn.close()
                conn = self._connect(n)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(35)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "APPLIANCE_DATA_DIR")}
    env["APPLIANCE_MDNS_INTERFACES"] = "none"  # no multicast off this machine, ever
    return env


class Box:
    def __init__(self, data_dir: Path, emulated_printer: bool = False) -> None:
        self.data_dir = data_dir
        self.ports = config.Ports(free_port(), free_port(), free_port(), free_port(), free_port(), free_port())
        self.port = self.ports.http
        self.url = f"http://127.0.0.1:{self.port}"
        self.https_url = f"https://127.0.0.1:{self.ports.https}"
        self.settings = config.load(data_dir)
        self.emulated_printer = emulated_printer
        self.process: subprocess.Popen | None = None
        self.program = [sys.executable, "-m", "appliance"]  # or the SD image's launcher (tests/test_update.py)
        self.env: dict[str, str] = {}
        self.cwd = ROOT
        self.log = data_dir.parent / f"{data_dir.name}-serve.log"
        self._r: redis.Redis | None = None

    def argv(self, *args: str) -> list[str]:
        return [*self.program, "--data-dir", str(self.data_dir), *args]

    def start(self, timeout: float = 30.0, wait: bool = True) -> Box:
        extra = [] if self.emulated_printer else ["--no-emulated-printer"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.argv("serve", "--host", "127.0.0.1", *self.ports.argv(), *extra),
                stdout=log, stderr=subprocess.STDOUT, env={**child_env(), **self.env}, cwd=self.cwd)
        if wait:
            wait_for(self.healthy, timeout, f"the box to be healthy (log: {self.log})")
        return self

    def healthy(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            status, _, _ = Client(self.url, timeout=2).request("GET", "/healthz")
        except OSError:
            return False
        return status == 200

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)

    @property
    def redis(self) -> redis.Redis:
        if self._r is None:
            self._r = client.connect(self.settings)
        return self._r

    def client(self, name: str = "tablet") -> Client:
        client = Client(self.url)
        client.pair(devices.new_pin(self.redis, name), name)
        return client

    def add_printer(self, name: str, uri: str, roles: tuple[str, ...] = (), width: int = 80) -> None:
        printers.add(self.redis, printers.validate(name, uri, list(roles), width))
        wait_for(lambda: self.redis.exists(keys.printer_worker(name)), 10, f"a worker for {name}")

    # -- processes ------------------------------------------------------------------------

    def pids(self, role: str | None = None) -> list[int]:
        """Processes of this box: role serve, web, workers, network or redis (None: all)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "Z" or not any(str(self.data_dir).encode() in part for part in argv):
                continue
            kind = "redis" if b"redis-server" in argv[0] else next(
                (r for r in ("serve", "web", "workers", "background") if r.encode() in argv), None)
            if role is None or kind == role:
                found.append(int(entry.name))
        return found

    def kill9(self, *pids: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def worker(self, printer: str) -> dict:
        """The live worker of a printer: {"pid": the process it runs in, "worker": its name}."""
        found = wait_for(lambda: self.redis.get(keys.printer_worker(printer)), 10, f"worker of {printer}")
        return json.loads(found)


def ticket(label: str, lines: int = 2) -> dict:
    """A kitchen ticket as tablets send them: its label in big letters, then lines of Żurek
    (``lines`` in all: more lines, more paper, more time at a real printer's pace)."""
    return {"lines": [{"text": label, "size": "double"},
                      *({"columns": [f"{n}x Żurek", "12.00"]} for n in range(1, lines))]}


def big_ticket(label: str) -> dict:
    """About 20 KB on the wire: a logo makes it slow on a slow printer."""
    buf = io.BytesIO()
    Image.effect_noise((560, 280), 80).convert("1").save(buf, "PNG")
    return {"lines": [{"text": label}, {"image": base64.b64encode(buf.getvalue()).decode()}]}


def post_until_accepted(tablet: Client, printer: str, deadline: float, statuses: list[int] | None = None) -> str:
    """What a well-behaved tablet does: post a job with an id it chose (the receipt says
    that id), and post it again with the same id until the box answers 200 or 202 (every
    other answer, or none, is retried). Returns the id; ``statuses`` collects every answer
    seen (0: no answer)."""
    import uuid

    job_id = str(uuid.uuid4())
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            status, _, _ = tablet.request("POST", "/api/v1/jobs", {
                "id": job_id, "printer": printer, "document": {"lines": [{"text": job_id}]}})
        except OSError:
            tablet.close()
            status = 0
        if statuses is not None:
            statuses.append(status)
        if status in (200, 202):
            return job_id
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never accepted")
