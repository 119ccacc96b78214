"""The ``appliance`` command: run the box, pair tablets, manage printers.

Management commands work whether or not the box is running on the same data dir: they talk
to its Redis, or start a private one for the moment they need it. Each command imports what
it needs when it runs, so `appliance serve`, which only watches the other processes, stays
a small process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

from appliance import config, devices
from appliance.errors import ServiceError
from appliance.runtime import redis_server
from appliance.store import client


@contextlib.contextmanager
def _redis(settings: config.Settings) -> Iterator[redis.Redis]:
    """The box's Redis; when the box is not running, a private one for this command only."""
    process = None
    if settings.private_redis and not redis_server.listening(settings):
        process = redis_server.start(settings)
    try:
        yield client.connect(settings)
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)


def _print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(row.get(c, "") if row.get(c) is not None else "-") for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


# -- commands ---------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.runtime.supervisor import serve

    serve(settings, args.host, _ports(args), emulated_printer=not args.no_emulated_printer,
          adopt_first_printer=args.adopt_first_printer)


def cmd_web(args: argparse.Namespace, settings: config.Settings) -> None:
    # gevent first, before Redis, sockets or the app are imported (see web/server.py).
    from gevent import monkey

    monkey.patch_all()
    from appliance.web.server import run

    run(settings, args.host, _ports(args), workers=args.workers)


def _ports(args: argparse.Namespace) -> config.Ports:
    return config.Ports(args.port, args.https_port, args.epos_port, args.epos_https_port)


def _adopt_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--adopt-first-printer", action="store_true",
                   help="while the box is not claimed, add the first USB or network printer found and print the "
                        "welcome receipt on it (the SD image does; it searches the shop's network)")


def _port_options(p: argparse.ArgumentParser) -> None:
    defaults = config.Ports()
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=defaults.http, help="HTTP: the setup page and the API")
    p.add_argument("--https-port", type=int, default=defaults.https, help="HTTPS, with the box's own CA (0: off)")
    p.add_argument("--epos-port", type=int, default=defaults.epos, help="ePOS-Print's HTTP port (0: off)")
    p.add_argument("--epos-https-port", type=int, default=defaults.epos_https, help="ePOS-Print's HTTPS port (0: off)")


