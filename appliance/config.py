"""Where the box keeps its state and how its processes find each other.

Every process (web, workers, CLI) derives the same settings from the same environment, so
``appliance printers add`` run in a shell reaches the Redis that ``appliance serve`` started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8080


def default_data_dir() -> Path:
    """The box sets APPLIANCE_DATA_DIR=/var/lib/comptoir; a developer's machine uses XDG."""
    if env := os.environ.get("APPLIANCE_DATA_DIR"):
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg) / "comptoir"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    redis_url: str
    private_redis: bool

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
    if url:
        return Settings(directory, url, private_redis=False)
    return Settings(directory, f"unix://{directory / 'redis.sock'}", private_redis=True)


def export(settings: Settings) -> dict[str, str]:
    """Environment for child processes so they agree with the parent on everything."""
    env = dict(os.environ)
    env["APPLIANCE_DATA_DIR"] = str(settings.data_dir)
    if not settings.private_redis:
        env["REDIS_URL"] = settings.redis_url
    return env
