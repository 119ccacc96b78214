"""Signed updates: applying one to the box, and the release side (the signing key, a bundle)."""

from __future__ import annotations

import argparse

from appliance import config
from appliance.cli.common import Add


def cmd_update(args: argparse.Namespace, settings: config.Settings) -> None:
    import shlex
    import subprocess

    from appliance.system.update import apply, receive, versions

    if args.apply:  # comptoir-update.service, as root, from the card's own version
        restart = shlex.split(args.restart_command) if args.restart_command else apply.RESTART
        box = apply.Box(restart=lambda: subprocess.run(restart, check=True),
                         health_url=args.health_url or apply.HEALTH_URL,
                         trial_seconds=apply.TRIAL_SECONDS if args.trial_seconds is None else args.trial_seconds)
        state = apply.apply(settings, box)
        print(_update_said(state))
        raise SystemExit(0 if state.get("result") in (None, "kept") else 1)
    if args.file is None:
        print(_update_said(versions.state(settings)))
        return
    with open(args.file, "rb") as f:
        manifest = receive.receive(settings, f)
    print(f"update {manifest.version} checked: the box installs it, restarts, and keeps it if it is "
          f"healthy {apply.TRIAL_SECONDS:.0f} s later")
    if args.no_wait:
        return
    state = receive.wait(settings, args.timeout, lambda s: print(_update_said(s), flush=True))
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

    from appliance.system.update import bundle

    if args.action == "keygen":
        print(f"public key (image/build puts it on the card): {bundle.keygen(Path(args.key))}")
    else:
        manifest = bundle.pack(Path(args.wheels), Path(args.key), Path(args.out))
        print(f"{args.out}: update {manifest.version}, {len(manifest.wheels)} wheels, signed")


def register(add: Add) -> None:
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
