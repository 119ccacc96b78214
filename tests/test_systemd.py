"""The units the SD image installs are valid systemd units (checked by systemd itself), and
hardened: `systemd-analyze security` rates every one "OK" or better."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.runtime.redis_server import find_binary

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"
ANALYZE = shutil.which("systemd-analyze")


def installed(tmp_path: Path) -> Path:
    """The units as image/build lays them out (with the hardening drop-in), their programs
    pointed at this machine's so that verify finds them."""
    system = tmp_path / "etc" / "systemd" / "system"
    system.mkdir(parents=True)
    appliance = Path(sys.executable).parent / "appliance"
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/comptoir/venv/bin/appliance", str(appliance))
        text = text.replace("/usr/local/bin/appliance", str(ROOT / "image/rootfs/usr/local/bin/appliance"))
        text = text.replace("/usr/bin/redis-server", find_binary())
        text = text.replace("/usr/lib/comptoir/firstboot", str(ROOT / "image/rootfs/usr/lib/comptoir/firstboot"))
        (system / unit.name).write_text(text)
        if "\nUser=comptoir\n" in text:
            (system / f"{unit.name}.d").mkdir()
            shutil.copy(UNITS / "hardening.conf", system / f"{unit.name}.d" / "hardening.conf")
    shutil.copy(UNITS / "comptoir.target", system)
    shutil.copy(UNITS / "comptoir-update.path", system)
    return tmp_path


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_units_verify(tmp_path: Path) -> None:
    system = installed(tmp_path) / "etc" / "systemd" / "system"
    units = sorted(str(p) for p in system.glob("comptoir*") if p.is_file())
    result = subprocess.run([ANALYZE, "verify", "--man=no", *units], capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output  # verify is silent about good units


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_every_unit_is_rated_ok_or_better(tmp_path: Path) -> None:
    root = installed(tmp_path)
    levels = {}
    for unit in sorted(UNITS.glob("*.service")):
        run = subprocess.run([ANALYZE, "security", "--offline=yes", f"--root={root}", unit.name],
                             capture_output=True, text=True)
        found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", run.stdout)
        assert found, run.stdout + run.stderr
        levels[unit.name] = (float(found[1]), found[2])
    print("exposure:", ", ".join(f"{name} {score} {level}" for name, (score, level) in levels.items()))
    assert all(level in ("SAFE", "OK") for _, level in levels.values()), levels


def test_services_restart_and_notify() -> None:
    for name in ("comptoir-redis", "comptoir-web", "comptoir-workers", "comptoir-background"):
        text = (UNITS / f"{name}.service").read_text()
        assert "Restart=always" in text and "Type=notify" in text, name
    assert "WatchdogSec=" in (UNITS / "comptoir-workers.service").read_text()
    conf = (UNITS / "redis.conf").read_text()
    assert "appendonly yes" in conf and "appendfsync always" in conf
