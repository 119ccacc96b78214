"""A small, readable client of the tablet API: the reference for integrators, and what the
tests and benchmarks use. Standard library only, one keep-alive connection per client.

    box = Client("http://comptoir.local:8080")
    box.pair("123456", name="Caisse 2")          # remembers the token
    job = box.print(role="kitchen", document={"lines": [{"text": "Table 4"}]})
    box.wait_job(job["id"])                      # -> the job once printed
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit


class ApiError(Exception):
    """A non-2xx answer; ``body`` holds the box's JSON error (``error``, ``message``)."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body


class Client:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    # -- transport ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """One call; returns (status, decoded JSON body, headers). Reconnects once when a
        kept-alive connection was closed by the box meanwhile."""
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            sent_headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=payload, headers=sent_headers)
                response = self._conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2 or (method not in ("GET", "DELETE") and not _idempotent(body)):
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            decoded = json.loads(data) if data and response.getheader("Content-Type", "").startswith(
                "application/json") else data.decode(errors="replace")
            return response.status, decoded, dict(response.getheaders())
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, data, _ = self.request(method, path, body)
        if status >= 300:
            raise ApiError(status, data)
        return data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- API ----------------------------------------------------------------------------

    def pair(self, pin: str, name: str | None = None) -> dict:
        paired = self.call("POST", "/api/v1/pair", {"pin": pin, "name": name})
        self.token = paired["token"]
        return paired

    def printers(self) -> list[dict]:
        return self.call("GET", "/api/v1/printers")["printers"]

    def print(self, *, role: str | None = None, printer: str | None = None, document: dict | None = None,
              raw: str | None = None, copies: int = 1, drawer: bool = False, job_id: str | None = None) -> dict:
        """Queue a job. The id is chosen here, so a retry after a lost answer is safe: the box
        answers with the job it already has instead of printing twice."""
        body: dict[str, Any] = {"id": job_id or str(uuid.uuid4()), "copies": copies, "drawer": drawer}
        body.update({k: v for k, v in (("role", role), ("printer", printer), ("document", document),
                                       ("raw", raw)) if v is not None})
        return self.call("POST", "/api/v1/jobs", body)

    def job(self, job_id: str) -> dict:
        return self.call("GET", f"/api/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict:
        return self.call("DELETE", f"/api/v1/jobs/{job_id}")

    def wait_job(self, job_id: str, timeout: float = 10.0, until: tuple[str, ...] = ("printed",)) -> dict:
        end = time.monotonic() + timeout
        job = self.job(job_id)
        while job["status"] not in until and time.monotonic() < end:
            time.sleep(0.02)
            job = self.job(job_id)
        return job


def _idempotent(body: Any) -> bool:
    """A POST carrying its own job id may be sent again: the box deduplicates it."""
    return isinstance(body, dict) and "id" in body