def cmd_workers(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.printing import pool

    redis_server.wait_until_up(settings, 30)
    if args.emulated_printer:
        from appliance.onboarding import emulated, receipts

        with _redis(settings) as r:
            emulated.ensure(settings, r, receipts.setup_addresses(args.port))
    pool.run(settings)


def cmd_setup_code(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance import admin

    with _redis(settings) as r:
        code = admin.setup_code(r)
    if code is None:
        print("this box is set up already: log in on its setup page (forgot the password? "
              "appliance admin login-code --print)")
    else:
        print(f"setup code: {code}")


def cmd_errorlog(args: argparse.Namespace, settings: config.Settings) -> None:
    """Lines from stdin (the journal's warnings and errors) into a size-bounded file."""
    import logging.handlers
    from pathlib import Path

    Path(args.file).parent.mkdir(parents=True, exist_ok=True)
    keep = logging.handlers.RotatingFileHandler(args.file, maxBytes=args.max_bytes, backupCount=3)
    keep.setFormatter(logging.Formatter("%(message)s"))
    for line in sys.stdin:
        keep.emit(logging.makeLogRecord({"msg": line.rstrip("\n")}))
        keep.flush()


def cmd_update(args: argparse.Namespace, settings: config.Settings) -> None:
    import shlex
    import subprocess

    from appliance import update

    if args.apply:  # comptoir-update.service, as root, from the card's own version
        restart = shlex.split(args.restart_command) if args.restart_command else update.RESTART
        box = update.Box(restart=lambda: subprocess.run(restart, check=True),
                         health_url=args.health_url or update.HEALTH_URL,
                         trial_seconds=update.TRIAL_SECONDS if args.trial_seconds is None else args.trial_seconds)
        state = update.apply(settings, box)
        print(_update_said(state))
        raise SystemExit(0 if state.get("result") in (None, "kept") else 1)
    if args.file is None:
        print(_update_said(update.read_state(settings)))
        return
    with open(args.file, "rb") as f:
        manifest = update.receive(settings, f)
    print(f"update {manifest.version} checked: the box installs it, restarts, and keeps it if it is "
          f"healthy {update.TRIAL_SECONDS:.0f} s later")
    if args.no_wait:
        return
    state = update.wait(settings, args.timeout, lambda s: print(_update_said(s), flush=True))
    raise SystemExit(0 if state.get("result") == "kept" else 1)


def _update_said(state: dict) -> str:
    running = state.get("current") or "the card's own version"
    step, version = state.get("step"), state.get("version")
    if step == "done":
        reason = f" ({state['reason']})" if state.get("reason") else ""
        return f"update {version}: {state.get('result')}{reason}; running {running}"
    if step:
        return f"update {version}: {step}; running {running}"
    return f"running {running}; no update yet"


def cmd_release(args: argparse.Namespace, settings: config.Settings) -> None:
    from pathlib import Path

    from appliance import update

    if args.action == "keygen":
        print(f"public key (image/build puts it on the card): {update.keygen(Path(args.key))}")
    else:
        manifest = update.pack(Path(args.wheels), Path(args.key), Path(args.out))
        print(f"{args.out}: update {manifest.version}, {len(manifest.wheels)} wheels, signed")


def cmd_admin(args: argparse.Namespace, settings: config.Settings) -> None:
    import getpass

    from appliance import admin

    if args.action == "login-code":
        with _redis(settings) as r:
            code = admin.new_login_code(r)
            print(f"login code: {code} (once, within {admin.LOGIN_CODE_SECONDS // 60} minutes)")
            if args.print:
                _print_login_code(r, code)
        return
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("new password: ")
    with _redis(settings) as r:
        admin.set_password(r, password)
    print("the owner's password is changed; every login to the setup page has ended")


def _print_login_code(r: redis.Redis, code: str) -> None:
    """The code on the receipt printer, for an owner at the counter with no screen at hand."""
    from appliance import admin
    from appliance.printing import jobs
    from appliance.sync import shop

    minutes = admin.LOGIN_CODE_SECONDS // 60
    document = {"lines": [{"text": shop.name(r), "align": "center", "bold": True},
                          {"text": "Code de connexion / Login code", "align": "center"},
                          {"text": code, "align": "center", "size": "double"},
                          {"text": f"{minutes} min, une fois / once", "align": "center"}]}
    job = jobs.print_document(r, document, role="receipt")
    print(f"printed on {job['printer']}")


def cmd_pair(args: argparse.Namespace, settings: config.Settings) -> None:
    with _redis(settings) as r:
        code = devices.new_pin(r, args.name, args.role)
        locked = devices.pairing_locked(r)
    minutes = devices.PIN_TTL // 60
    print(f"PIN: {code}  (valid {minutes} minutes, once{'; role ' + args.role if args.role != 'staff' else ''})")
    print(f'On the tablet: POST /api/v1/pair {{"pin": "{code}", "name": "..."}}')
    if locked:
        print(f"warning: pairing is locked for {locked} s: someone on the network tried "
              f"{devices.FAILURES_ALL} wrong PINs in a minute; the PIN works once the lock ends", file=sys.stderr)


def cmd_devices(args: argparse.Namespace, settings: config.Settings) -> None:
    with _redis(settings) as r:
        if args.action == "list":
            rows = [{**d, "paired_at": time.strftime("%Y-%m-%d %H:%M", time.localtime(d["paired_at"]))}
                    for d in devices.list_all(r)]
            _print_table(rows, ["device_id", "name", "role", "receipt_printer", "paired_at"])
        elif args.action == "revoke":
            device = devices.find(r, args.device)
            devices.revoke(r, device["device_id"])
            print(f"revoked {device['name']} ({device['device_id']}): its token no longer works")
        elif args.action == "set-receipt":
            device = devices.find(r, args.device)
            devices.set_receipt_printer(r, device["device_id"], None if args.printer == "none" else args.printer)
            print(f"{device['name']}: receipts go to {args.printer}")


def cmd_printers(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.onboarding import receipts
    from appliance.printing import printers
    from appliance.printing.render import known_profiles

    if args.action == "profiles":
        print("\n".join(known_profiles()))
        return
    if args.action in ("discover", "scan"):
        _discover(args)
        return
    with _redis(settings) as r:
        if args.action == "add":
            roles = [role.strip() for role in args.roles.split(",") if role.strip()] if args.roles else []
            added = printers.add(r, printers.validate(args.name, args.uri, roles, args.width, args.profile,
                                                      args.backup, args.failover_after))
            print(f"added {added.name}: {added.uri}, roles {', '.join(added.roles) or '-'}, {added.width} mm"
                  + (f", backup {added.backup} after {added.failover_after:g} s" if added.backup else ""))
            taken = printers.roles_taken_from_emulated(r, added)
            if taken:
                print(f"the emulated printer steps aside: jobs for {', '.join(taken)} now print on {added.name}")
        elif args.action == "set":
            changed = printers.update(r, args.name, backup=args.backup, failover_after=args.failover_after)
            print(f"{changed.name}: backup {changed.backup or '-'}, failover after {changed.failover_after:g} s")
        elif args.action == "expose":
            exposed = printers.expose(r, args.name, None if args.off else args.port)
            print(f"{exposed.name}: apps print to it at this box's address, port {exposed.port}" if exposed.port
                  else f"{exposed.name}: no longer exposed")
        elif args.action == "list":
            rows = printers.describe_all(r)
            for row in rows:
                row["roles"] = ",".join(row["roles"]) or "-"
                row["state"] = "ready" if row["ready"] else row["problem"]
                if row["failover_to"]:
                    row["state"] += f" (jobs go to {row['failover_to']})"
                row["backup"] = row["backup"] or "-"
                row["port"] = f"{row['port']} ({row['port_state'] or 'opening'})" if row["port"] else "-"
            _print_table(rows, ["name", "uri", "roles", "width", "state", "paper", "confirmation", "backup", "port",
                                "queue"])
        elif args.action == "remove":
            printers.remove(r, args.name)
            print(f"removed {args.name}")
        elif args.action == "test":
            job = receipts.print_test_page(r, printers.get(r, args.name).name)
            print(f"test page queued as job {job['id']}")
            _await_job(r, job["id"], args.wait)


def _discover(args: argparse.Namespace) -> None:
    if args.action == "scan":
        from appliance.discovery import bluetooth

        try:
            found = bluetooth.scan(args.seconds)
        except bluetooth.Unavailable as exc:
            raise SystemExit(f"error: {exc}") from None
        _print_table(found, ["address", "name", "printer", "uri"])
        return
    from appliance.discovery import mdns, probe

    chosen = mdns.interfaces_setting()
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
    _print_table(found, ["name", "address", "port", "model", "service", "uri"])


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


def cmd_jobs(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.printing import jobs

    with _redis(settings) as r:
        if args.action == "show":
            print(json.dumps(jobs.get(r, args.job_id), indent=2))
        elif args.action == "cancel":
            print(json.dumps(jobs.cancel(r, args.job_id), indent=2))
        elif args.action == "retry":
            print(json.dumps(jobs.retry(r, args.job_id), indent=2))
        else:
            _print_table(jobs.failed(r), ["id", "printer", "last_error", "updated_at"])


def cmd_settings(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance import admin
    from appliance import settings as owner_settings

    with _redis(settings) as r:
        if args.what == "set":
            typed = owner_settings.put(r, **{args.name: args.value})
            print(f"{args.name} = {typed[args.name]}")
            return
        if args.what == "show":
            for name, value in owner_settings.get_all(r).items():
                print(f"{name} = {value}    # {owner_settings.SETTINGS[name].help}")
            for name in owner_settings.unknown(r):
                print(f"{name}: not a setting this box knows (left as it is)", file=sys.stderr)
            return
        if args.none or args.origin:
            admin.set_allowed_origins(r, [] if args.none else args.origin)
        origins = admin.allowed_origins(r)
        print("web apps allowed to call the API: " + (", ".join(origins) if origins else "none"))


def cmd_shop(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.sync import shop

    with _redis(settings) as r:
        if args.action == "visibility":
            shop.set_visibility(r, args.mode)
            print(f"parked receipts: {args.mode}")
        elif args.action == "name":
            shop.set_name(r, args.name)
            print(f"the box announces itself as {args.name!r}")
        elif args.action == "tables":
            labels = [f"Table {n}" for n in range(1, args.count + 1)] + list(args.extra)
            ids = shop.set_default_tickets(r, labels)
            print(f"{len(ids)} default tickets: {', '.join(labels)}")


def cmd_backoffice(args: argparse.Namespace, settings: config.Settings) -> None:
    if args.action == "serve":
        from pathlib import Path

        from appliance.tools.backoffice import serve

        serve(args.host, args.port, Path(args.data), args.token)
        return
    from appliance.sync import forwarder

    with _redis(settings) as r:
        if args.action == "link":
            forwarder.link(r, args.url, args.token)
            print(f"records go to {args.url}")
        elif args.action == "status":
            print(json.dumps(forwarder.status(r), indent=2))
        elif args.action == "dead-letters":
            if args.retry or args.drop:
                count = forwarder.settle_dead_letters(r, retry=args.retry)
                print(f"{count} record(s) {'sent again' if args.retry else 'dropped'}")
            else:
                print(json.dumps(forwarder.dead_letters(r), indent=2))


def cmd_network(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.runtime import network

    redis_server.wait_until_up(settings, 30)
    network.run(settings, args.host, args.port, adopt_first_printer=args.adopt_first_printer,
                manage_wifi=args.manage_wifi)


def cmd_simulate(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.tools import simulate

    if not redis_server.is_up(settings):
        raise SystemExit("start the box first (appliance serve), on the same data dir")
    ok = simulate.run(client.connect(settings), args.url, args.tablets, args.minutes)
    raise SystemExit(0 if ok else 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appliance", description="Comptoir, the print-and-sync box.")
    parser.add_argument("--data-dir", help="state directory (default: $APPLIANCE_DATA_DIR or ~/.local/share/comptoir)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
        return p

    p = add("serve", cmd_serve, "run the whole box: Redis, the API, the print workers")
    _port_options(p)
    p.add_argument("--no-emulated-printer", action="store_true",
                   help="do not add the emulated printer when no printer is configured")
    _adopt_option(p)

    p = add("web", cmd_web, "run only the API (systemd unit comptoir-web)")
    _port_options(p)
    p.add_argument("--workers", type=int, default=1)

    p = add("workers", cmd_workers, "run only the print workers (systemd unit comptoir-workers)")
    p.add_argument("--emulated-printer", action="store_true",
                   help="add the emulated printer when no printer is configured")
    p.add_argument("--port", type=int, default=config.DEFAULT_PORT,
                   help="the setup page's port, printed on the welcome receipt")

    add("setup-code", cmd_setup_code, "show the one-time code that claims this box on its setup page")
    p = add("admin", cmd_admin, "the owner's account")
    asub = p.add_subparsers(dest="action", required=True)
    reset = asub.add_parser("reset-password", help="set a new password for the setup page (physical access "
                                                   "is ownership)")
    reset.add_argument("--stdin", action="store_true", help="read the password from standard input")
    code = asub.add_parser("login-code", help="a one-time code that opens the setup page for 15 minutes, "
                                              "whatever the password or a lock-out")
    code.add_argument("--print", action="store_true", help="print it on the receipt printer too")

    p = add("network", cmd_network, "run only the box's network presence: mDNS announcement, back office "
                                    "forwarding, printer searches, virtual network printers (systemd unit "
                                    "comptoir-network)")
    p.add_argument("--port", type=int, default=config.DEFAULT_PORT, help="the API's port, announced over mDNS")
    p.add_argument("--host", default="0.0.0.0", help="where virtual network printers listen")
    _adopt_option(p)
    p.add_argument("--manage-wifi", action="store_true",
                   help="open the box's own Wi-Fi access point when it has no network (NetworkManager; the SD image)")

    p = add("pair", cmd_pair, "print a one-time PIN for pairing a tablet")
    p.add_argument("--name", help="the tablet's name (it may also send one)")
    p.add_argument("--role", default="staff", choices=devices.ROLES)

    p = add("devices", cmd_devices, "list or revoke paired tablets")
    dsub = p.add_subparsers(dest="action", required=True)
    dsub.add_parser("list")
    dsub.add_parser("revoke").add_argument("device", help="device id (or its start) or name")
    sr = dsub.add_parser("set-receipt", help="give a tablet its own receipt printer")
    sr.add_argument("device")
    sr.add_argument("printer", help="printer name, or 'none'")

    p = add("printers", cmd_printers, "add, list, remove and test printers")
    psub = p.add_subparsers(dest="action", required=True)
    pa = psub.add_parser("add", help="add a printer")
    pa.add_argument("name")
    pa.add_argument("--uri", required=True, help="the printer's address: HOST or HOST:PORT for a network printer, "
                                                 "or a URI (tcp://, bt://, usb://, file://)")
    pa.add_argument("--roles", default="", help="comma-separated, e.g. kitchen,bar")
    pa.add_argument("--width", type=int, default=80, choices=(58, 80), help="paper width in mm")
    pa.add_argument("--profile", default="default", help="python-escpos printer profile (see 'profiles')")
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
    where.add_argument("--off", action="store_true", help="stop exposing it")
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

    p = add("shop", cmd_shop, "shop-wide settings: parked receipts' visibility, default tickets")
    ssub = p.add_subparsers(dest="action", required=True)
    ssub.add_parser("name", help="the shop's name (tablets see it when they find the box)").add_argument("name")
    ssub.add_parser("visibility", help="who sees parked receipts").add_argument("mode", choices=("all", "own", "role"))
    st = ssub.add_parser("tables", help="named default tickets on every tablet: Table 1..N and others")
    st.add_argument("--count", type=int, default=0, help="Table 1 to Table COUNT")
    st.add_argument("extra", nargs="*", help='more names, e.g. "Terrasse 3"')

    p = add("errorlog", cmd_errorlog, "keep lines read from stdin in a size-bounded file (the box's errors.log)")
    p.add_argument("file")
    p.add_argument("--max-bytes", type=int, default=1024 * 1024)

    p = add("settings", cmd_settings, "the box's settings for web apps")
    osub = p.add_subparsers(dest="what", required=True)
    po = osub.add_parser("origins", help="web origins whose pages may call the API from a browser (CORS); "
                                         "with none given, list them")
    po.add_argument("origin", nargs="*", help="e.g. https://pos.example.com (replaces the list)")
    po.add_argument("--none", action="store_true", help="allow no origin")
    osub.add_parser("show", help="every setting of the shop, with what it is for")
    ps = osub.add_parser("set", help="change one setting (the page's Settings change the same ones)")
    ps.add_argument("name", help="see 'appliance settings show'")
    ps.add_argument("value", help="on/off for a yes-or-no setting")

    p = add("backoffice", cmd_backoffice, "the cloud back office: link the box to it, its status; or run "
                                          "the reference back office")
    bsub = p.add_subparsers(dest="action", required=True)
    bl = bsub.add_parser("link", help="send records to this back office")
    bl.add_argument("url")
    bl.add_argument("--token", required=True)
    bsub.add_parser("status", help="backlog, last success, dead letters")
    dl = bsub.add_parser("dead-letters", help="records the back office rejected: list, send again or drop")
    choice = dl.add_mutually_exclusive_group()
    choice.add_argument("--retry", action="store_true", help="send them again (after the back office was fixed)")
    choice.add_argument("--drop", action="store_true", help="drop them for good")
    bs = bsub.add_parser("serve", help="run the reference back office")
    bs.add_argument("--host", default="127.0.0.1")
    bs.add_argument("--port", type=int, default=8090)
    bs.add_argument("--token", default="demo-token")
    bs.add_argument("--data", default="backoffice.jsonl", help="its records and catalogue (JSON lines)")

    p = add("simulate", cmd_simulate, "a lunch rush against the running box, then a convergence check")
    p.add_argument("--tablets", type=int, default=5)
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--url", default=f"http://127.0.0.1:{config.DEFAULT_PORT}")

    p = add("jobs", cmd_jobs, "show, cancel or retry a print job; list failed ones")
    jsub = p.add_subparsers(dest="action", required=True)
    jsub.add_parser("show").add_argument("job_id")
    jsub.add_parser("cancel").add_argument("job_id")
    jsub.add_parser("retry", help="queue a failed job again").add_argument("job_id")
    jsub.add_parser("failed", help="list failed jobs")
    p = add("update", cmd_update, "apply a signed update (a bundle file); without one, say which version runs")
    p.add_argument("file", nargs="?", help="the update bundle (.tar)")
    p.add_argument("--no-wait", action="store_true", help="hand it over and return; do not follow it")
    p.add_argument("--timeout", type=float, default=900, help="how long to follow it (s)")
    p.add_argument("--apply", action="store_true",
                   help="install a received bundle and judge it (comptoir-update.service runs this as root)")
    # How --apply acts on the box: systemd, /healthz on port 80, two minutes (tests run their own box).
    p.add_argument("--trial-seconds", type=float, help=argparse.SUPPRESS)
    p.add_argument("--health-url", help=argparse.SUPPRESS)
    p.add_argument("--restart-command", help=argparse.SUPPRESS)

    p = add("release", cmd_release, "make the signing key of updates, or sign a bundle")
    rsub = p.add_subparsers(dest="action", required=True)
    rsub.add_parser("keygen", help="a new Ed25519 key; its public half (.pub) goes on the card").add_argument("key")
    rp = rsub.add_parser("pack", help="sign a directory of wheels (the appliance and its dependencies)")
    rp.add_argument("wheels")
    rp.add_argument("--key", required=True)
    rp.add_argument("-o", "--out", required=True)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = config.load(args.data_dir)
    try:
        args.handler(args, settings)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
