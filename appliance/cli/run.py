"""Running the box: the whole of it (``serve``), or one of its processes as systemd runs them
(``web``, ``workers``, ``background``); the error log's keeper; a simulated lunch rush."""

from __future__ import annotations

import argparse
import sys

from appliance import config
from appliance.cli.common import Add, box_redis
from appliance.runtime import redis_server
from appliance.store import client


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
    return config.Ports(args.port, args.https_port, args.epos_port, args.epos_https_port, args.qz_port,
                        args.qz_secure_port)


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
    _qz_options(p)


def _qz_options(p: argparse.ArgumentParser) -> None:
    defaults = config.Ports()
    p.add_argument("--qz-port", type=int, default=defaults.qz, help="QZ-compatible web POS, ws:// (0: off)")
    p.add_argument("--qz-secure-port", type=int, default=defaults.qz_secure,
                   help="QZ-compatible web POS, wss:// with the box's CA (0: off)")


def cmd_workers(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.printing import pool

    redis_server.wait_until_up(settings, 30)
    if args.emulated_printer:
        from appliance.onboarding import emulated, receipts

        with box_redis(settings) as r:
            emulated.ensure(settings, r, receipts.setup_addresses(args.port))
    pool.run(settings)


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


def cmd_background(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.runtime import background

    redis_server.wait_until_up(settings, 30)
    background.run(settings, args.host, args.port, adopt_first_printer=args.adopt_first_printer,
                   manage_wifi=args.manage_wifi, qz_ports=(args.qz_secure_port, args.qz_port))


def cmd_simulate(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.tools import simulate

    if not redis_server.is_up(settings):
        raise SystemExit("start the box first (appliance serve), on the same data dir")
    ok = simulate.run(client.connect(settings), args.url, args.tablets, args.minutes)
    raise SystemExit(0 if ok else 1)


def register(add: Add) -> None:
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
    p = add("background", cmd_background, "run only the box's background services: mDNS announcement, back "
                                          "office forwarding, printer searches, virtual network printers "
                                          "(systemd unit comptoir-background)")
    p.add_argument("--port", type=int, default=config.DEFAULT_PORT, help="the API's port, announced over mDNS")
    p.add_argument("--host", default="0.0.0.0", help="where virtual network printers listen")
    _qz_options(p)
    _adopt_option(p)
    p.add_argument("--manage-wifi", action="store_true",
                   help="open the box's own Wi-Fi access point when it has no network (NetworkManager; the SD image)")
    p = add("errorlog", cmd_errorlog, "keep lines read from stdin in a size-bounded file (the box's errors.log)")
    p.add_argument("file")
    p.add_argument("--max-bytes", type=int, default=1024 * 1024)
    p = add("simulate", cmd_simulate, "a lunch rush against the running box, then a convergence check")
    p.add_argument("--tablets", type=int, default=5)
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--url", default=f"http://127.0.0.1:{config.DEFAULT_PORT}")
