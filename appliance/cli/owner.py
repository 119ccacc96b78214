"""The owner's commands: the setup code that claims the box, a new password, a login code."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from appliance import config
from appliance.cli.common import Add, box_redis

if TYPE_CHECKING:
    import redis


def cmd_setup_code(args: argparse.Namespace, settings: config.Settings) -> None:
    from appliance.access import owner

    with box_redis(settings) as r:
        code = owner.setup_code(r)
    if code is None:
        print("this box is set up already: log in on its setup page (forgot the password? "
              "appliance admin login-code --print)")
    else:
        print(f"setup code: {code}")


def cmd_admin(args: argparse.Namespace, settings: config.Settings) -> None:
    import getpass

    from appliance.access import owner

    if args.action == "login-code":
        with box_redis(settings) as r:
            code = owner.new_login_code(r)
            print(f"login code: {code} (once, within {owner.LOGIN_CODE_SECONDS // 60} minutes)")
            if args.print:
                _print_login_code(r, code)
        return
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("new password: ")
    with box_redis(settings) as r:
        owner.set_password(r, password)
    print("the owner's password is changed; every login to the setup page has ended")


def _print_login_code(r: redis.Redis, code: str) -> None:
    """The code on the receipt printer, for an owner at the counter with no screen at hand."""
    from appliance.access import owner
    from appliance.printing import jobs
    from appliance.sync import shop

    minutes = owner.LOGIN_CODE_SECONDS // 60
    document = {"lines": [{"text": shop.name(r), "align": "center", "bold": True},
                          {"text": "Code de connexion / Login code", "align": "center"},
                          {"text": code, "align": "center", "size": "double"},
                          {"text": f"{minutes} min, une fois / once", "align": "center"}]}
    job = jobs.print_document(r, document, role="receipt")
    print(f"printed on {job['printer']}")


def register(add: Add) -> None:
    add("setup-code", cmd_setup_code, "show the one-time code that claims this box on its setup page")
    p = add("admin", cmd_admin, "the owner's account")
    asub = p.add_subparsers(dest="action", required=True)
    reset = asub.add_parser("reset-password", help="set a new password for the setup page (physical access "
                                                   "is ownership)")
    reset.add_argument("--stdin", action="store_true", help="read the password from standard input")
    code = asub.add_parser("login-code", help="a one-time code that opens the setup page for 15 minutes, "
                                              "whatever the password or a lock-out")
    code.add_argument("--print", action="store_true", help="print it on the receipt printer too")
