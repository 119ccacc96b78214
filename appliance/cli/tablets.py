"""Tablets: a pairing PIN, the paired tablets, revoking one, its own receipt printer."""

from __future__ import annotations

import argparse
import sys
import time

from appliance import config
from appliance.access import devices
from appliance.cli.common import Add, box_redis, print_table


def cmd_pair(args: argparse.Namespace, settings: config.Settings) -> None:
    with box_redis(settings) as r:
        code = devices.new_pin(r, args.name, args.role)
        locked = devices.pairing_locked(r)
    minutes = devices.PIN_TTL // 60
    print(f"PIN: {code}  (valid {minutes} minutes, once{'; role ' + args.role if args.role != 'staff' else ''})")
    print(f'On the tablet: POST /api/v1/pair {{"pin": "{code}", "name": "..."}}')
    if locked:
        print(f"warning: pairing is locked for {locked} s: someone on the network tried "
              f"{devices.FAILURES_ALL} wrong PINs in a minute; the PIN works once the lock ends", file=sys.stderr)


def cmd_devices(args: argparse.Namespace, settings: config.Settings) -> None:
    with box_redis(settings) as r:
        if args.action == "list":
            rows = [{**d, "paired_at": time.strftime("%Y-%m-%d %H:%M", time.localtime(d["paired_at"]))}
                    for d in devices.list_all(r)]
            print_table(rows, ["device_id", "name", "role", "receipt_printer", "paired_at"])
        elif args.action == "revoke":
            device = devices.find(r, args.device)
            devices.revoke(r, device["device_id"])
            print(f"revoked {device['name']} ({device['device_id']}): its token no longer works")
        elif args.action == "set-receipt":
            device = devices.find(r, args.device)
            devices.set_receipt_printer(r, device["device_id"], None if args.printer == "none" else args.printer)
            print(f"{device['name']}: receipts go to {args.printer}")


def register(add: Add) -> None:
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
