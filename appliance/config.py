"""Where the box keeps its state and how its processes find each other.

Every process (web, workers, CLI) derives the same settings from the same environment, so
``appliance printers add`` run in a shell reaches the Redis that ``appliance serve`` started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Ports:
    """Where the web server listens: the page and the API over HTTP and HTTPS, and the ports
    web apps use for an Epson printer's ePOS-Print (8008, and 8043 with TLS); and where the
    background process takes QZ-compatible web POS (8182, and 8181 with TLS). 0: not opened.
    The box itself uses 80 and 443; the quick start 8080 and 8443."""

    http: int = DEFAULT_PORT
    https: int = 8443
    epos: int = 8008
    epos_https: int = 8043
    qz: int = 8182
    qz_secure: int = 8181

    @property
    def tls(self) -> set[int]:
        return {port for port in (self.https, self.epos_https) if port}

    @property
    def opened(self) -> list[int]:
        return [port for port in (self.http, self.https, self.epos, self.epos_https) if port]

    def argv(self) -> list[str]:
        """The command-line options that say these ports to a child process."""
        return ["--port", str(self.http), "--https-port", str(self.https), "--epos-port", str(self.epos),
                "--epos-https-port", str(self.epos_https), "--qz-port", str(self.qz),
                "--qz-secure-port", str(self.qz_secure)]


def default_data_dir() -> Path:
    """The box sets APPLIANCE_DATA_DIR=/var/lib/comptoir; a developer's machine uses XDG."""
    if env := os.environ.get("APPLIANCE_DATA_DIR"):
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg) / "comptoir"


DEFAULT_UPDATE_KEYS = Path("/etc/comptoir/update-keys")


@dataclass(frozen=True)
class Settings:
    """The environment, read here and nowhere else: APPLIANCE_DATA_DIR, REDIS_URL,
    APPLIANCE_MDNS_INTERFACES (all, none, or interface names and addresses: where the box
    announces itself and browses) and APPLIANCE_UPDATE_KEYS (the public keys updates must be
    signed by; the card's read-only root)."""

    data_dir: Path
    redis_url: str
    private_redis: bool
    mdns_interfaces: str = "all"
    update_keys: Path = DEFAULT_UPDATE_KEYS

    @property
    def redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def receipts_dir(self) -> Path:
        """Where the emulated printer drops its receipts (text and raw bytes)."""
        return self.data_dir / "receipts"


def load(data_dir: str | os.PathLike | None = None) -> Settings:
    """Settings for this process; an explicit data dir wins over the environment."""
    directory = Path(data_dir) if data_dir else default_data_dir()
    directory = directory.expanduser().resolve()
    url = os.environ.get("REDIS_URL")
    where = {"mdns_interfaces": os.environ.get("APPLIANCE_MDNS_INTERFACES", "all"),
             "update_keys": Path(os.environ.get("APPLIANCE_UPDATE_KEYS", DEFAULT_UPDATE_KEYS))}
    if url:
        return Settings(directory, url, private_redis=False, **where)
    return Settings(directory, f"unix://{directory / 'redis.sock'}", private_redis=True, **where)


def export(settings: Settings) -> dict[str, str]:
    """Environment for child processes so they agree with the parent on everything."""
    env = dict(os.environ)
    env["APPLIANCE_DATA_DIR"] = str(settings.data_dir)
    if not settings.private_redis:
        env["REDIS_URL"] = settings.redis_url
    return env
