"""The units the SD image installs are valid systemd units (checked by systemd itself)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.runtime.redis_server import find_binary

UNITS = Path(__file__).resolve().parent.parent / "systemd"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_verify(tmp_path: Path) -> None:
    # verify checks that each ExecStart binary exists: point them at this machine's.
    appliance = Path(sys.executable).parent / "appliance"
    for unit in UNITS.glob("*.service"):
        text = unit.read_text().replace("/opt/comptoir/venv/bin/appliance", str(appliance))
        text = text.replace("/usr/bin/redis-server", find_binary())
        (tmp_path / unit.name).write_text(text)
    shutil.copy(UNITS / "comptoir.target", tmp_path)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                            capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output  # verify is silent about good units


def test_services_restart_and_notify() -> None:
    for name in ("comptoir-redis", "comptoir-web", "comptoir-workers", "comptoir-network"):
        text = (UNITS / f"{name}.service").read_text()
        assert "Restart=always" in text and "Type=notify" in text, name
    assert "WatchdogSec=" in (UNITS / "comptoir-workers.service").read_text()
    conf = (UNITS / "redis.conf").read_text()
    assert "appendonly yes" in conf and "appendfsync always" in conf
