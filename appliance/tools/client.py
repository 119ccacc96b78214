"""A small, readable client of the tablet API: the reference for integrators, and what the
tests, benchmarks and `appliance simulate` use. Standard library only, one keep-alive
connection per client.

    box = Client("http://comptoir.local:8080")
    box.pair("123456", name="Caisse 2")          # remembers the token
    job = box.print(role="kitchen", document={"lines": [{"text": "Table 4"}]})
    box.wait_job(job["id"])                      # -> the job once printed

    tablet = Tablet(box, staff="marie", role="waiter")
    tablet.start()                               # a selling session, and the shop's state
    tablet.mutate("ticket.open", ticket_id="t1", label="Table 4")
    tablet.sync()                                # push what is pending, pull what changed
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit


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
        kept-alive connection was closed by the box meanwhile. Any failure to get an answer is
        an OSError (ConnectionError, TimeoutError...), so a caller retries on one exception."""
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
            except (OSError, http.client.HTTPException) as exc:
                # The box restarted, or the answer was cut: one more try when it is safe, then
                # an OSError (ConnectionError...) whatever http.client raised.
                self.close()
                if attempt == 2 or (method not in ("GET", "DELETE") and not _idempotent(body)):
                    if isinstance(exc, OSError):
                        raise
                    raise ConnectionError(f"the box's answer was cut: {exc!r}") from exc
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

    def retry(self, job_id: str) -> dict:
        """Queue a failed job again (a job in any other state is left as it is)."""
        return self.call("POST", f"/api/v1/jobs/{job_id}/retry")

    def reprint(self, job_id: str) -> dict:
        """Print a job again, marked DUPLICATA / COPY on paper: the new job."""
        return self.call("POST", f"/api/v1/jobs/{job_id}/reprint")

    def history(self, **query: str | float | int) -> dict:
        """The jobs the box remembers, newest first: ``q`` (words of the ticket), ``printer``,
        ``device``, ``status``, ``since``, ``until``, ``limit``, ``before`` (the ``next`` of
        the page before). ``{"jobs": [...], "next": ...}``."""
        asked = urlencode({k: v for k, v in query.items() if v is not None})
        return self.call("GET", f"/api/v1/jobs?{asked}" if asked else "/api/v1/jobs")

    def wait_job(self, job_id: str, timeout: float = 10.0, until: tuple[str, ...] = ("printed",)) -> dict:
        end = time.monotonic() + timeout
        job = self.job(job_id)
        while job["status"] not in until and time.monotonic() < end:
            time.sleep(0.02)
            job = self.job(job_id)
        return job


    # -- sync -----------------------------------------------------------------------------

    def push(self, session: str, mutations: list[dict], staff: str = "", role: str = "") -> dict:
        return self.call("POST", "/api/v1/sync/push", {"session": session, "staff": staff, "role": role,
                                                      "mutations": mutations})

    def pull(self, cursor: str | None = None, wait: float = 0) -> dict:
        query = {k: v for k, v in (("cursor", cursor), ("wait", wait)) if v}
        return self.call("GET", "/api/v1/sync/pull" + (f"?{urlencode(query)}" if query else ""))

    def events(self, last_event_id: str | None = None, timeout: float = 60) -> Iterator[tuple[str, str, dict]]:
        """Server-Sent Events as (event, id, data), on a connection of their own."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        conn.request("GET", "/api/v1/sync/events", headers=headers)
        response = conn.getresponse()
        if response.status != 200:
            raise ApiError(response.status, response.read().decode())
        try:
            event, event_id, data = "message", "", []
            while True:
                line = response.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if not line:
                    if data:
                        yield event, event_id, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("id:"):
                    event_id = line[3:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
        finally:
            conn.close()

    def start_session(self, staff: str = "", role: str = "") -> dict:
        """Who uses the tablet decides what the box shows it (ticket visibility)."""
        return self.call("POST", "/api/v1/sessions", {"staff": staff, "role": role})

    def close_session(self, last_mutation_id: int) -> dict:
        return self.call("DELETE", "/api/v1/sessions/current", {"last_mutation_id": last_mutation_id})

    def open_register(self) -> dict:
        return self.call("POST", "/api/v1/register/open")

    def close_register(self) -> dict:
        return self.call("POST", "/api/v1/register/close")

    def tickets(self, status: str | None = "open") -> list[dict]:
        return self.call("GET", "/api/v1/tickets" + (f"?status={status}" if status else ""))["tickets"]

    def ticket(self, ticket_id: str) -> dict:
        return self.call("GET", f"/api/v1/tickets/{ticket_id}")


class Tablet:
    """What a tablet keeps: its mutations not yet acknowledged, numbered, and its copy of the
    shop's state, advanced by pulls (or events) from a cursor. Pushing the same numbered
    mutations again after a lost answer is safe; the box skips what it has."""

    def __init__(self, client: Client, staff: str = "", role: str = "") -> None:
        self.client = client
        self.staff, self.role = staff, role
        self.session: str | None = None
        self.next_id = 1
        self.pending: list[dict] = []
        self.results: dict[int, dict] = {}
        self.pushed: list[dict] = []  # every mutation the box acknowledged, in order
        self.replica = Replica()

    def start(self) -> None:
        self.session = self.client.start_session(self.staff, self.role)["id"]
        self.replica.apply(self.client.pull())
        # After a restart of this tablet, continue numbering after what the box has.
        self.next_id = max(self.next_id, self.replica.last_mutation_id + 1)

    def mutate(self, mutation: str, /, **args: Any) -> int:
        """Queue a mutation (sent by the next push); returns its id."""
        mutation_id = self.next_id
        self.next_id += 1
        self.pending.append({"id": mutation_id, "name": mutation, "args": args})
        return mutation_id

    def push(self) -> dict | None:
        if not self.pending:
            return None
        assert self.session, "start() first"
        answer = self.client.push(self.session, self.pending, self.staff, self.role)
        for result in answer["results"]:
            self.results[result["id"]] = result
        done = answer["last_mutation_id"]
        self.pushed.extend(m for m in self.pending if m["id"] <= done)
        self.pending = [m for m in self.pending if m["id"] > done]
        return answer

    def pull(self, wait: float = 0) -> None:
        self.replica.apply(self.client.pull(self.replica.cursor, wait))

    def sync(self) -> None:
        self.push()
        self.pull()

    def close(self) -> dict:
        self.push()
        return self.client.close_session(self.next_id - 1)


class Replica:
    """A tablet's copy of the shop: entities by kind and id, and the cursor it is valid at."""

    def __init__(self) -> None:
        self.cursor: str | None = None
        self.state: dict[str, dict[str, dict]] = {}
        self.last_mutation_id = 0

    def apply(self, answer: dict) -> None:
        """Take a pull answer (snapshot or changes) or an SSE event's data."""
        if answer.get("snapshot") or "state" in answer:
            self.state = {kind: {e["id"] if "id" in e else e["product"]: e for e in items}
                          for kind, items in answer["state"].items()}
        else:
            for change in answer.get("changes", [answer] if "kind" in answer else []):
                self.change(change)
        self.cursor = answer.get("cursor", self.cursor)
        self.last_mutation_id = answer.get("last_mutation_id", self.last_mutation_id)

    def change(self, change: dict) -> None:
        if change["live"]:
            self.state.setdefault(change["kind"], {})[change["id"]] = change["data"]
        else:
            self.state.get(change["kind"], {}).pop(change["id"], None)
        self.cursor = change["cursor"]


def _idempotent(body: Any) -> bool:
    """A POST carrying its own job id, or numbered mutations, may be sent again: the box
    deduplicates them."""
    return isinstance(body, dict) and ("id" in body or "mutations" in body)
