"""The ``appliance`` command: run the box, pair tablets, manage printers.

One module per command group (``run``, ``owner``, ``tablets``, ``printers``, ``shop``,
``updates``), each calling the same service functions as the API and the setup page.
Management commands work whether or not the box is running on the same data dir: they talk
to its Redis, or start a private one for the moment they need it. Each command imports what
it needs when it runs, so `appliance serve`, which only watches the other processes, stays
a small process.
"""

from __future__ import annotations

import argparse
import logging
import sys

from appliance import config
from appliance.cli import owner, printers, run, shop, tablets, updates
from appliance.cli.common import Handler
from appliance.errors import ServiceError

GROUPS = (run, owner, tablets, printers, shop, updates)
# Cards made before the background process had its name run it as `appliance network` (their
# systemd units are on the read-only root, which a software update does not change).
RENAMED = {"network": "background"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appliance", description="Comptoir, the print-and-sync box.")
    parser.add_argument("--data-dir", help="state directory (default: $APPLIANCE_DATA_DIR or ~/.local/share/comptoir)")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
        return p

    for group in GROUPS:
        group.register(add)
    return parser


def _renamed(argv: list[str]) -> list[str]:
    at = 2 if argv[:1] == ["--data-dir"] else 0
    if len(argv) > at and argv[at] in RENAMED:
        return [*argv[:at], RENAMED[argv[at]], *argv[at + 1:]]
    return argv


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(_renamed(list(sys.argv[1:] if argv is None else argv)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = config.load(args.data_dir)
    try:
        args.handler(args, settings)
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
