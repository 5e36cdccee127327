"""Boot the appliance images under qemu and watch the sensor come online and poll switches.

For each image: ``image/build`` builds it from this checkout (the Debian base tree is cached
under image/cache); a copy is provisioned exactly as an administrator provisions one, through
edge-sensor/ on its FAT boot partition (sensor.toml with a hub and three switches at 10.0.2.2,
which qemu's user networking maps to the test's loopback, their secrets under credentials/ and
their host keys in known_hosts; no sensor id); qemu boots it (TCG, user networking, serial
console to a file). A Mosquitto must then receive the retained ``online`` on
edge-sensor/v1/boot-test/<id>/status, with the id the first boot made from the machine id, and a
successful switches/<name> message for each switch: snmpd over SNMPv3 (SHA-256/AES-256), a
NETCONF server and a Cisco-like SSH CLI, all polled by the hardened unit.

Hub, switches and qemu run in an empty network namespace (tests/support/netns.py): the guest's
DNS and NTP, which qemu would forward to this machine's resolver and beyond, find no route.

  vm  x86-64: the whole disk through OVMF (UEFI) and systemd-boot.
  pi  arm64: the Raspberry Pi image's root under ``qemu-system-aarch64 -M virt`` with the
      kernel and initrd taken from its firmware partition (qemu cannot emulate a Pi 4 board).

Which images: EDGE_IMAGE_TEST = "vm" (default), "vm,pi" (`make image-test`), or "off".
EDGE_IMAGE_PREBUILT=1 boots image/out's image without building it first.
EDGE_QEMU_ACCEL = tcg (default) or kvm. EDGE_BOOT_TIMEOUT (seconds, default 600 for vm, 1200 for pi).
EDGE_KEEP_CONSOLE=DIR keeps the serial console log there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.fake_ios import IOS, FakeIOS
from tests.cli.fake_ios import corpus_outputs as ios_outputs
from tests.netconf.server import NetconfServer
from tests.netconf.server import example_state as netconf_state
from tests.snmp import agents
from tests.support.mosquitto import Mosquitto
from tests.support.netns import isolated_network
from tests.support.subscriber import Subscriber

# Building from scratch and booting under TCG takes minutes, not the suite's default limit.
pytestmark = pytest.mark.timeout(5400)

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "image" / "build"
OUT = REPO / "image" / "out"
SITE = "boot-test"
CREDS = "/run/credentials/edge-sensor.service"
WANTED = [t.strip() for t in os.environ.get("EDGE_IMAGE_TEST", "vm").split(",") if t.strip()]

TOOLS = {
    "vm": ["debootstrap", "qemu-system-x86_64", "mkfs.vfat", "mcopy", "sfdisk", "zstd"],
    "pi": ["debootstrap", "qemu-system-aarch64", "qemu-aarch64-static", "mkfs.vfat", "mcopy", "sfdisk", "zstd"],
}
FIRMWARE = {"vm": ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd",
                   "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"], "pi": []}


def _skip_reason(target: str) -> str | None:
    if "off" in WANTED or target not in WANTED:
        return f"EDGE_IMAGE_TEST={','.join(WANTED)} does not include {target} (`make image-test` boots both)"
    if os.geteuid() != 0:
        return "building an image needs root (debootstrap, chroot)"
    missing = [t for t in TOOLS[target] if shutil.which(t) is None] + [f for f in FIRMWARE[target] if not Path(f).exists()]
    if missing:
        return f"missing {', '.join(missing)}: install the packages in image/README.md"
    return None


def _log_tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no console log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _partitions(disk: Path) -> list[dict[str, int]]:
    out = subprocess.run(["sfdisk", "-J", str(disk)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["partitiontable"]["partitions"]  # type: ignore[no-any-return]


def _seed(disk: Path, files: dict[str, str], tmp: Path) -> None:
    """Provision the copy as an administrator would: files in edge-sensor/ on the FAT boot partition."""
    img = f"{disk}@@{_partitions(disk)[0]['start'] * 512}"
    if any(name.startswith("credentials/") for name in files):
        subprocess.run(["mmd", "-i", img, "::/edge-sensor/credentials"], check=True, capture_output=True)
    for name, text in files.items():
        src = tmp / "seed" / name
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text(text)
        subprocess.run(["mcopy", "-o", "-i", img, str(src), f"::/edge-sensor/{name}"], check=True, capture_output=True)


# Only in the test's copy: the journal goes to the serial console too, so a failure shows why.
DIAGNOSTICS = "systemd.journald.forward_to_console=1"


def _vm_diagnostics(disk: Path, tmp: Path) -> None:
    offset = _partitions(disk)[0]["start"] * 512
    entry = tmp / "entry.conf"
    img = f"{disk}@@{offset}"
    subprocess.run(["mcopy", "-n", "-i", img, "::/loader/entries/edge-sensor.conf", str(entry)],
                   check=True, capture_output=True)
    text = re.sub(r"^(options .*)$", rf"\1 {DIAGNOSTICS}", entry.read_text(), flags=re.M)
    entry.write_text(text)
    subprocess.run(["mcopy", "-o", "-i", img, str(entry), "::/loader/entries/edge-sensor.conf"],
                   check=True, capture_output=True)


def _extract(disk: Path, name_glob: str, dest: Path) -> Path:
    offset = _partitions(disk)[0]["start"] * 512
    listing = subprocess.run(["mdir", "-b", "-i", f"{disk}@@{offset}", "::/"],
                             capture_output=True, text=True, check=True).stdout
    names = sorted(Path(line.strip()).name for line in listing.splitlines()
                   if re.fullmatch(name_glob, Path(line.strip()).name))
    assert names, f"no {name_glob} on the boot partition: {listing}"
    subprocess.run(["mcopy", "-n", "-i", f"{disk}@@{offset}", f"::/{names[-1]}", str(dest)],
                   check=True, capture_output=True)
    return dest


def _qemu_command(target: str, disk: Path, tmp: Path, console: Path) -> list[str]:
    accel = os.environ.get("EDGE_QEMU_ACCEL", "tcg")
    common = [
        "-m", "1024", "-smp", "2", "-accel", accel,
        "-drive", f"file={disk},format=raw,if=virtio,cache=unsafe",
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
        "-nographic", "-monitor", "none", "-serial", f"file:{console}",
        "-no-reboot",
    ]
    if target == "vm":
        _vm_diagnostics(disk, tmp)
        vars_ = tmp / "OVMF_VARS.fd"
        shutil.copy("/usr/share/OVMF/OVMF_VARS_4M.fd", vars_)
        return ["qemu-system-x86_64", "-machine", "q35",
                "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_}", *common]
    kernel = _extract(disk, r"vmlinuz-.*", tmp / "vmlinuz")
    initrd = _extract(disk, r"initrd\.img-.*", tmp / "initrd.img")
    return ["qemu-system-aarch64", "-M", "virt", "-cpu", "max" if accel == "tcg" else "host",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"root=LABEL=edge-root rw rootwait console=ttyAMA0 systemd.firstboot=no {DIAGNOSTICS}",
            *common]


@contextlib.contextmanager
def _switches(tmp: Path) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    """Switches for the booted sensor to poll, on this namespace's loopback (10.0.2.2 to the guest).

    One a management protocol, each with a secret handed over as a systemd credential: net-snmp's
    snmpd over SNMPv3 (SHA-256, AES-256), a Cisco-like SSH server (paramiko, answering with corpus
    recordings; left out when ../shared is absent) and a NETCONF server. So the hardened unit
    (MemoryDenyWriteExecute, SystemCallFilter, no capabilities) is shown to run the crypto of all
    three. Yields the config's [[switch]] tables, the seed files and the switch names.
    """
    guest = "10.0.2.2"
    with contextlib.ExitStack() as stack:
        snmp_port = stack.enter_context(agents.snmpd(tmp / "snmpd"))
        cfg = f"""
