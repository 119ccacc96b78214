"""The SD card image, for real: built by image/build, checked without mounting anything, and
booted twice under qemu-system-aarch64 (-M virt, the image's own kernel and initrd; the
Raspberry Pi's firmware is not emulated, so config.txt and the Pi's boot path are only
checked to be there). First boot: its name, the setup code on the console, the welcome
receipt; a job printed through the API; the USB printer given its own address on the
network (NetworkManager, qemu's DHCP server) and printed to there as an app would; 20 jobs
queued for an unreachable printer; qemu killed without warning. Second boot: every job and
the Redis state are still there; a clean power-off; e2fsck -n finds both ext4 filesystems clean.

Slow (about 25 minutes cold, most of it the cached base; see image/README.md), so it runs
where the tools are: root, mmdebstrap, genimage, mtools, debugfs, qemu-user with binfmt,
qemu-system-aarch64 (.ci/run installs them). COMPTOIR_IMAGE=path/to.img.xz tests an image
already built."""

from __future__ import annotations

import contextlib
import json
import lzma
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from appliance.tools.client import Client
from tests.box import ROOT, free_port, wait_for

TOOLS = ("mmdebstrap", "genimage", "mcopy", "mdir", "debugfs", "e2fsck", "qemu-system-aarch64", "sfdisk")
MISSING = [tool for tool in TOOLS if shutil.which(tool) is None]
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
# Time limits: the image test's, added to the host suite's 20 minutes (the base is built beside
# it), stay under CI's 90. Measured here (a 2-core VM, no KVM): a boot under software emulation,
# first boot included, 100-200 s on a quiet machine, over 480 s with a test suite beside it; the
# three boots with the Wi-Fi and the update, 15 min; the image on a cached base, 4-8 min.
BOOT_TIMEOUT = 540  # seconds: a whole arm64 boot under software emulation, first boot included
# Two virtual Wi-Fi radios (the Pi's firmware and radio are not emulated): wlan0 is the box's,
# wlan1 plays the shop's Wi-Fi "Boulangerie" in the third boot (a keyfile put on the card).
WIFI = "modules-load=mac80211_hwsim mac80211_hwsim.radios=2"
SHOP_WIFI = """[connection]
id=shop
type=wifi
interface-name=wlan1
autoconnect=true

[wifi]
mode=ap
ssid=Boulangerie
band=bg

[wifi-security]
key-mgmt=wpa-psk
psk=croissant42
proto=rsn
pairwise=ccmp
group=ccmp

[ipv4]
method=shared
address1=10.77.0.1/24

[ipv6]
method=disabled
"""
OWN_ADDRESS = "10.0.2.16"  # what qemu's DHCP server gives the second MAC address it sees
BUILD_TIMEOUT = 1500  # the image, and the rest of its base when CI started it cold (16-24 minutes in all)
UPDATE_TIMEOUT = 900  # an update under software emulation: 4-8 min with the restarts, then its 2 min trial
BOOTS_TIMEOUT = 3 * BOOT_TIMEOUT + UPDATE_TIMEOUT + 300  # the three boots, the update, what lies between

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the image build needs root"),
    pytest.mark.skipif(bool(MISSING), reason=f"the image test needs {', '.join(MISSING)}"),
    pytest.mark.skipif(not BINFMT.exists(), reason="qemu-user is not registered with binfmt_misc"),
]


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # bytes
    size: int
    kind: str


