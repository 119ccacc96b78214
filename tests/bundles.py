"""Update bundles for tests, made the way a release is: the appliance built as a wheel at a
version of the test's choosing, beside its dependencies' wheels, signed with a key of the test's
own (``appliance release keygen`` / ``pack``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.box import ROOT


def dependencies(out: Path) -> Path:
    """Every dependency of the appliance as a wheel (pip's cache makes it quick after the first time)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                    "--wheel-dir", str(out), str(ROOT)], check=True)
    for own in out.glob("comptoir_appliance-*.whl"):
        own.unlink()
    return out


def appliance_wheel(version: str, work: Path, out: Path, crash_at_start: bool = False) -> Path:
    """The appliance of this clone, as version ``version``; ``crash_at_start``: a release whose
    every command dies at once (the kind of update the box must give up by itself)."""
    src = work / f"src-{version}"
    for part in ("appliance", "webui"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    shutil.copy(ROOT / "README.md", src)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (src / "pyproject.toml").write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject, count=1))
    if crash_at_start:
        cli = src / "appliance" / "cli" / "__init__.py"
        cli.write_text(cli.read_text().replace("def main(argv: list[str] | None = None) -> None:\n",
                                               "def main(argv: list[str] | None = None) -> None:\n"
                                               "    raise SystemExit('this release is broken')\n"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "--wheel-dir", str(out), str(src)], check=True, capture_output=True)
    return next(out.glob(f"comptoir_appliance-{version}-*.whl"))


def bundle(version: str, deps: Path, key: Path, work: Path, crash_at_start: bool = False) -> Path:
    wheels = work / f"wheels-{version}"
    shutil.copytree(deps, wheels)
    appliance_wheel(version, work, wheels, crash_at_start)
    out = work / f"comptoir-update-{version}.tar"
    subprocess.run([sys.executable, "-m", "appliance", "release", "pack", str(wheels), "--key", str(key),
                    "-o", str(out)], check=True, capture_output=True)
    return out


def appliance_only(version: str, work: Path, key_name: str = "key") -> tuple[Path, Path]:
    """A new signing key and a bundle of the appliance's wheel alone, signed with it: enough to
    be checked, not to be installed. Returns (the key, the bundle)."""
    from appliance.system.update import bundle

    key = work / key_name / "comptoir.pem"
    bundle.keygen(key)
    wheels = work / f"alone-{version}"
    appliance_wheel(version, work, wheels)
    out = work / f"comptoir-update-{version}-alone.tar"
    bundle.pack(wheels, key, out)
    return key, out
