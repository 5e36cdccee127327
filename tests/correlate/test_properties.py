"""Hypothesis properties of the correlator."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.facts import FdbEntry, LldpNeighbor, Snapshot, SwitchInfo
from sensor.classify.classifier import Classifier
from sensor.classify.rules import load_rules
from sensor.correlate.engine import Correlator, CorrelatorConfig
from sensor.correlate.macs import usable_fdb
from sensor.correlate.view import TIER_ACCESS, Settings, build_view

RULES = load_rules()
macs = st.builds(lambda b: ":".join(f"{x:02x}" for x in b), st.binary(min_size=6, max_size=6))
statuses = st.sampled_from(["learned", "learned", "learned", "self", "mgmt", "invalid", "other"])


@st.composite
def networks(draw: st.DrawFn) -> dict[str, Snapshot]:
    """A chain/tree of polled switches linked by LLDP, devices on access ports, copies on uplinks."""
    n = draw(st.integers(1, 5))
    names = [f"s{i}" for i in range(n)]
    base = {s: f"02:00:00:00:00:{i:02x}" for i, s in enumerate(names)}
    parent = {names[i]: names[draw(st.integers(0, i - 1))] for i in range(1, n)}
    fdb: dict[str, list[FdbEntry]] = {s: [] for s in names}
    lldp: dict[str, list[LldpNeighbor]] = {s: [] for s in names}
    for c, p in parent.items():
        ci = names.index(c)
        lldp[c].append(LldpNeighbor(switch=c, ifindex=48, chassis_id=base[p], sys_name=p, capabilities=("bridge",)))
        lldp[p].append(LldpNeighbor(switch=p, ifindex=100 + ci, chassis_id=base[c], sys_name=c,
                                    capabilities=("bridge",)))
    devices = draw(st.lists(st.tuples(macs, st.sampled_from(names), st.integers(1, 40), st.integers(1, 4094)),
                            max_size=25, unique_by=lambda d: d[0]))
    for mac, sw, port, vlan in devices:
        fdb[sw].append(FdbEntry(switch=sw, ifindex=port, vlan=vlan, mac=mac, status=draw(statuses)))
        cur = sw
        while cur in parent:
            p = parent[cur]
            fdb[cur].append(FdbEntry(switch=cur, ifindex=48, vlan=vlan, mac=mac))
            fdb[p].append(FdbEntry(switch=p, ifindex=100 + names.index(cur), vlan=vlan, mac=mac))
            cur = p
    return {s: Snapshot(switch=s, taken_at=float(i), method="t", system=SwitchInfo(switch=s, base_mac=base[s]),
                        fdb=tuple(fdb[s]), lldp=tuple(lldp[s])) for i, s in enumerate(names)}


def _records(snaps: list[Snapshot]) -> dict[str, object]:
    c = Correlator(CorrelatorConfig(), Classifier(RULES))
    out = c.ingest(snaps, now=100.0)
    return {m: (r.attachment, tuple(i.ip for i in r.ips), r.classification, r.risk) for m, r in out.records.items()}


@settings(max_examples=60, deadline=None)
@given(networks(), st.randoms())
def test_result_does_not_depend_on_poll_order(net: dict[str, Snapshot], rnd: random.Random) -> None:
    snaps = list(net.values())
    shuffled = snaps[:]
    rnd.shuffle(shuffled)
    assert _records(snaps) == _records(shuffled)
    v1 = build_view(dict(net), Settings())
    v2 = build_view({s.switch: s for s in shuffled}, Settings())
    assert v1.candidates == v2.candidates and v1.ips == v2.ips


@settings(max_examples=60, deadline=None)
@given(networks())
def test_nothing_attaches_to_a_port_facing_a_polled_switch(net: dict[str, Snapshot]) -> None:
    v = build_view(net, Settings())
    facing = {(s.switch, n.ifindex) for s in net.values() for n in s.lldp if n.sys_name in net}
    for cands in v.candidates.values():
        for c in cands:
            assert (c.switch, c.ifindex) not in facing


@settings(max_examples=60, deadline=None)
@given(networks())
def test_uplink_copies_never_beat_the_access_port(net: dict[str, Snapshot]) -> None:
    v = build_view(net, Settings())
    for s in net.values():
        for e in usable_fdb(s.fdb):
            if e.ifindex is not None and e.ifindex < 48:  # an access port in this model
                best = v.candidates[e.mac][0]
                assert best.tier == TIER_ACCESS
                assert (best.switch, best.ifindex) == (s.switch, e.ifindex)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(macs, statuses)), st.sets(macs, max_size=3))
def test_filtering_is_idempotent(entries: list[tuple[str, str]], own: set[str]) -> None:
    fdb = [FdbEntry(switch="s", ifindex=1, vlan=1, mac=m, status=s) for m, s in entries]
    once = usable_fdb(fdb, own)
    assert usable_fdb(once, own) == once
    assert all(e.mac not in own and e.status not in ("self", "mgmt", "invalid") for e in once)
    assert all(int(e.mac[:2], 16) & 1 == 0 for e in once)
