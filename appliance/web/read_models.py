"""The setup page's read model: what the owner sees first, problems with what to do, then the
state of printers, tablets, the register and the back office. ``problems`` is a pure rule, so
the page, a future API and the tests agree on what counts as a problem."""

from __future__ import annotations

import redis

from appliance.printing import printers
from appliance.sync import forwarder, sessions

# A printer's problem, as the printer list says it, and what a person at the counter does.
REMEDIES = {
    "out of paper": "put a new roll in",
    "cover open": "close the cover",
    "printer error (cutter or head)": "switch the printer off and on; clear any jammed paper",
    "printer offline": "check the printer's buttons and lights",
}
UNREACHABLE = "check that it is switched on and connected"
BACKLOG_WARNING = 100  # sales not yet sent to the back office before it is worth saying


def problems(printer_list: list[dict], backoffice: dict) -> list[dict]:
    """Every problem a person should fix, most urgent first: {"what", "problem", "action"}.
    Pure: the caller reads the state."""
    found = []
    for printer in printer_list:
        if printer["ready"]:
            continue
        problem = printer["problem"] or "not ready"
        if problem == printers.NOT_READ:
            continue
        found.append({"what": printer["name"], "kind": "printer", "problem": problem,
                      "action": REMEDIES.get(problem, UNREACHABLE), "failover_to": printer.get("failover_to"),
                      "waiting": printer["queue"]})
    if backoffice["configured"] and backoffice["backlog"] >= BACKLOG_WARNING:
        found.append({"what": "back office", "kind": "backoffice", "problem": "sales not sent yet",
                      "action": "check the internet connection", "failover_to": None,
                      "waiting": backoffice["backlog"]})
    return sorted(found, key=lambda item: -item["waiting"])


def overview(r: redis.Redis) -> dict:
    printer_list = printers.describe_all(r)
    backoffice = forwarder.status(r)
    register = sessions.register_state(r)
    return {"problems": problems(printer_list, backoffice), "printers": printer_list,
            "tablets": sessions.device_states(r), "register": register, "backoffice": backoffice}
