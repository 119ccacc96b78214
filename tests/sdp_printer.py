"""An Epson printer polling with Server Direct Print, in software, for the tests: it POSTs
``ConnectionType=GetRequest&ID=…&Name=…`` as Epson's manual shows, prints the ePOS-Print
document of each ``ePOSPrint`` it gets on an Epson engine (through the box's own ePOS-Print
reader), then POSTs ``ConnectionType=SetResponse&ID=…&ResponseFile=<PrintResponseInfo>``
with ``success`` and Epson's status word, or a failure code when told to."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

from appliance.printing import epos
from appliance.printing.emulated.engine import Engine
from tests.polling_printer import PollingPrinter

RESPONSE = ('<?xml version="1.0" encoding="utf-8"?><PrintResponseInfo Version="2.00"><ePOSPrint><Parameter>'
            "<devid>local_printer</devid><printjobid>{job}</printjobid></Parameter><PrintResponse>"
            '<response xmlns="http://www.epson-pos.com/schemas/2011/03/epos-print" success="{success}" '
            'code="{code}" status="{status}" battery="0"/></PrintResponse></ePOSPrint></PrintResponseInfo>')
ONLINE = 0x1000006  # a ready printer's status word, as Epson's samples show (drawer closed, online)


class SdpPrinter(PollingPrinter):
    def __init__(self, url: str, ident: str, name: str = "TM-m30III", every: float = 0.2) -> None:
        self.url, self.ident, self.name, self.every = url.rstrip("/") + "/epson/sdp", ident, name, every
        super().__init__(Engine(), f"sdp-{ident}", every)
        self.failure: str | None = None  # a code to answer instead of printing (EPTR_REC_EMPTY...)
        self.polls = 0
        self.results: list[str] = []

    def _post(self, form: dict) -> tuple[int, str, bytes]:
        request = urllib.request.Request(self.url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()

    def _once(self) -> None:
        status, kind, body = self._post({"ConnectionType": "GetRequest", "ID": self.ident, "Name": self.name})
        self.polls += 1
        if status != 200 or not body:
            return
        assert kind.startswith("text/xml"), kind
        text = body.decode()
        job = re.search(r"<printjobid>([A-Za-z0-9_.-]{1,30})</printjobid>", text)[1]
        document = re.search(r"(<epos-print.*</epos-print>)", text, re.S)[1]
        if self.failure:
            success, code, word = "false", self.failure, ONLINE | epos.ASB_RECEIPT_END | epos.ASB_OFF_LINE
        else:
            self.engine.feed(epos.to_escpos(epos.parse(document.encode()), "default", 80))
            success, code, word = "true", "", ONLINE | epos.ASB_PRINT_SUCCESS
        self.results.append(code or "ok")
        self._post({"ConnectionType": "SetResponse", "ID": self.ident,
                    "ResponseFile": RESPONSE.format(job=job, success=success, code=code, status=word)})
