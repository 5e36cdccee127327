"""Device state over time: first/last seen, attachment changes, IP bindings, absence.

Pure and synchronous like ``view``: ``Tracker.update`` takes the current ``View`` and
the snapshots that just arrived and returns what changed. The state it keeps is a
plain msgspec struct (``TrackerState``) so that ``sensor.correlate.store`` can save it
and a restart keeps first_seen, bindings and the absence counters.

Time is the switches' time: ``last_seen`` and events use the ``taken_at`` of the
snapshot that showed the change, and a device is disappeared after ``absence``
counted in *successful* polls of the switch where it was (so an unreachable switch
does not make its devices disappear).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from collectors.facts import Snapshot
from sensor.correlate.view import Candidate, View, fdb_ok

STATE_VERSION = 1
MOVE_MIN_CONFIDENCE = 0.5  # below: an inferred location; refining it is not a move


# gc=False: per-device state (strings, numbers, a list of times) never refers back to anything that
# refers to it; 50,000 devices and their bindings are then not walked by every full collection.
class AttState(msgspec.Struct, kw_only=True, gc=False):
    switch: str
    ifindex: int | None
    port: str
    vlan: int | None
    confidence: float
    evidence: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    first_seen: float
    last_seen: float

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.switch, self.ifindex)


class IpState(msgspec.Struct, kw_only=True, gc=False):
    mac: str
    router: str
    first_seen: float
    last_seen: float


class DeviceState(msgspec.Struct, kw_only=True, gc=False):
    mac: str
    first_seen: float
    last_seen: float
    present: bool = True
    absent_polls: int = 0
    gone_at: float | None = None
    attachment: AttState | None = None
    moves: tuple[float, ...] = ()  # a tuple: most devices never move, and () is shared by all of them
    flapping_until: float | None = None
    # Classification memory, so that one weak clue cannot flip a class.
    device_class: str | None = None
    class_score: float = 0.0
    published: str = ""  # signature of the record last published
    published_seen: float = 0.0  # its last_seen


class TrackerState(msgspec.Struct, kw_only=True):
    version: int = STATE_VERSION
    devices: dict[str, DeviceState] = msgspec.field(default_factory=dict)
    bindings: dict[str, IpState] = msgspec.field(default_factory=dict)  # ip -> its current MAC
    last_full_refresh: float = 0.0
    # switch name -> its switch_id as last known: a poll that does not say it (a timeout, an empty
    # LLDP table) keeps it, so its devices' records are not published again without one.
    switch_ids: dict[str, str] = msgspec.field(default_factory=dict)
    # switch name -> the LLDP chassis id last known for it (its own, or as its neighbours see it): it
    # outranks the bridge MAC, so a poll that misses it keeps it rather than fall back to the bridge MAC.
    chassis_ids: dict[str, str] = msgspec.field(default_factory=dict)


@dataclass(frozen=True)
class TrackerSettings:
    absence: float = 7200.0
    intervals: Mapping[str, float] = field(default_factory=dict)  # switch -> poll interval
    default_interval: float = 900.0
    flap_window: float = 600.0
    forget_after: float = 30 * 86400.0

    def absence_polls(self, switch: str | None) -> int:
        interval = self.intervals.get(switch or "", self.default_interval) or self.default_interval
        return max(1, math.ceil(self.absence / interval - 1e-9))


@dataclass(frozen=True)
class Change:
    """One event, before the stage adds vendor and class."""

    kind: str
    mac: str
    at: float
    detail: str
    attachment: AttState | None = None
    previous: AttState | None = None
    ips: tuple[str, ...] = ()
    previous_ips: tuple[str, ...] = ()


@dataclass
class Result:
    events: list[Change] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # devices whose record may differ
    forgotten: list[str] = field(default_factory=list)


def _att_from(c: Candidate, first: float, last: float) -> AttState:
    return AttState(switch=c.switch, ifindex=c.ifindex, port=c.port, vlan=c.vlan, confidence=c.confidence,
                    evidence=c.evidence, flags=c.flags, first_seen=first, last_seen=last)


def choose(cands: Sequence[Candidate], current: AttState | None) -> Candidate | None:
    """The best candidate; among equally good ones, the current attachment (no MLAG flapping)."""
    if not cands:
        return None
    best = cands[0]
    if current is not None:
        for c in cands:
            if (c.tier, c.confidence, c.depth) != (best.tier, best.confidence, best.depth):
                break
            if c.key == current.key:
                return c
    return best


def where(a: AttState | None) -> str:
    if a is None:
        return "an unknown port"
    return f"{a.switch} {a.port}" + (f" VLAN {a.vlan}" if a.vlan is not None else "")


class Tracker:
    def __init__(self, state: TrackerState | None = None, settings: TrackerSettings | None = None) -> None:
        self.state = state if state is not None else TrackerState()
        self.settings = settings or TrackerSettings()
        # MAC -> its IPs, sorted: a tuple, not a set (56 bytes for two addresses, not 216; x 50,000).
        self.ips_by_mac: dict[str, tuple[str, ...]] = {}
        for ip, b in self.state.bindings.items():
            self._add_ip(b.mac, ip)

    def ips_of(self, mac: str) -> tuple[str, ...]:
        return self.ips_by_mac.get(mac, ())

    def _add_ip(self, mac: str, ip: str) -> None:
        have = self.ips_by_mac.get(mac, ())
        if ip not in have:
            self.ips_by_mac[mac] = tuple(sorted((*have, ip)))

    def _drop_ip(self, mac: str, ip: str) -> None:
        have = self.ips_by_mac.get(mac)
        if have is not None and ip in have:
            rest = tuple(i for i in have if i != ip)
            if rest:
                self.ips_by_mac[mac] = rest
            else:
                del self.ips_by_mac[mac]

    # ------------------------------------------------------------------ update
    def update(self, view: View, batch: Iterable[Snapshot]) -> Result:
        st, res = self.state, Result()
        snaps = sorted(batch, key=lambda s: (s.taken_at, s.switch))
        if not snaps:
            return res
        ok = {s.switch: s.taken_at for s in snaps if fdb_ok(s)}
        taken = {s.switch: s.taken_at for s in snaps}
        t_batch = snaps[-1].taken_at

        seen_now: dict[str, float] = {}
        for sw, t in ok.items():
            for mac in view.observed.get(sw, ()):
                if seen_now.get(mac, -math.inf) < t:
                    seen_now[mac] = t

        ip_before = self._update_bindings(view, taken)

        new: set[str] = set()
        returned: set[str] = set()
        for mac, t in seen_now.items():
            dev = st.devices.get(mac)
            if dev is None:
                st.devices[mac] = DeviceState(mac=mac, first_seen=t, last_seen=t)
                new.add(mac)
            else:
                if not dev.present:
                    dev.present, dev.gone_at = True, None
                    returned.add(mac)
                dev.last_seen = max(dev.last_seen, t)
                dev.absent_polls = 0

        affected = set(seen_now)
        for mac, dev in st.devices.items():
            if dev.present and (dev.attachment is None or dev.attachment.switch in ok):
                affected.add(mac)
        for mac in sorted(affected):
            dev = st.devices[mac]
            self._place(dev, view.candidates.get(mac, ()), seen_now.get(mac), ok, t_batch, res)

        for mac in sorted(new | returned):
            dev = st.devices[mac]
            detail = "returned after being absent" if mac in returned else "first seen"
            res.events.append(Change("appeared", mac, dev.last_seen, f"{detail} on {where(dev.attachment)}",
                                     attachment=dev.attachment, ips=self.ips_of(mac)))
            res.changed.add(mac)

        for mac, before in sorted(ip_before.items()):
            after = self.ips_of(mac)
            if tuple(sorted(before)) == after:
                continue
            res.changed.add(mac)
            dev = st.devices.get(mac)
            if dev is None or not dev.present or mac in new or mac in returned or not before:
                continue
            gone = sorted(set(before) - set(after))
            added = sorted(set(after) - set(before))
            parts = ([f"now {', '.join(added)}"] if added else []) + ([f"no longer {', '.join(gone)}"] if gone else [])
            res.events.append(Change("ip_changed", mac, t_batch, "; ".join(parts), attachment=dev.attachment,
                                     ips=after, previous_ips=tuple(sorted(before))))
        return res

    def _update_bindings(self, view: View, taken: Mapping[str, float]) -> dict[str, tuple[str, ...]]:
        """Bind IPs freshly reported by the routers in this batch; an IP moving closes its old binding."""
        before: dict[str, tuple[str, ...]] = {}
        bindings = self.state.bindings
        for mac, seen in view.ips.items():
            for s in seen:
                if s.router not in taken:
                    continue
                b = bindings.get(s.ip)
                if b is not None and b.mac == mac:
                    b.last_seen = max(b.last_seen, s.taken_at)
                    b.router = s.router
                    continue
                if b is not None:
                    before.setdefault(b.mac, self.ips_of(b.mac))
                    self._drop_ip(b.mac, s.ip)
                before.setdefault(mac, self.ips_of(mac))
                bindings[s.ip] = IpState(mac=mac, router=s.router, first_seen=s.taken_at, last_seen=s.taken_at)
                self._add_ip(mac, s.ip)
        return before

    def _place(self, dev: DeviceState, cands: Sequence[Candidate], seen_at: float | None,
               ok: Mapping[str, float], t_batch: float, res: Result) -> None:
        old = dev.attachment
        best = choose(cands, old)
        if best is None:
            # Nowhere to be seen: count this poll of its switch towards absence.
            home = old.switch if old is not None else None
            if home is None or home not in ok:
                return
            dev.absent_polls += 1
            if dev.absent_polls >= self.settings.absence_polls(home):
                dev.present, dev.gone_at = False, ok[home]
                res.changed.add(dev.mac)
                res.events.append(Change(
                    "disappeared", dev.mac, ok[home],
                    f"not seen in {dev.absent_polls} successful polls of {home} since {where(old)}",
                    attachment=old, ips=self.ips_of(dev.mac)))
            return
        t = seen_at if seen_at is not None else t_batch
        fresh_here = best.switch in ok and seen_at is not None
        if old is not None and old.key == best.key:
            new = _att_from(best, old.first_seen, max(old.last_seen, t) if fresh_here else old.last_seen)
            if (new.vlan, new.confidence, new.evidence, new.flags, new.port) != (
                    old.vlan, old.confidence, old.evidence, old.flags, old.port):
                res.changed.add(dev.mac)
            dev.attachment = new
            return
        new = _att_from(best, t, t)
        dev.attachment = new
        res.changed.add(dev.mac)
        if old is None or old.confidence < MOVE_MIN_CONFIDENCE or new.confidence < MOVE_MIN_CONFIDENCE:
            return  # first placement, or a refinement of an inferred location
        window = self.settings.flap_window
        dev.moves = tuple(m for m in dev.moves if m > t - window)
        if dev.flapping_until is not None and t < dev.flapping_until:
            dev.flapping_until = t + window  # still flapping: stay quiet
        elif dev.moves:
            dev.flapping_until = t + window
            res.events.append(Change(
                "flapping", dev.mac, t,
                f"moved {len(dev.moves) + 1} times within {window:g}s, now between {where(old)} and {where(new)}; "
                f"further moves are not reported until it settles",
                attachment=new, previous=old, ips=self.ips_of(dev.mac)))
        else:
            dev.flapping_until = None
            res.events.append(Change("moved", dev.mac, t, f"from {where(old)} to {where(new)}",
                                     attachment=new, previous=old, ips=self.ips_of(dev.mac)))
        dev.moves = (*dev.moves, t)

    # ------------------------------------------------------------------ forgetting
    def forget(self, now: float) -> list[str]:
        """Drop devices gone for longer than ``forget_after``, with their IP bindings."""
        limit = now - self.settings.forget_after
        gone = [m for m, d in self.state.devices.items() if not d.present and (d.gone_at or d.last_seen) < limit]
        for mac in gone:
            del self.state.devices[mac]
            for ip in self.ips_by_mac.pop(mac, ()):
                self.state.bindings.pop(ip, None)
        stale = [ip for ip, b in self.state.bindings.items() if b.mac not in self.state.devices and b.last_seen < limit]
        for ip in stale:
            b = self.state.bindings.pop(ip)
            self._drop_ip(b.mac, ip)
        return sorted(gone)
