"""``appliance serve``: everything the box runs, in one command, for a laptop or a demo.

On the box, systemd runs the same three parts as separate units (systemd/); here this
process plays systemd's part: it starts Redis (unless REDIS_URL is set), the API and the
worker pool, restarts whichever dies, and on Ctrl-C or SIGTERM stops them in order (API
first, so nothing new is accepted, Redis last, so every state change is written).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from appliance import config
from appliance.config import Settings
from appliance.runtime import redis_server
from appliance.store import client

log = logging.getLogger(__name__)

# This process stays small on purpose (it only starts and watches the others): it imports
# neither the web app nor the printing code.


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    crashes: int = 0
    restart_at: float = 0.0
    started: float = field(default=0.0)


class Supervisor:
    def __init__(self, settings: Settings, host: str, ports: config.Ports, emulated_printer: bool = True,
                 adopt_first_printer: bool = False) -> None:
        self.settings = settings
        self.emulated_printer = emulated_printer
        self.host, self.port, self.ports = host, ports.http, ports
        self.stopping = False
        self.redis: subprocess.Popen | None = None
        self._redis_child = Child("redis", [])  # its restart backoff
        exe = [sys.executable, "-m", "appliance", "--data-dir", str(settings.data_dir)]
        self.children = [
            Child("api", [*exe, "web", "--host", host, *ports.argv()]),
            Child("workers", [*exe, "workers", "--port", str(self.port),
                              *(["--emulated-printer"] if emulated_printer else [])]),
            Child("background", [*exe, "background", "--host", host, "--port", str(self.port),
                                 "--qz-port", str(ports.qz), "--qz-secure-port", str(ports.qz_secure),
                                 *(["--adopt-first-printer"] if adopt_first_printer else [])]),
        ]

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=config.export(self.settings),
                                         preexec_fn=redis_server.die_with_parent, process_group=0)
        child.started = time.monotonic()

    def _start_redis(self) -> None:
        if self.settings.private_redis:
            self.redis = redis_server.start(self.settings)
            self._redis_child.started = time.monotonic()

    def start(self) -> None:
        if self.settings.private_redis and redis_server.is_up(self.settings):
            raise SystemExit(f"a box is already running on {self.settings.data_dir} (its Redis answers)")
        self._start_redis()
        for child in self.children:
            self._spawn(child)
        health = self._wait_healthy(20)
        url_host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        print(f"Comptoir is up: http://{url_host}:{self.port}/healthz  (data: {self.settings.data_dir})",
              flush=True)
        if list(health.get("printers", {})) == ["emulated"]:
            print(f"No printer was configured: the emulated printer prints into {self.settings.receipts_dir}/ "
                  "(a test receipt is there now).", flush=True)
        secure = f"  ·  https://{url_host}:{self.ports.https}/ (its CA: /ca.pem)" if self.ports.https else ""
        print(f"Setup page: http://{url_host}:{self.port}/{secure}", flush=True)
        code = self._setup_code()
        if code:
            print(f"First start: claim the box on its setup page with the setup code {code} "
                  "(also on the first receipt; `appliance setup-code` shows it again).", flush=True)
        print("Pair a tablet: appliance pair --name NAME   ·   Stop: Ctrl-C", flush=True)

    def _setup_code(self) -> str | None:
        import redis

        from appliance.access import owner  # here only: this process stays small

        try:
            return owner.setup_code(client.connect(self.settings))
        except redis.RedisError:
            return None

    def _wait_healthy(self, deadline_s: float) -> dict:
        end = time.monotonic() + deadline_s
        url = f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}/healthz"
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return json.load(response)
            except OSError:
                pass
            for child in self.children:
                if child.process and child.process.poll() is not None:
                    raise SystemExit(f"{child.name} exited with {child.process.returncode} while starting")
            self._tend_redis(time.monotonic())  # a storage that dies now comes back, as later
            time.sleep(0.02)
        raise SystemExit(f"the box did not become healthy within {deadline_s} s")

    def watch(self) -> None:
        """Restart what dies, with a backoff (a Redis that cannot write to a full card must
        not crash-loop), until asked to stop."""
        while not self.stopping:
            now = time.monotonic()
            self._tend_redis(now)
            for child in self.children:
                if child.process is None or child.process.poll() is None:
                    continue
                if child.restart_at == 0.0:
                    self._backoff(child, now, child.process.returncode)
                elif now >= child.restart_at:
                    child.restart_at = 0.0
                    self._spawn(child)
            time.sleep(0.1)

    def _tend_redis(self, now: float) -> None:
        """Restart the private Redis if it died, with a backoff; from the first second on (the
        other parts only fail fast while starting: a bad port, a missing file)."""
        if self.redis is None or self.redis.poll() is None:
            return
        if self._redis_child.restart_at == 0.0:
            self._backoff(self._redis_child, now, self.redis.returncode)
        elif now >= self._redis_child.restart_at:
            self._redis_child.restart_at = 0.0
            try:
                self._start_redis()
            except RuntimeError as exc:
                log.error("%s", exc)
                self._backoff(self._redis_child, now, None)

    @staticmethod
    def _backoff(child: Child, now: float, code: int | None) -> None:
        lived = now - child.started
        child.crashes = 1 if lived > 60 else child.crashes + 1
        delay = min(0.2 * 2 ** (child.crashes - 1), 10)
        child.restart_at = now + delay
        log.warning("%s exited (%s); restarting in %.1f s", child.name, code, delay)

    def stop(self) -> None:
        for child in self.children:  # the API first: nothing new is accepted
            if child.process and child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            if child.process:
                try:
                    child.process.wait(15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()  # Redis flushes its append-only file and exits
            try:
                self.redis.wait(15)
            except subprocess.TimeoutExpired:
                self.redis.kill()

    def _request_stop(self, signum, frame) -> None:
        self.stopping = True


def serve(settings: Settings, host: str, ports: config.Ports, emulated_printer: bool = True,
          adopt_first_printer: bool = False) -> None:
    supervisor = Supervisor(settings, host, ports, emulated_printer, adopt_first_printer)
    signal.signal(signal.SIGTERM, supervisor._request_stop)
    signal.signal(signal.SIGINT, supervisor._request_stop)
    try:
        supervisor.start()
        supervisor.watch()
    finally:
        supervisor.stop()
        print("Comptoir stopped.", flush=True)
