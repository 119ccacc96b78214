"""Signed updates: refused unless signed and whole; installed beside the running version,
switched to, kept when the box is healthy after the trial, given up by themselves when not,
and judged after a power cut in the middle. The box runs through the SD image's own launcher
(image/rootfs/usr/local/bin/appliance), from the version the update switched to."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.system.update import apply, bundle, versions
from tests import bundles
from tests.box import ROOT, Box, child_env, wait_for
from tests.fakeprinter import FakePrinter

LAUNCHER = ROOT / "image" / "rootfs" / "usr" / "local" / "bin" / "appliance"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("release")
    key = work / "keys" / "comptoir.pem"
    subprocess.run([sys.executable, "-m", "appliance", "release", "keygen", str(key)], check=True, capture_output=True)
    deps = bundles.dependencies(work / "deps")
    return {"keys": key.parent, "key": key, "deps": deps, "work": work,
            "good": bundles.bundle("9.0.0", deps, key, work),
            "broken": bundles.bundle("9.0.1", deps, key, work, crash_at_start=True)}


@pytest.fixture
def box(tmp_path: Path, release: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Box]:
    """A box started as the card starts it: through the launcher, the card's own version being
    this clone's environment."""
    monkeypatch.setenv("APPLIANCE_UPDATE_KEYS", str(release["keys"]))
    b = Box(tmp_path / "box")
    b.program = [str(LAUNCHER)]
    b.cwd = tmp_path  # not the clone: `python -m appliance` there would import the clone's code
    b.env = {"APPLIANCE_DATA_DIR": str(b.data_dir), "COMPTOIR_FACTORY": sys.prefix,
             "APPLIANCE_UPDATE_KEYS": str(release["keys"])}
    b.start()
    yield b
    b.stop()


def cli(box: Box, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", "--data-dir", str(box.data_dir), "update", *args],
                          env={**child_env(), **box.env}, capture_output=True, text=True, timeout=600)


def version(box: Box) -> str:
    return box.client().request("GET", "/healthz")[1]["version"]


def test_only_a_whole_bundle_signed_by_the_box_key_is_taken(box: Box, release: dict[str, Path],
                                                          tmp_path: Path) -> None:
    _, forged = bundles.appliance_only("9.0.2", tmp_path, "another-key")
    # A wheel changed after signing: the same manifest and signature, another file.
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(release["good"]) as source, tarfile.open(tampered, "w") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.startswith("wheels/comptoir_appliance"):
                data += b"\0"
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    text = tmp_path / "notes.txt"
    text.write_text("not an update")
    for path, said in ((forged, bundle.NOT_SIGNED), (tampered, bundle.TAMPERED), (text, bundle.NOT_A_BUNDLE)):
        done = cli(box, str(path), "--no-wait")
        assert done.returncode == 2 and said in done.stderr, (path, done.stderr)
    assert not (box.data_dir / "versions" / "incoming.tar").exists()
    assert version(box) == "0.1.0"


def test_an_update_is_kept_when_healthy_even_across_a_power_cut_and_a_broken_one_goes_back(
        box: Box, release: dict[str, Path], tmp_path: Path) -> None:
    printer = FakePrinter()
    box.add_printer("caisse", printer.uri, ("receipt",))
    tablet = box.client()
    paths = versions.Paths.of(box.settings)

    def restart() -> None:  # what systemctl restart does to the box's services
        box.stop()
        box.start(wait=False)

    done = cli(box, str(release["good"]), "--no-wait")
    assert done.returncode == 0, done.stderr
    assert "9.0.0" in done.stdout and paths.incoming.exists()
    # comptoir-update.service installs and switches, then the power is cut while it waits.
    applying = subprocess.Popen([sys.executable, "-m", "appliance", "--data-dir", str(box.data_dir), "update",
                                 "--apply", "--trial-seconds", "600", "--restart-command", "true",
                                 "--health-url", box.url + "/healthz"], env={**child_env(), **box.env},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # The switch: the trial written, then the bundle let go (a cut between the two installs it
    # again at the next boot, to the same place).
    wait_for(lambda: paths.trial.exists() and not paths.incoming.exists(), 300, "the switch")
    applying.send_signal(signal.SIGKILL)
    applying.wait()
    assert os.readlink(paths.current).startswith("9.0.0-") and not paths.incoming.exists()
    restart()  # the next boot starts the new version, and the update service judges it
    wait_for(box.healthy, 60, "the box on the new version")
    assert version(box) == "9.0.0"
    state = apply.apply(box.settings, apply.Box(restart=restart, health_url=box.url + "/healthz", trial_seconds=3))
    assert state["result"] == "kept" and state["current"].startswith("9.0.0-") and state["previous"] is None
    tablet.print(printer="caisse", document={"lines": [{"text": "Bigos"}]})
    wait_for(lambda: any("Bigos" in t for t in printer.texts()), 30, "the receipt printed by the new version")

    # A release that dies at start: given up by itself, the version before back in service.
    assert cli(box, str(release["broken"]), "--no-wait").returncode == 0
    state = apply.apply(box.settings, apply.Box(restart=restart, health_url=box.url + "/healthz", trial_seconds=3))
    assert state["result"] == "rolled back" and state["version"] == "9.0.1", state
    assert "not healthy" in state["reason"]
    assert state["current"].startswith("9.0.0-")
    wait_for(box.healthy, 60, "the box back on 9.0.0")
    assert version(box) == "9.0.0"
    assert not list(paths.root.glob("9.0.1-*"))  # the broken one is not kept
    said = cli(box)
    assert "rolled back" in said.stdout and "9.0.0-" in said.stdout, said.stdout
    printer.stop()


def test_the_wheel_holds_every_module_of_the_clone(tmp_path: Path) -> None:
    """What the card and every update install is a wheel: a package left out of it (a new
    folder not listed in pyproject.toml) would pass every test run from the clone and break
    the box."""
    import zipfile

    wheel = bundles.appliance_wheel("0.0.1", tmp_path, tmp_path / "out")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".py")}
    source = {str(path.relative_to(ROOT)) for path in (ROOT / "appliance").rglob("*.py")
              if "__pycache__" not in path.parts}
    assert source - shipped == set()
