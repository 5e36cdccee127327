"""Boot the appliance images under qemu and watch the sensor come online on a hub on this host.

For each image: ``image/build`` builds it from this checkout (the Debian base tree is cached
under image/cache), a copy gets a configuration dropped on its FAT boot partition (exactly
as an administrator provisions one: edge-sensor/sensor.toml, hub at 10.0.2.2, which qemu's
user networking maps to this host's loopback, and no sensor id), qemu boots it (TCG, user
networking, serial console to a file), and a Mosquitto on 127.0.0.1 must receive the retained
``online`` on edge-sensor/v1/boot-test/<id>/status, with the id the first boot made from the
machine id.

  vm  x86-64: the whole disk through OVMF (UEFI) and systemd-boot.
  pi  arm64: the Raspberry Pi image's root under ``qemu-system-aarch64 -M virt`` with the
      kernel and initrd taken from its firmware partition (qemu cannot emulate a Pi 4 board).

Which images: EDGE_IMAGE_TEST = "vm" (default), "vm,pi" (`make image-test`), or "off".
EDGE_IMAGE_PREBUILT=1 boots image/out's image without building it first.
EDGE_QEMU_ACCEL = tcg (default) or kvm. EDGE_BOOT_TIMEOUT (seconds, default 600 for vm, 1200 for pi).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto
from tests.support.subscriber import Subscriber

# Building from scratch and booting under TCG takes minutes, not the suite's default limit.
pytestmark = pytest.mark.timeout(5400)

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "image" / "build"
OUT = REPO / "image" / "out"
SITE = "boot-test"
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


def _seed(disk: Path, port: int, tmp: Path) -> None:
    """Provision the copy as an administrator would: a config on the FAT boot partition."""
    cfg = tmp / "seed.toml"
    cfg.write_text(
        "# dropped on the boot partition by tests/appliance/test_boot.py\n"
        f'[sensor]\nsite = "{SITE}"\nhealth_interval = "30s"\n\n'
        f'[mqtt]\nhost = "10.0.2.2"\nport = {port}\n'
    )
    offset = _partitions(disk)[0]["start"] * 512
    subprocess.run(["mcopy", "-o", "-i", f"{disk}@@{offset}", str(cfg), "::/edge-sensor/sensor.toml"],
                   check=True, capture_output=True)


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
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    hub = Subscriber(broker.port, f"edge-sensor/v1/{SITE}/+/status")
    console = tmp_path / "console.log"
    _seed(disk, broker.port, tmp_path)
    cmd = _qemu_command(target, disk, tmp_path, console)
    timeout = float(os.environ.get("EDGE_BOOT_TIMEOUT", 600 if target == "vm" else 1200))
    t1 = time.monotonic()
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def online() -> bool:
            return any(e.get("data", {}).get("state") == "online" for e in hub.envelopes("/status"))

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not online():
            if qemu.poll() is not None:
                break
            time.sleep(1)
        boot_s = time.monotonic() - t1
        assert online(), (
            f"{target}: no 'online' status within {boot_s:.0f}s (qemu exit {qemu.poll()}: "
            f"{qemu.stderr.read().decode(errors='replace') if qemu.poll() is not None and qemu.stderr else ''})\n"
            f"console ({console}):\n{_log_tail(console)}\nbroker:\n{broker.log()[-2000:]}"
        )
        env = next(e for e in hub.envelopes("/status") if e["data"]["state"] == "online")
        assert env["site"] == SITE
        assert re.fullmatch(r"sensor-[0-9a-f]{8}", env["sensor"]), env  # set by the first boot
        line = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} {target}: image/build {build_s:.0f}s, "
                f"boot to online {boot_s:.0f}s ({os.environ.get('EDGE_QEMU_ACCEL', 'tcg')})")
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