[[switch]]
name = "snmp-sw"
host = "{guest}"
methods = ["snmp"]
interval = "1m"
deadline = "60s"
[switch.snmp]
port = {snmp_port}
version = "3"
user = "usha256"
auth_protocol = "sha256"
auth_key_file = "{CREDS}/secret_snmp-auth"
priv_protocol = "aes256"
priv_key_file = "{CREDS}/secret_snmp-priv"
timeout = "10s"
"""
        files = {"credentials/snmp-auth": agents.AUTH_KEY + "\n", "credentials/snmp-priv": agents.PRIV_KEY + "\n"}
        names = ["snmp-sw"]
        known_hosts = []
        nc = stack.enter_context(NetconfServer("openconfig", netconf_state, tmp / "netconf"))
        known_hosts.append(f"[{guest}]:{nc.port} {nc.host_key.get_name()} {nc.host_key.get_base64()}")
        files["credentials/netconf-key"] = nc.key_file.read_text()
        cfg += f"""
[[switch]]
name = "nc-sw"
host = "{guest}"
methods = ["netconf"]
interval = "1m"
deadline = "90s"
[switch.netconf]
username = "sensor"
port = {nc.port}
key_file = "{CREDS}/secret_netconf-key"
host_key_file = "/etc/edge-sensor/known_hosts"
timeout = "30s"
"""
        names.append("nc-sw")
        if IOS.is_dir():
            ios = stack.enter_context(FakeIOS(ios_outputs()))
            known_hosts.append(f"[{guest}]:{ios.port} {ios.host_key.get_name()} {ios.host_key.get_base64()}")
            files["credentials/cli-password"] = "pw\n"
            files["credentials/cli-enable"] = "en\n"
            cfg += f"""
