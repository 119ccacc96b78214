"""Printers and their jobs: add, change, expose to apps, list, remove, test, find; a job
shown, cancelled or retried; the web POS trusted to print through QZ-compatible printing."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from appliance import config
from appliance.cli.common import Add, box_redis, print_table
from appliance.printing.languages import ALL as LANGUAGES

if TYPE_CHECKING:
    import redis


def cmd_printers(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.onboarding import receipts
    from appliance.printing import printers
    from appliance.printing.render import known_profiles

    if args.action == "profiles":
        print("\n".join(known_profiles()))
        return
    if args.action in ("discover", "scan"):
        _discover(args, settings)
        return
    with box_redis(settings) as r:
        if args.action == "add":
            roles = [role.strip() for role in args.roles.split(",") if role.strip()] if args.roles else []
            added = printers.add(r, printers.validate(args.name, args.uri, roles, args.width, args.profile,
                                                      args.backup, args.failover_after, language=args.language))
            print(f"added {added.name}: {added.uri}, roles {', '.join(added.roles) or '-'}, {added.width} mm"
                  + (f", backup {added.backup} after {added.failover_after:g} s" if added.backup else "")
                  + (f", {added.language}" if added.language_forced else ", its language learnt from it"))
            taken = printers.roles_taken_from_emulated(r, added)
            if taken:
                print(f"the emulated printer steps aside: jobs for {', '.join(taken)} now print on {added.name}")
        elif args.action == "set":
            changed = printers.update(r, args.name, backup=args.backup, failover_after=args.failover_after)
            print(f"{changed.name}: backup {changed.backup or '-'}, failover after {changed.failover_after:g} s")
        elif args.action == "accept":
            from appliance.printing import cloudprnt, polled

            roles = [role.strip() for role in args.roles.split(",") if role.strip()] if args.roles else []
            known = [c["uri"] for c in polled.callers(r) if c["id"] in (args.caller, args.caller.lower())]
            caller = args.caller if "://" in args.caller else known[0] if known else cloudprnt.uri(args.caller)
            added = polled.accept(r, caller, args.name, roles, args.width)
            print(f"added {added.name}: the printer {caller} that calls the box, roles "
                  f"{', '.join(added.roles) or '-'}; its jobs wait for its next call")
        elif args.action == "callers":
            from appliance.printing import polled

            rows = [{**c, "printer": c["printer"] or "(asking to join)",
                     "at": time.strftime("%H:%M:%S", time.localtime(c["at"]))} for c in polled.callers(r)]
            print_table(rows, ["id", "protocol", "printer", "status_code", "address", "at"])
        elif args.action == "language":
            changed = printers.set_language(r, args.name, None if args.language == "auto" else args.language)
            print(f"{changed.name}: speaks {changed.language}" if changed.language_forced
                  else f"{changed.name}: its language is learnt from it again (now {changed.language})")
        elif args.action == "expose":
            own = False if args.off else args.own_address
            exposed = printers.expose(r, args.name, None if args.off else args.port, own)
            print(f"{exposed.name}: apps print to it at this box's address, port {exposed.port}" if exposed.port
                  else f"{exposed.name}: no longer exposed on a port of the box")
            if exposed.own_address:
                print(f"{exposed.name}: asking the shop's router for its own address "
                      "(`appliance printers list` shows it; apps print to it there on port 9100)")
        elif args.action == "list":
            rows = printers.describe_all(r)
            for row in rows:
                row["roles"] = ",".join(row["roles"]) or "-"
                row["state"] = "ready" if row["ready"] else row["problem"]
                if row["failover_to"]:
                    row["state"] += f" (jobs go to {row['failover_to']})"
                row["backup"] = row["backup"] or "-"
                row["port"] = f"{row['port']} ({row['port_state'] or 'opening'})" if row["port"] else "-"
                held = row["own_address_state"]
                row["address"] = "-" if not row["own_address"] else (
                    f"{held['address']}:9100" if held and held["address"] else (held or {}).get("state", "asking"))
                row["model"] = " ".join(part for part in (row["maker"], row["model"]) if part) or "-"
            print_table(rows, ["name", "uri", "roles", "width", "language", "model", "state", "paper", "confirmation",
                               "backup", "port", "address", "queue"])
        elif args.action == "remove":
            printers.remove(r, args.name)
            print(f"removed {args.name}")
        elif args.action == "test":
            job = receipts.print_test_page(r, printers.get(r, args.name).name)
            print(f"test page queued as job {job['id']}")
            _await_job(r, job["id"], args.wait)


def _discover(args: argparse.Namespace, settings: config.Settings) -> None:
    if args.action == "scan":
        from appliance.discovery import bluetooth

        try:
            found = bluetooth.scan(args.seconds)
        except bluetooth.Unavailable as exc:
            raise SystemExit(f"error: {exc}") from None
        print_table(found, ["address", "name", "printer", "uri"])
        return
    from appliance.discovery import mdns, probe

    chosen = mdns.interfaces_setting(settings.mdns_interfaces)
    found = mdns.browse(args.seconds, chosen) if chosen is not None else []
    for item in found:
        item["uri"] = f"tcp://{item['address']}:{item['port']}"
    if args.probe or args.subnet:
        try:
            addresses = probe.hosts(args.subnet or probe.local_subnets())
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        print(f"probing port {args.port} on {len(addresses)} addresses...", file=sys.stderr)
        found += [{**item, "service": "port probe", "name": item["address"]}
                  for item in probe.probe(addresses, args.port)]
    print_table(found, ["name", "address", "port", "model", "service", "uri"])


def _await_job(r: redis.Redis, job_id: str, wait: float) -> None:
    from appliance.printing import jobs

    jobs.wait(r, job_id, wait)
    job = jobs.get(r, job_id)
    if job["status"] == jobs.JobStatus.PRINTED:
        print("printed")
    elif job["status"] in jobs.FINAL:
        raise SystemExit(f"job {job['status']}: {job['last_error']}")
    else:
        problem = job["last_error"] or "is the box running? (appliance serve)"
        print(f"still {job['status']}: {problem}; it prints as soon as the printer can")


def _history(r, args: argparse.Namespace) -> None:
    from appliance.access import devices
    from appliance.printing import history

    asked = {"q": " ".join(args.words), "printer": args.printer, "status": args.status, "since": args.since,
             "until": args.until, "limit": str(args.limit)}
    if args.tablet:
        asked["device"] = devices.find(r, args.tablet)["device_id"]
    found, _ = history.search(r, history.query_from({k: v for k, v in asked.items() if v}))
    names = {d["device_id"]: d["name"] for d in devices.list_all(r)}
    rows = [{**job, "tablet": names.get(job["device_id"] or "", job["device_id"] or "-"),
             "accepted": _clock(job["created_at"]), "printed": _clock(job["printed_at"])} for job in found]
    print_table(rows, ["id", "status", "printer", "tablet", "accepted", "printed", "last_error"])


def _clock(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp)) if stamp else "-"


def cmd_jobs(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.printing import jobs

    with box_redis(settings) as r:
        if args.action == "show":
            print(json.dumps(jobs.get(r, args.job_id), indent=2))
        elif args.action == "cancel":
            print(json.dumps(jobs.cancel(r, args.job_id), indent=2))
        elif args.action == "retry":
            print(json.dumps(jobs.retry(r, args.job_id), indent=2))
        elif args.action == "reprint":
            print(json.dumps(jobs.duplicate(r, args.job_id), indent=2))
        elif args.action == "history":
            _history(r, args)
        else:
            print_table(jobs.failed(r), ["id", "printer", "last_error", "updated_at"])


def cmd_qz(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.printing import qz

    with box_redis(settings) as r:
        if args.action == "list":
            rows = [{"fingerprint": c.fingerprint[:16], "state": "trusted" if c.trusted else "asking",
                     "subject": c.subject, "origin": c.origin or "-",
                     "at": time.strftime("%Y-%m-%d %H:%M", time.localtime(c.at))} for c in qz.listed(r)]
            print_table(rows, ["fingerprint", "state", "subject", "origin", "at"])
        else:
            cert = qz.trust(r, qz.find_certificate(r, args.fingerprint).fingerprint, args.action == "trust")
            print(f"{cert.subject}: web POS signing with it print on the box's printers" if args.action == "trust"
                  else f"{cert.subject}: forgotten; web POS signing with it no longer print")


def register(add: Add) -> None:
    p = add("printers", cmd_printers, "add, list, remove and test printers")
    psub = p.add_subparsers(dest="action", required=True)
    pa = psub.add_parser("add", help="add a printer")
    pa.add_argument("name")
    pa.add_argument("--uri", required=True, help="the printer's address: HOST or HOST:PORT for a network printer, "
                                                 "or a URI (tcp://, bt://, usb://, file://)")
    pa.add_argument("--roles", default="", help="comma-separated, e.g. kitchen,bar")
    pa.add_argument("--width", type=int, default=80, choices=(58, 80), help="paper width in mm")
    pa.add_argument("--profile", default="default", help="python-escpos printer profile (see 'profiles')")
    pa.add_argument("--language", choices=LANGUAGES,
                    help="the printer's language; without it the box asks the printer")
    pc = psub.add_parser("accept", help="add a printer that calls the box: CloudPRNT, Server Direct Print "
                                         "(see 'callers')")
    pc.add_argument("caller", help="its id as 'callers' lists it (a CloudPRNT printer's MAC, a Server Direct "
                                   "Print printer's ID), or its URI")
    pc.add_argument("--name", required=True)
    pc.add_argument("--roles", default="", help="comma-separated, e.g. kitchen,bar")
    pc.add_argument("--width", type=int, default=80, choices=(58, 80), help="paper width in mm")
    psub.add_parser("callers", help="printers that called the box lately (CloudPRNT, Server Direct Print), "
                                    "added or asking to join")
    pl = psub.add_parser("language", help="name a printer's language, or 'auto' to learn it from the printer")
    pl.add_argument("name")
    pl.add_argument("language", choices=(*LANGUAGES, "auto"))
    pset = psub.add_parser("set", help="change a printer's backup and failover delay")
    for options in (pa, pset):
        options.add_argument("--backup", help="printer that takes its waiting jobs when it cannot print")
        options.add_argument("--failover-after", type=float, default=60.0, metavar="SECONDS",
                            help="how long it may be unable to print before its jobs move (default 60)")
    pset.add_argument("name")
    pe = psub.add_parser("expose", help="let apps print to it as a network printer on a port of the box")
    pe.add_argument("name")
    where = pe.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="TCP port, usually 9100 (raw ESC/POS)")
    where.add_argument("--off", action="store_true", help="stop exposing it (and give its own address back)")
    where.add_argument("--address-only", dest="port", action="store_const", const=None,
                       help="no port of the box: only its own address (with --own-address)")
    pe.add_argument("--own-address", action=argparse.BooleanOptionalAction, default=None,
                    help="its own address on the shop's network, leased by the router (apps that take only "
                         "an address: Odoo's Epson printers, receiptio); --no-own-address gives it back")
    psub.add_parser("list", help="printers with status and queue length")
    psub.add_parser("remove", help="remove a printer with no job pending").add_argument("name")
    pt = psub.add_parser("test", help="print a test page")
    pt.add_argument("name")
    pt.add_argument("--wait", type=float, default=15.0, help="seconds to wait for it to print")
    psub.add_parser("profiles", help="list the known printer profiles")
    pd = psub.add_parser("discover", help="find network printers: mDNS, and a port 9100 probe if asked")
    pd.add_argument("--seconds", type=float, default=3.0, help="how long to listen to mDNS")
    pd.add_argument("--probe", action="store_true", help="also probe port 9100 on the local subnets")
    pd.add_argument("--subnet", action="append", default=[], help="probe this subnet (CIDR; at most 1024 addresses)")
    pd.add_argument("--port", type=int, default=9100)
    ps = psub.add_parser("scan", help="find Bluetooth printers")
    ps.add_argument("--bluetooth", action="store_true", required=True)
    ps.add_argument("--seconds", type=int, default=8)
    p = add("qz", cmd_qz, "QZ-compatible web POS: the signing certificates that asked to print, trusted or not")
    qsub = p.add_subparsers(dest="action", required=True)
    qsub.add_parser("list", help="certificates that asked, newest first")
    qsub.add_parser("trust", help="let web POS signing with it print").add_argument(
        "fingerprint", help="the start of its fingerprint, as 'list' shows it")
    qsub.add_parser("forget", help="stop trusting it").add_argument("fingerprint")
    p = add("jobs", cmd_jobs, "show, cancel, retry or reprint a print job; list failed ones; search the history")
    jsub = p.add_subparsers(dest="action", required=True)
    jsub.add_parser("show").add_argument("job_id")
    jsub.add_parser("cancel").add_argument("job_id")
    jsub.add_parser("retry", help="queue a failed job again").add_argument("job_id")
    jsub.add_parser("failed", help="list failed jobs")
    jsub.add_parser("reprint", help="print a job again, marked DUPLICATA / COPY").add_argument("job_id")
    h = jsub.add_parser("history", help="the jobs the box remembers, newest first: printed, waiting, cancelled, failed")
    h.add_argument("words", nargs="*", help="words of the ticket (a table, a dish); accents and capitals ignored")
    h.add_argument("--printer")
    h.add_argument("--tablet", help="a tablet's name or id")
    h.add_argument("--status", choices=["queued", "printing", "printed", "failed", "cancelled"])
    h.add_argument("--since", help="2026-12-02T11:00 (the box's time) or epoch seconds")
    h.add_argument("--until")
    h.add_argument("--limit", type=int, default=50)
