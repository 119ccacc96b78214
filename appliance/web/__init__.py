"""The HTTP side of the box: an application factory in Flask's own style.

Views stay thin: they parse, call a service function, and shape the answer. The setup page
and the CLI call the same service functions.
"""

from __future__ import annotations

import tempfile
from typing import IO

import redis
from flask import Flask, Request, current_app

from appliance import config
from appliance.store.client import connect

MAX_BODY = 1024 * 1024
REDIS_CONNECTIONS = 32


class CardSpooledRequest(Request):
    """Uploaded files (an update bundle, tens of MB) are spooled to the data partition, not to
    /tmp, which is a small tmpfs on the box."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return tempfile.TemporaryFile(dir=current_app.extensions["settings"].data_dir)


def store() -> redis.Redis:
    """The Redis client of the app serving this request (shared by its greenlets)."""
    return current_app.extensions["redis"]


def create_app(settings: config.Settings | None = None) -> Flask:
    settings = settings or config.load()
    app = Flask(__name__, static_folder=None)
    app.request_class = CardSpooledRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False
    app.extensions["settings"] = settings
    # Hundreds of connections may ask Redis at once (a snapshot for every stream after a
    # restart): they queue for REDIS_CONNECTIONS sockets rather than open one each.
    app.extensions["redis"] = connect(settings, shared_by=REDIS_CONNECTIONS)

    from appliance.web import api, cloudprnt, cors, epos, errors, health, openapi, pages, sdp, sync_api, webprnt

    cors.init_app(app)  # first: preflights are answered before any token check
    errors.register(app)
    pages.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(sync_api.bp)
    app.register_blueprint(epos.bp)
    app.register_blueprint(cloudprnt.bp)
    app.register_blueprint(sdp.bp)
    app.register_blueprint(webprnt.bp)
    return app
