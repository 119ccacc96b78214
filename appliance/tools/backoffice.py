"""`appliance backoffice serve`: a small reference back office, for the demo and the tests,
and the executable description of what the box expects from a real one (docs/backoffice.md).

It stores records by idempotency key (a record sent twice is stored once and answered
"duplicate"), rejects what it finds invalid (a customer whose e-mail has no @, a sale whose
payments do not cover it), and serves a versioned catalogue. State lives in a JSON-lines file
so a restart keeps it.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from flask import Flask, abort, jsonify, request
from werkzeug.serving import make_server


def _problem(kind: str, data: dict) -> str | None:
    if kind == "customer" and data.get("email") and "@" not in data["email"]:
        return f"invalid e-mail {data['email']!r}"
    if kind == "sale" and data.get("paid", 0) < data.get("total", 0):
        return "payments do not cover the sale"
    return None


def create_app(data_file: Path, token: str) -> Flask:
    app = Flask(__name__)
    lock = threading.Lock()
    records: dict[str, dict] = {}
    catalogue: dict[str, dict] = {}
    state = {"version": 0, "duplicates": 0}
    if data_file.exists():
        for line in data_file.read_text().splitlines():
            item = json.loads(line)
            if item["type"] == "record":
                records[item["key"]] = item
            else:
                catalogue[item["product"]["id"]] = item["product"]
                state["version"] = max(state["version"], item["product"]["version"])

    def save(item: dict) -> None:
        with data_file.open("a") as out:
            out.write(json.dumps(item) + "\n")

    @app.before_request
    def _auth():
        if request.headers.get("Authorization") != f"Bearer {token}":
            abort(401)

    @app.post("/records")
    def receive():
        results = []
        with lock:
            for record in request.get_json()["records"]:
                key = record["key"]
                if key in records:
                    state["duplicates"] += 1
                    results.append({"key": key, "status": "duplicate"})
                    continue
                problem = _problem(record["kind"], record["data"])
                if problem:
                    results.append({"key": key, "status": "rejected", "reason": problem})
                    continue
                item = {"type": "record", "key": key, "kind": record["kind"], "data": record["data"]}
                save(item)
                records[key] = item
                results.append({"key": key, "status": "accepted"})
        return jsonify({"results": results})

    @app.get("/records")
    def listing():
        with lock:
            return jsonify({"records": list(records.values()), "duplicates": state["duplicates"]})

    @app.get("/catalogue")
    def catalogue_since():
        since = int(request.args.get("since", 0))
        with lock:
            changed = [p for p in catalogue.values() if p["version"] > since]
            return jsonify({"version": state["version"], "products": changed})

    @app.post("/catalogue")
    def set_product():
        product = request.get_json()
        with lock:
            state["version"] += 1
            product = {"id": product["id"], "name": product["name"], "price": int(product["price"]),
                       "version": state["version"]}
            catalogue[product["id"]] = product
            save({"type": "product", "product": product})
        return jsonify(product), 201

    return app


def serve(host: str, port: int, data_file: Path, token: str) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, create_app(data_file, token), threaded=True)
    print(f"reference back office on http://{host}:{port} (token {token!r}, data {data_file})", flush=True)
    server.serve_forever()
