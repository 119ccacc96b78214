"""The API under gunicorn: threaded workers (tablets hold keep-alive connections, event
streams and long polls, which must not block short requests: 64 threads a worker, cheap
while they wait), the app loaded before fork so workers share its pages."""

from __future__ import annotations

import gc

from gunicorn.app.base import BaseApplication

from appliance.config import Settings
from appliance.web import create_app


class _Server(BaseApplication):
    def __init__(self, settings: Settings, options: dict) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        app = create_app(self.settings)
        # Objects made so far are shared with the forked workers; frozen, the garbage collector
        # leaves them alone and their pages stay shared instead of being copied.
        gc.collect()
        gc.freeze()
        return app


def run(settings: Settings, host: str, port: int, workers: int = 1, threads: int = 64) -> None:
    _Server(settings, {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        "keepalive": 30,
        "timeout": 60,
        "graceful_timeout": 5,
        "loglevel": "warning",
        "proc_name": "comptoir-web",
    }).run()