def partitions(disk: Path) -> list[Partition]:
    table = json.loads(subprocess.run(["sfdisk", "--json", str(disk)], check=True, capture_output=True,
                                      text=True).stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    return [Partition(i + 1, p["start"] * sector, p["size"] * sector, p["type"])
            for i, p in enumerate(table["partitions"])]


def extract(disk: Path, part: Partition, target: Path) -> Path:
    with disk.open("rb") as source, target.open("wb") as out:
        source.seek(part.start)
        left = part.size
        while left:
            chunk = source.read(min(left, 8 << 20))
            out.write(chunk)
            left -= len(chunk)
    return target


def write_back(disk: Path, part: Partition, fs: Path) -> None:
    """A partition changed by debugfs, put back in its place on the card."""
    with fs.open("rb") as source, disk.open("r+b") as out:
        out.seek(part.start)
        shutil.copyfileobj(source, out, 8 << 20)


def debugfs(fs: Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(fs)], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("COMPTOIR_IMAGE")
    if given:
        return Path(given)
    building = os.environ.get("COMPTOIR_IMAGE_BUILD")  # .ci/run builds it while the host tests run
    if building:
        where = Path(building)
        wait_for(lambda: (where / "done").exists() or (where / "failed").exists(), BUILD_TIMEOUT,
                 "the image that .ci/run builds beside the other tests")
        assert (where / "done").exists(), (where / "log").read_text()[-4000:]
        print((where / "log").read_text().strip().splitlines()[-1])
        return Path((where / "path").read_text().strip().splitlines()[-1])
    out = tmp_path_factory.mktemp("image")
    run = subprocess.run([str(ROOT / "image" / "build"), str(out)], capture_output=True, text=True,
                         env={**os.environ, "PYTHON": sys.executable})  # signs the update bundle: cryptography
    assert run.returncode == 0, run.stderr[-4000:]
    print(run.stderr.strip().splitlines()[-1])  # "built ... (size) in N s"
    return Path(run.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def disk(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image as a card bigger than the image, so first boot has room to grow into."""
    digest = (built.parent / f"{built.name}.sha256").read_text().split()[0]
    assert subprocess.run(["sha256sum", str(built)], capture_output=True, text=True).stdout.split()[0] == digest
    target = tmp_path_factory.mktemp("card") / "card.img"
    with lzma.open(built) as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 8 << 20)
    with target.open("r+b") as card:
        card.truncate(target.stat().st_size + (256 << 20))
    return target


USB_PRINTER_UNIT = """[Unit]
Description=A USB receipt printer on the dummy USB controller (the image test's; never shipped)
Before=comptoir-background.service comptoir-workers.service

[Service]
ExecStart=/opt/comptoir/venv/bin/python /etc/comptoir-test/usb_printer.py
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""


def plant_usb_printer(disk: Path, work: Path) -> None:
    """tests/usb_printer.py and its unit, enabled, put on the card's root before its first
    boot: a USB printer plugged into the box from the start."""
    root = partitions(disk)[1]
    fs = extract(disk, root, work / "root-with-usb.ext4")
    unit = work / "comptoir-test-usb-printer.service"
    unit.write_text(USB_PRINTER_UNIT)
    model = ROOT / "tests" / "usb_printer.py"
    for request in ("mkdir /etc/comptoir-test", f"write {model} /etc/comptoir-test/usb_printer.py",
                    f"write {unit} /etc/systemd/system/{unit.name}",
                    f"symlink /etc/systemd/system/multi-user.target.wants/{unit.name} /etc/systemd/system/{unit.name}"):
        done = subprocess.run(["debugfs", "-w", "-R", request, str(fs)], capture_output=True, text=True)
        assert done.returncode == 0 and "rror" not in done.stderr, (request, done.stderr)
    write_back(disk, root, fs)


class UsbPrinter:
    """The USB printer inside the booted card (tests/usb_printer.py), through its forwarded port."""

    def __init__(self, url: str) -> None:
        self.url = url

    def state(self) -> dict | None:
        try:
            return requests.get(self.url, timeout=10).json()
        except requests.RequestException:
            return None

    def receipts(self) -> list[str]:
        return (self.state() or {}).get("receipts", [])

    def cable(self, plugged: bool) -> None:
        assert requests.post(f"{self.url}/{'plug' if plugged else 'unplug'}", timeout=30).json()["plugged"] is plugged

    def journal(self) -> str:
        try:
            return requests.get(f"{self.url}/journal", timeout=30).json()
        except requests.RequestException as exc:
            return f"no journal: {exc}"


class Machine:
    """One boot of the card under qemu-system-aarch64, its HTTP port forwarded to loopback (and
    the USB printer's control port, when the card has one)."""

    def __init__(self, disk: Path, kernel: Path, initrd: Path, work: Path, name: str, append: str = "") -> None:
        self.port = free_port()
        usb_port = free_port()
        # A printer's own address on the shop's network: qemu's DHCP server leases a second
        # MAC address the next address of its network, 10.0.2.16; its port 9100, forwarded.
        self.own_address_port = free_port()
        self.usb = UsbPrinter(f"http://127.0.0.1:{usb_port}")
        self.console = work / f"{name}-console.log"
        self.monitor = work / f"{name}-monitor.sock"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([
            "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a53", "-smp", "2", "-m", "1024",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"root=LABEL=comptoir-root ro rootwait console=ttyAMA0 systemd.show_status=auto {WIFI} {append}",
            "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe",
            "-netdev", f"user,id=lan,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:80,"  # nothing leaves
                       f"hostfwd=tcp:127.0.0.1:{usb_port}-:9999,"
                       f"hostfwd=tcp:127.0.0.1:{self.own_address_port}-{OWN_ADDRESS}:9100",
            # romfile= : no network boot ROM (the kernel is loaded directly), so qemu needs no
            # ipxe-qemu, which a --no-install-recommends install leaves out.
            "-device", "virtio-net-pci,netdev=lan,mac=52:54:00:12:3f:a2,romfile=",
            "-device", "i6300esb",  # a hardware watchdog for RuntimeWatchdogSec
            "-display", "none", "-serial", f"file:{self.console}",
            "-monitor", f"unix:{self.monitor},server,nowait",
        ])

    def log(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def healthy(self) -> dict | None:
        if self.process.poll() is not None:
            raise AssertionError(f"qemu ended; console:\n{self.log()[-3000:]}")
        try:
            answer = requests.get(f"{self.url}/healthz", timeout=5)
        except requests.RequestException:
            return None
        self.last_health = answer.text
        return answer.json() if answer.status_code == 200 else None

    def wait_healthy(self, timeout: float, what: str) -> dict:
        """/healthz's answer once it is 200; else a failure that says what it last answered and
        what the console showed."""
        try:
            return wait_for(self.healthy, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; /healthz said {getattr(self, 'last_health', 'nothing')}; "
                                 f"console:\n{self.log()[-4000:]}") from None

    def kill(self) -> None:
        self.process.kill()  # the power cord, pulled
        self.process.wait(30)

    def power_off(self) -> None:
        """The power button (virt's GPIO power key: systemd-logind powers off cleanly)."""
        self.monitor_command("system_powerdown")
        self.process.wait(300)

    def cable(self, plugged: bool) -> None:
        """The network cable, unplugged or plugged back (the NIC's link, as the box sees it)."""
        self.monitor_command(f"set_link lan {'on' if plugged else 'off'}")

    def monitor_command(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX) as monitor:
            monitor.connect(str(self.monitor))
            monitor.settimeout(30)
            self._until_prompt(monitor)  # the monitor takes commands once it has said hello
            monitor.sendall(command.encode() + b"\n")
            self._until_prompt(monitor)

    @staticmethod
    def _until_prompt(monitor: socket.socket) -> None:
        said = b""
        while not said.endswith(b"(qemu) "):
            chunk = monitor.recv(4096)
            if not chunk:
                raise AssertionError(f"qemu's monitor closed: {said!r}")
            said += chunk


@pytest.fixture(scope="module")
def boot_files(disk: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("boot")
    image = f"{disk}@@{partitions(disk)[0].start}"
    listing = subprocess.run(["mdir", "-b", "-i", image, "::/"], capture_output=True, text=True).stdout.split()
    found = []
    for prefix in ("::/vmlinuz-", "::/initrd.img-"):  # the image's own kernel and initrd
        [name] = [n for n in listing if n.startswith(prefix)]
        subprocess.run(["mcopy", "-n", "-i", image, name, str(work / name[3:])], check=True)
        found.append(work / name[3:])
    return found[0], found[1]


@pytest.mark.timeout(BUILD_TIMEOUT)  # the first test builds the image (and, cold, its base)
def test_the_card_is_laid_out_as_a_raspberry_pi_card(disk: Path, tmp_path: Path) -> None:
    firmware, root, data = partitions(disk)
    assert firmware.kind == "c" and root.kind == "83" and data.kind == "83"
    listing = subprocess.run(["mdir", "-b", "-i", f"{disk}@@{firmware.start}", "::/"], capture_output=True,
                             text=True).stdout
    for name in ("config.txt", "cmdline.txt", "start4.elf", "bootcode.bin", "bcm2711-rpi-4-b.dtb",
                 "bcm2837-rpi-3-b.dtb", "bcm2837-rpi-zero-2-w.dtb"):  # Pi 4, Pi 3, Zero 2 W
        assert f"::/{name}" in listing, name
    assert "::/vmlinuz-" in listing and "::/initrd.img-" in listing
    cmdline = subprocess.run(["mtype", "-i", f"{disk}@@{firmware.start}", "::cmdline.txt"], capture_output=True,
                             text=True).stdout
    assert "root=LABEL=comptoir-root" in cmdline and " ro " in cmdline
    fs = extract(disk, root, tmp_path / "root.ext4")
    assert "appliance" in debugfs(fs, "ls /opt/comptoir/venv/bin")
    assert debugfs(fs, "cat /etc/machine-id").strip() == ""  # made at first boot, never shipped
    assert "ssh_host" not in debugfs(fs, "ls /etc/ssh")
    assert "comptoir-web.service" in debugfs(fs, "ls /etc/systemd/system")
    assert "LABEL=comptoir-root" in debugfs(fs, "cat /etc/fstab")


@pytest.mark.timeout(BOOTS_TIMEOUT)
def test_first_boot_a_job_a_power_cut_and_everything_survives(disk: Path, boot_files: tuple[Path, Path],
                                                               built: Path, tmp_path: Path) -> None:
    plant_usb_printer(disk, tmp_path)  # an Epson TM-T20II on the box's USB port, from the start
    first = Machine(disk, *boot_files, tmp_path, "first")
    usb = first.usb
    try:
        health = first.wait_healthy(BOOT_TIMEOUT, "the first boot's /healthz")
        host = health["host"]
        assert re.fullmatch(r"comptoir-[0-9a-f]{4}", host) and host.endswith("3fa2")  # from the MAC address
        code = wait_for(lambda: re.search(r"setup code: (\S+)", first.log()), 120, "the setup code on the console")[1]
        # The new box found the USB printer by its class and printed its welcome receipt on it.
        try:
            wait_for(lambda: any(code in text for text in usb.receipts()), 300, "the welcome receipt on USB paper")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the printer: {usb.state()}; the journal:\n{usb.journal()}") from None
        owner = requests.Session()
        csrf = re.search(r'name="csrf" value="([^"]+)"', owner.get(f"{first.url}/setup", timeout=30).text)[1]
        claimed = owner.post(f"{first.url}/setup", timeout=60, data={
            "csrf": csrf, "code": code, "shop_name": "Chez Zofia", "language": "fr", "password": "sel et poivre"})
        assert claimed.status_code == 200 and "Chez Zofia" in claimed.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', claimed.text)[1]  # a new session, a new token
        page = owner.post(f"{first.url}/tablets", timeout=30, data={"csrf": csrf, "name": "Caisse 1",
                                                                       "role": "manager"}).text
        pin = re.search(r'class="pin"[^>]*>\s*(\d+)', page)[1]
        tablet = Client(first.url, timeout=60)
        tablet.pair(pin, name="Caisse 1")
        [adopted] = [p for p in tablet.printers() if p["uri"] == "usb://04b8:0e15"]
        assert adopted["name"] == "tm-t20ii" and "receipt" in adopted["roles"], adopted
        job = tablet.print(role="receipt", document={"lines": [{"text": "Bigos", "size": "double"}]})
        assert tablet.wait_job(job["id"], timeout=120)["status"] == "printed"
        assert "Bigos" in usb.receipts()[-1]  # on the USB printer's paper, confirmed from there
        # The cable pulled mid-receipt (the gadget unbound), a receipt sent meanwhile, the cable
        # back: the cut one prints again whole, marked REPRINT, then the next; nothing lost.
        long_one = tablet.print(role="receipt", document={"lines": [{"text": f"Barszcz {n}"} for n in range(120)]})
        before = usb.state()["received"]
        wait_for(lambda: usb.state()["received"] > before + 600, 60, "the long receipt on its way")
        usb.cable(False)
        assert tablet.job(long_one["id"])["status"] != "printed"
        after_it = tablet.print(role="receipt", document={"lines": [{"text": "Pierogi ruskie"}]})
        wait_for(lambda: tablet.job(long_one["id"])["reprint"], 60, "the cut receipt back in the queue, to reprint")
        usb.cable(True)
        for each in (long_one, after_it):
            assert tablet.wait_job(each["id"], timeout=180)["status"] == "printed"
        paper = usb.receipts()  # printed means on paper: all there already
        heads = [(text.strip().splitlines()[:2], text.count("\n")) for text in paper]
        reprinted = [n for n, text in enumerate(paper) if "REPRINT" in text and "Barszcz 119" in text]
        assert reprinted and all(f"Barszcz {n}\n" in paper[reprinted[-1]] for n in range(120)), heads
        assert "Pierogi ruskie" in paper[reprinted[-1] + 1] and len(paper) == reprinted[-1] + 2, heads
        # Its own address on the shop's network, through NetworkManager on the card (a macvlan
        # connection with the printer's own MAC, leased by the shop's DHCP server: qemu's here):
        # an app that knows only "the printer's IP" prints on it at that address's port 9100.
        exposed = owner.post(f"{first.url}/printers/expose", timeout=60,
                             data={"csrf": csrf, "printer": "tm-t20ii", "port": "", "own_address": "on"})
        assert exposed.status_code == 200

        def own_address() -> dict:
            [shown] = [p for p in tablet.printers() if p["name"] == "tm-t20ii"]
            return shown["own_address_state"] or {}

        try:
            wait_for(lambda: own_address().get("address") == OWN_ADDRESS, 180, "the printer's own address")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {own_address()}; the journal:\n{usb.journal()}") from None
        # qemu takes the connection at once whether or not the box listens there yet (it opens
        # 9100 within a second of the lease): sent again only while no job came of it.
        def from_the_app() -> list[dict]:
            return [j for j in tablet.history(limit=5)["jobs"] if j["device_id"] == "port:tm-t20ii"]

        for _ in range(3):
            with socket.create_connection(("127.0.0.1", first.own_address_port), timeout=60) as app:
                app.sendall(b"\x1b@Kasza gryczana\n\x1dV\x00")
            with contextlib.suppress(AssertionError):
                wait_for(from_the_app, 20, "the app's receipt queued")
                break
        try:
            wait_for(lambda: any("Kasza gryczana" in text for text in usb.receipts()), 120, "the receipt on paper")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the last jobs: {tablet.history(limit=3)}; the journal:\n{usb.journal()}") \
                from None
        assert len(from_the_app()) == 1
        added = owner.post(f"{first.url}/printers", timeout=30, data={
            "csrf": csrf, "name": "kuchnia", "uri": "tcp://10.0.2.99:9100", "width": "80", "roles": "kitchen",
            "failover_after": "3600"})
        assert added.status_code == 200
        # For that printer by name: by role, they would go to the USB printer, which holds the
        # role too and is ready.
        queued = [tablet.print(printer="kuchnia", job_id=str(uuid.uuid4()), document={"lines": [{"text": f"Zupa {n}"}]})
                  for n in range(20)]
        assert all(j["status"] == "queued" for j in queued)
    finally:
        first.kill()

    second = Machine(disk, *boot_files, tmp_path, "second")
    try:
        assert second.wait_healthy(BOOT_TIMEOUT, "the second boot's /healthz")["host"] == host
        tablet = Client(second.url, token=tablet.token, timeout=60)  # the pairing survived
        after = [tablet.job(j["id"]) for j in queued]
        assert [j["status"] for j in after] == ["queued"] * 20 and {j["printer"] for j in after} == {"kuchnia"}
        assert tablet.job(job["id"])["status"] == "printed"
        assert "setup code" not in second.log()  # claimed: the console no longer says it
        # A signed update from the setup page (the build's own bundle): installed by
        # comptoir-update.service into the data partition, switched to, judged healthy, kept.
        bundle = next(built.parent.glob("comptoir-update-*.tar"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', owner.get(f"{second.url}/settings", timeout=30).text)[1]
        with bundle.open("rb") as f:
            sent = owner.post(f"{second.url}/settings/update", params={"csrf": csrf}, files={"bundle": f},
                              timeout=300)
        assert sent.status_code == 200 and "en cours" in sent.text, sent.text[-2000:]

        def judged() -> re.Match | None:
            try:  # the services restart on the way: no answer for a while
                return re.search(r"installée|non gardée", owner.get(f"{second.url}/settings", timeout=30).text)
            except requests.RequestException:
                return None

        try:
            kept = wait_for(judged, UPDATE_TIMEOUT, "the update to be judged")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the journal:\n{second.usb.journal()}") from None
        assert kept[0] == "installée", owner.get(f"{second.url}/settings", timeout=30).text[-3000:]
        assert tablet.wait_job(tablet.print(role="receipt", document={"lines": [{"text": "Pierogi"}]})["id"],
                               timeout=120)["status"] == "printed"
    finally:
        second.power_off()
    _, root, data = partitions(disk)
    for part, name in ((root, "root"), (data, "data")):
        fs = extract(disk, part, tmp_path / f"{name}.ext4")
        check = subprocess.run(["e2fsck", "-n", "-f", str(fs)], capture_output=True, text=True)
        assert check.returncode == 0, f"{name}: {check.stdout}{check.stderr}"
    data_fs = tmp_path / "data.ext4"
    assert "appendonly" in debugfs(data_fs, "ls /redis") or "appendonlydir" in debugfs(data_fs, "ls /redis")
    receipts = [n for n in debugfs(data_fs, "ls /receipts").split() if n.endswith(".txt")]
    welcome = debugfs(data_fs, f"cat /receipts/{sorted(receipts)[0]}")
    assert code in welcome  # the welcome receipt, with the setup code and the box's own Wi-Fi
    ap_password = re.search(r"Password: ([a-z2-9]{10})", welcome)[1]
    root_fs = tmp_path / "root.ext4"
    assert re.fullmatch(r"[0-9a-f]{32}", debugfs(root_fs, "cat /etc/machine-id").strip())
    assert debugfs(root_fs, "cat /etc/hostname").strip() == host
    assert "ssh_host_ed25519_key" in debugfs(root_fs, "ls /etc/ssh")

    # The shop's Wi-Fi "Boulangerie": the second virtual radio (wlan1) as its access point, from a
    # NetworkManager keyfile put on the powered-off card's data partition. Not before the first
    # boot: the units' StateDirectory= hands the data partition's files to the comptoir user
    # then, and NetworkManager takes only keyfiles root owns.
    keyfile = tmp_path / "shop.nmconnection"
    keyfile.write_text(SHOP_WIFI)
    keyfile.chmod(0o600)
    for request in (f"write {keyfile} /network/shop.nmconnection", "sif /network/shop.nmconnection mode 0100600"):
        subprocess.run(["debugfs", "-w", "-R", request, str(data_fs)], check=True, capture_output=True)
    write_back(disk, data, data_fs)
    third = Machine(disk, *boot_files, tmp_path, "third")
    try:
        third.wait_healthy(BOOT_TIMEOUT, "the third boot's /healthz")
        csrf = re.search(r'name="csrf" value="([^"]+)"', owner.get(f"{third.url}/login", timeout=30).text)[1]
        owner.post(f"{third.url}/login", data={"csrf": csrf, "password": "sel et poivre"}, timeout=30)
        # The cable pulled: with no network at all, the box opens its own access point (and says
        # so on its console); the cable back, it closes it.
        third.cable(False)
        wait_for(lambda: re.search(r"Comptoir-3fa2 opened", third.log()), 300, "the box's own access point")
        third.cable(True)
        wait_for(lambda: re.search(r"Comptoir-3fa2 closed", third.log()), 120, "the access point closed")
        third.wait_healthy(120, "the box back on its cable")
        owner.close()  # its kept-alive connection did not survive the cable (qemu's forwarding forgot it)
        network = owner.get(f"{third.url}/network", timeout=60).text
        assert "point d'accès ouvert" in network and "point d'accès fermé" in network, network[-3000:]
        assert f"<strong>{ap_password}</strong>" in network  # the password of the welcome receipt
        # The shop's Wi-Fi, joined from the page: a wrong password said so, then the right one.
        csrf = re.search(r'name="csrf" value="([^"]+)"', network)[1]
        wrong = owner.post(f"{third.url}/network", timeout=120,
                           data={"csrf": csrf, "ssid": "Boulangerie", "password": "baguette00"})
        assert wrong.status_code == 422 and "vérifiez le mot de passe" in wrong.text
        joined = owner.post(f"{third.url}/network", timeout=120,
                            data={"csrf": csrf, "ssid": "Boulangerie", "password": "croissant42"})
        assert joined.status_code == 200 and "Le boîtier a rejoint Boulangerie" in joined.text, joined.text[-3000:]
        assert "10.77.0." in joined.text  # its address on the shop's Wi-Fi, handed out by the shop's router
    finally:
        third.power_off()
