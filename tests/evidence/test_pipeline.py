"""The register and the advisories in the running sensor: enriched device records, the retained
``register`` message, both valid against the shipped schemas."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from collectors.facts import LldpNeighbor, Snapshot
from sensor.commands import inventory
from sensor.config import load_config
from sensor.correlate.model import DeviceRecord
from sensor.evidence.model import RegisterSummary
from sensor.publish.outbox import read_retained
from sensor.sources import SourceContext
from sensor.supervisor import Supervisor
from tests.conftest import SHARED
from tests.correlate.factory import IPS, MON, PUMP, SW1_PORTS, WS, dist, sw1
from tests.support.schemas import validate_message

ADVISORIES = SHARED / "corpus" / "advisories"


def _sw1_with_lldp_med(t: float) -> Snapshot:
    s = sw1(t)
    med = LldpNeighbor(switch="sw1", ifindex=SW1_PORTS["ge2"], chassis_id=MON, port_id="eth0",
                       med_class="endpoint-1", med_manufacturer="Philips", med_model="MX40",
                       med_firmware="B.06.12")
    return msgspec.structs.replace(s, lldp=(*s.lldp, med))


class Snapshots:
    name = "lab-snapshots"
    interval = 3600.0
    deadline = 10.0
    continuous = False

    def __init__(self) -> None:
        # Now, not a fixed time: "not seen for 7 days" is measured against the stage's clock.
        self.t = time.time()

    async def cycle(self, ctx: SourceContext) -> None:
        await ctx.snapshot(dist(self.t))
        await ctx.snapshot(_sw1_with_lldp_med(self.t + 1))


def _register(tmp_path: Path) -> Path:
    p = tmp_path / "register.csv"
    p.write_text("Asset Tag,Manufacturer,Model,MAC Address,IP Address,Department,Location,Owner,High Risk,"
                 "Patchable,End of Support\n"
                 f"P-1,Baxter,Sigma Spectrum 35700BAX,,{IPS[PUMP]},ICU,ICU 3,Biomed A,yes,no,2027-06-30\n"
                 f"M-1,Philips,IntelliVue MX40,{MON.upper()},,ICU,ICU 3,Biomed B,yes,no,\n"
                 "X-1,GE Healthcare,CARESCAPE B450,00:00:5e:00:53:99,,ED,ED 1,Biomed B,yes,no,\n"
                 "bad row with no columns\n", encoding="utf-8")
    return p


async def _run(write_config: Callable[..., Path], body: str) -> tuple[Path, dict[str, DeviceRecord]]:
    path = write_config(body)
    cfg = load_config(path)
    assert await Supervisor(cfg, sources=[Snapshots()]).run(once=True) == 0
    records = {d["mac"]: msgspec.convert(d, DeviceRecord, strict=False)
               for d in inventory.load_devices(cfg.sensor.state_dir)}
    return Path(cfg.sensor.state_dir), records


async def test_register_fields_and_retained_register_message(write_config: Callable[..., Path],
                                                             tmp_path: Path) -> None:
    state, records = await _run(write_config, f'[register]\nfile = "{_register(tmp_path)}"\nunseen_after = "7d"\n')
    pump, mon, ws = records[PUMP], records[MON], records[WS]
    assert pump.register is not None and mon.register is not None and ws.register is None
    assert (pump.register.asset_tag, pump.register.basis, pump.register.owner) == ("P-1", "ip", "Biomed A")
    assert (mon.register.asset_tag, mon.register.basis, mon.register.high_risk) == ("M-1", "mac", True)
    assert str(pump.register.end_of_support) == "2027-06-30" and pump.register.patchable is False
    retained = dict(read_retained(str(state), "register"))
    assert set(retained) == {"register"}
    env = validate_message("edge-sensor/v1/lab/test/register", retained["register"])
    assert env is not None
    s = msgspec.convert(env["data"], RegisterSummary, strict=False)
    assert (s.rows, s.rows_rejected, s.matched, s.unseen, s.shadows) == (3, 1, 2, 1, 0)
    assert s.unseen_assets[0].asset_tag == "X-1" and s.unseen_assets[0].high_risk is True
    for _topic, payload in read_retained(str(state), "devices/"):
        validate_message("edge-sensor/v1/lab/test/devices/x", payload)


async def test_unregistered_medical_devices_are_shadows(write_config: Callable[..., Path], tmp_path: Path) -> None:
    reg = tmp_path / "only-pump.csv"
    reg.write_text(f"asset_tag,mac\nP-1,{PUMP}\n", encoding="utf-8")
    state, _ = await _run(write_config, f'[register]\nfile = "{reg}"\n')
    data = json.loads(dict(read_retained(str(state), "register"))["register"])["data"]
    assert [d["mac"] for d in data["shadow_devices"]] == [MON]
    assert data["shadow_devices"][0]["device_class"] == "patient_monitor"


@pytest.mark.skipif(not ADVISORIES.is_dir(), reason=f"advisory corpus not found at {ADVISORIES} (../shared absent)")
async def test_device_records_carry_their_advisories(write_config: Callable[..., Path], tmp_path: Path) -> None:
    _, records = await _run(write_config, f'[register]\nfile = "{_register(tmp_path)}"\n'
                                          f'[advisories]\ndir = "{ADVISORIES}"\n')
    mon = {m.advisory: m for m in records[MON].advisories}
    # LLDP-MED said MX40 with firmware B.06.12: ICSMA-17-255-01 (< B.06.18), with the version as its basis.
    m = mon["ICSMA-17-255-01"]
    assert m.confidence == "vendor+product+version"
    assert any("LLDP-MED firmware" in b for b in m.basis) and m.cves and m.remediations
    pump = {m.advisory: m for m in records[PUMP].advisories}
    # The register's model for the Baxter pump (its OUI says Baxter too).
    assert {"ICSMA-20-170-04", "ICSMA-22-251-01"} <= set(pump)
    assert records[WS].advisories == () and records[WS].advisories_vendor_only == ()
    assert records[MON].advisories_vendor_only  # other Philips advisories, named by vendor only
