"""A small hospital's flows over a few windows, decoded from real IPFIX datagrams.

Pumps send HL7 to the pharmacy server and ask the DNS server; monitors talk to the
central station; one workstation opens the web page of one monitor; a pump once
reached an address outside the hospital (rare: for review); a workstation's SMB to the
file server touches no protected zone (out of scope). Device records as the
correlator would publish them go into the real local store (the outbox).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from collectors.flows import Decoder, FlowTable
from sensor.directory import DeviceDirectory
from sensor.flows.conversations import Aggregator
from sensor.flows.model import DeviceConversations
from sensor.metrics import Metrics
from sensor.observations import device_obs
from sensor.publish.outbox import Outbox
from tests.flows.build import FLOW_FIELDS, data_set, flow_record, ipfix, ipfix_template_record, ipfix_template_set

PUMPS = {"10.30.0.21": "58:42:e4:00:00:21", "10.30.0.22": "58:42:e4:00:00:22", "10.30.0.23": "58:42:e4:00:00:23"}
MONITORS = {"10.30.0.31": "00:09:fb:00:00:31", "10.30.0.32": "00:09:fb:00:00:32"}
WORKSTATIONS = {"10.40.0.10": "3c:52:82:00:00:10", "10.40.0.11": "3c:52:82:00:00:11"}
PHARMACY, CENTRAL, DNS, FILES, OUTSIDE = "10.50.0.5", "10.50.0.6", "10.50.0.53", "10.50.0.80", "203.0.113.7"
INTERNAL = ["10.0.0.0/8"]
WINDOW = 300.0
CLASSES = {**{ip: ("infusion_pump", True) for ip in PUMPS}, **{ip: ("patient_monitor", True) for ip in MONITORS},
           **{ip: ("workstation", False) for ip in WORKSTATIONS}}
MACS = {**PUMPS, **MONITORS, **WORKSTATIONS}


def table(recs: list[bytes]) -> FlowTable:
    d = Decoder()
    t = FlowTable()
    res = d.decode(ipfix(1, ipfix_template_set(ipfix_template_record(300, FLOW_FIELDS)), data_set(300, *recs)), "e")
    for b in res.batches:
        t.add(b)
    return t


def window_records(i: int) -> list[bytes]:
    recs = []
    for n, pump in enumerate(PUMPS):
        recs.append(flow_record(pump, PHARMACY, 40000 + n, 2575, 6, 5000 + i, 20))
        recs.append(flow_record(PHARMACY, pump, 2575, 40000 + n, 6, 800, 10))
        recs.append(flow_record(pump, DNS, 50000 + n, 53, 17, 120, 2))
    for n, mon in enumerate(MONITORS):
        recs.append(flow_record(mon, CENTRAL, 41000 + n, 24005, 6, 90_000, 300))
    if i < 4:
        recs.append(flow_record("10.40.0.10", "10.30.0.31", 52000, 443, 6, 3000, 12))
    if i == 2:
        recs.append(flow_record("10.30.0.21", OUTSIDE, 53000, 443, 6, 700, 5))
    recs.append(flow_record("10.40.0.11", FILES, 53001, 445, 6, 100_000, 90))
    return recs


def directory() -> DeviceDirectory:
    return DeviceDirectory(macs=dict(MACS), medical_macs=[*PUMPS.values(), *MONITORS.values()])


def windows(n: int = 6, start: float | None = None) -> list[tuple[float, list[DeviceConversations]]]:
    """(window end, conversations) for n consecutive windows ending now (or after ``start``)."""
    t0 = start if start is not None else time.time() - n * WINDOW
    agg = Aggregator(directory(), INTERNAL)
    out = []
    for i in range(n):
        s = t0 + i * WINDOW
        out.append((s + WINDOW, agg.summarize(table(window_records(i)), s, s + WINDOW)))
    return out


def device_records() -> list[dict[str, Any]]:
    recs = []
    for ip, mac in MACS.items():
        cls, medical = CLASSES[ip]
        recs.append({"mac": mac, "present": True, "ips": [{"ip": ip}],
                     "attachment": {"switch": "access-1", "port": f"Gi1/0/{ip.rsplit('.', 1)[1]}", "vlan": 30},
                     "classification": {"device_class": cls, "label": cls, "medical": medical}})
    return recs


def store_devices(state_dir: Path) -> None:
    """Write the device records into the real local store, as the correlator would."""
    async def go() -> None:
        ob = Outbox(state_dir / "outbox.sqlite3", site="lab", sensor_id="test", max_messages=1000, metrics=Metrics())
        await ob.open()
        await ob.append([device_obs(r["mac"], r, time.time()) for r in device_records()])
        await ob.close()

    asyncio.run(go())
