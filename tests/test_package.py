"""The wheel the SD image installs holds every module and the setup page's files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.box import ROOT


def test_the_wheel_ships_every_module_and_the_setup_page(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "appliance").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    webui = {"appliance/webui/" + str(p.relative_to(ROOT / "webui")) for p in (ROOT / "webui").rglob("*")
             if p.is_file() and p.name != "README.md"}
    assert webui <= names, sorted(webui - names)
