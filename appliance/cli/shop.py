"""The shop's settings and its back office."""

from __future__ import annotations

import argparse
import json
import sys

from appliance import config
from appliance.cli.common import Add, box_redis


def cmd_settings(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance import settings as owner_settings
    from appliance.access import origins

    with box_redis(settings) as r:
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
            origins.replace(r, [] if args.none else args.origin)
        listed = origins.listed(r)
        print("web apps allowed to call the API: " + (", ".join(listed) if listed else "none"))


def cmd_shop(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.sync import shop

    with box_redis(settings) as r:
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

    with box_redis(settings) as r:
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


def register(add: Add) -> None:
    p = add("shop", cmd_shop, "shop-wide settings: parked receipts' visibility, default tickets")
    ssub = p.add_subparsers(dest="action", required=True)
    ssub.add_parser("name", help="the shop's name (tablets see it when they find the box)").add_argument("name")
    ssub.add_parser("visibility", help="who sees parked receipts").add_argument("mode", choices=("all", "own", "role"))
    st = ssub.add_parser("tables", help="named default tickets on every tablet: Table 1..N and others")
    st.add_argument("--count", type=int, default=0, help="Table 1 to Table COUNT")
    st.add_argument("extra", nargs="*", help='more names, e.g. "Terrasse 3"')
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
