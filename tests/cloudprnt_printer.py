"""A Star CloudPRNT printer in software, for the tests: it polls the box as Star's printers
do (POST with its MAC, status code and ASB), fetches a job in a media type it chose from the
box's list (GET), prints it on a Star engine, and confirms it (DELETE ?code=200%20OK), or
answers another code when told to."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from appliance.printing import star
from appliance.printing.emulated.star_engine import StarEngine
from tests.polling_printer import PollingPrinter

STARPRNT = "application/vnd.star.starprnt"


class CloudPrinter(PollingPrinter):
    def __init__(self, url: str, printer_mac: str, every: float = 0.2) -> None:
        self.url, self.mac, self.every = url.rstrip("/") + "/cloudprnt", printer_mac, every
        super().__init__(StarEngine(), f"cloudprnt-{printer_mac}", every)
        self.paper = "ok"
        self.code = "200 OK"  # what it says after a job (520 ...: it could not print it)
        self.fetch_twice = False
        self.fetches = 0
        self.polls = 0
        self.answers: list[dict] = []

    def _request(self, method: str, query: dict | None = None, body: dict | None = None) -> tuple[int, bytes]:
        address = self.url + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(address, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _once(self) -> None:
        asb = star.asb(paper=self.paper, etb=0).hex()
        status, body = self._request("POST", body={"printerMAC": self.mac, "statusCode": "200%20OK",
                                                   "status": asb, "printingInProgress": False})
        self.polls += 1
        answer = json.loads(body) if status == 200 else {}
        self.answers.append(answer)
        if not answer.get("jobReady") or STARPRNT not in answer.get("mediaTypes", []):
            return
        status, job = self._request("GET", {"mac": self.mac, "type": STARPRNT})
        self.fetches += 1
        if status != 200:
            return
        if self.fetch_twice:
            again = self._request("GET", {"mac": self.mac, "type": STARPRNT})
            self.fetches += 1
            assert again == (200, job), "a second fetch gave another job"
        code = self.code
        if code.startswith("2"):
            self.engine.feed(job)
            self.engine.flush()
        self._request("DELETE", {"mac": self.mac, "code": code})