[[switch]]
name = "cli-sw"
host = "{guest}"
methods = ["cli"]
interval = "1m"
deadline = "90s"
[switch.cli]
platform = "cisco_ios"
username = "sensor"
port = {ios.port}
password_file = "{CREDS}/secret_cli-password"
enable_password_file = "{CREDS}/secret_cli-enable"
host_key_file = "/etc/edge-sensor/known_hosts"
timeout = "30s"
"""
            names.append("cli-sw")
        else:
            print(f"\nCLI corpus not found at {IOS} (../shared absent): the booted sensor polls no SSH CLI switch")
        files["known_hosts"] = "\n".join(known_hosts) + "\n"
        yield cfg, files, names


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Path, float]]:
    return {}


@pytest.mark.parametrize("target", ["vm", "pi"])
def test_image_boots_and_sensor_goes_online(target: str, tmp_path: Path, built: dict[str, tuple[Path, float]]) -> None:
    reason = _skip_reason(target)
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    image = OUT / f"edge-sensor-{target}.img"
    if os.environ.get("EDGE_IMAGE_PREBUILT") and image.exists():
        pass  # boot what image/build made before (e.g. just now, in the same make target)
    else:
        r = subprocess.run([str(BUILD), target, "--out", str(OUT)], capture_output=True, text=True, timeout=3600)
        assert r.returncode == 0, f"image/build {target} failed:\n{r.stderr[-4000:]}"
    build_s = time.monotonic() - t0

    disk = tmp_path / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(image), str(disk)], check=True)
    console = tmp_path / "console.log"
    timeout = float(os.environ.get("EDGE_BOOT_TIMEOUT", 600 if target == "vm" else 1200))
    # Hub, switches and qemu in a namespace of their own: qemu's user networking would otherwise
    # forward the guest's DNS and NTP queries to this machine's resolver and beyond.
    with isolated_network(), _switches(tmp_path) as (switch_cfg, files, names):
        broker = Mosquitto(tmp_path / "broker")
        broker.start()
        hub = Subscriber(broker.port, f"edge-sensor/v1/{SITE}/#")
        files["sensor.toml"] = (
            "# dropped on the boot partition by tests/appliance/test_boot.py\n"
            f'[sensor]\nsite = "{SITE}"\nhealth_interval = "30s"\n\n'
            f'[mqtt]\nhost = "10.0.2.2"\nport = {broker.port}\n' + switch_cfg)
        _seed(disk, files, tmp_path)
        cmd = _qemu_command(target, disk, tmp_path, console)
        t1 = time.monotonic()
        qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            def online() -> bool:
                return any(e.get("data", {}).get("state") == "online" for e in hub.envelopes("/status"))

            def polled() -> dict[str, dict[str, Any]]:
                return {e["data"]["switch"]: e["data"] for e in hub.envelopes() if e.get("kind") == "switch"}

            def why() -> str:
                return (f"(qemu exit {qemu.poll()}: "
                        f"{qemu.stderr.read().decode(errors='replace') if qemu.poll() is not None and qemu.stderr else ''})\n"
                        f"console ({console}):\n{_log_tail(console)}\nbroker:\n{broker.log()[-2000:]}")

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not online() and qemu.poll() is None:
                time.sleep(1)
            boot_s = time.monotonic() - t1
            assert online(), f"{target}: no 'online' status within {boot_s:.0f}s {why()}"
            env = next(e for e in hub.envelopes("/status") if e["data"]["state"] == "online")
            assert env["site"] == SITE
            assert re.fullmatch(r"sensor-[0-9a-f]{8}", env["sensor"]), env  # set by the first boot

            # Every switch polled by the hardened service, each over its protocol.
            while time.monotonic() < deadline and qemu.poll() is None and \
                    not all(polled().get(n, {}).get("ok") for n in names):
                time.sleep(1)
            poll_s = time.monotonic() - t1 - boot_s
            got = polled()
            bad = {n: (got.get(n) or {}).get("last_error", "no switches/ message") for n in names
                   if not (got.get(n) or {}).get("ok")}
            assert not bad, f"{target}: switches not polled by the booted sensor: {bad} {why()}"
            assert got["snmp-sw"]["method"] == "snmp" and got["snmp-sw"]["varbinds"] > 0, got["snmp-sw"]
            assert got["nc-sw"]["method"] == "netconf" and got["nc-sw"]["table_rows"]["fdb"] > 0, got["nc-sw"]
            if "cli-sw" in got:
                assert got["cli-sw"]["method"] == "cli" and got["cli-sw"]["table_rows"]["fdb"] > 0, got["cli-sw"]
            line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {target}: image/build {build_s:.0f}s, "
                    f"boot to online {boot_s:.0f}s, {len(names)} switches polled {poll_s:.0f}s later "
                    f"({os.environ.get('EDGE_QEMU_ACCEL', 'tcg')})")
            print("\n" + line)
            with (OUT / "boot-times.log").open("a") as f:
                f.write(line + "\n")
        finally:
            qemu.terminate()
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
            hub.close()
            broker.stop()
            if os.environ.get("EDGE_KEEP_CONSOLE"):
                shutil.copy(console, Path(os.environ["EDGE_KEEP_CONSOLE"]) / f"console-{target}.log")
