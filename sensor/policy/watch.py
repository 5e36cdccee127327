"""Watching the approved policy: each flow window's conversations against it.

A conversation in the policy's scope (touching a protected zone) that no approved
rule allows is a ``policy_violation`` event: the device, the peer, the service, the
bytes, and the approved rule that would have applied to that source and service
when there is one. A conversation seen from both ends (two devices) is one event.
The same (client, server, protocol, port) does not fire again before ``realert``,
as with the anomalies. The approved file is re-read when it changes; a file that
does not parse is logged and the last good policy stays in force.

The retained ``policy`` message says which policy the sensor watches: version,
hash (of zones' addresses and approved rules), and a summary per zone.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import structlog

from collectors.flows.table import U64
from sensor.errors import ConfigError
from sensor.flows.events import Peer, PolicyViolationEvent
from sensor.flows.model import DeviceConversations
from sensor.policy.apps import PROTO_NAMES, application
from sensor.policy.document import PolicyDoc, load_policy
from sensor.policy.match import Matcher
from sensor.policy.summary import PolicySummary, ZoneSummary
from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.policy")



class WatchState(msgspec.Struct, kw_only=True):
    version: int = 1
    fired: dict[str, float] = msgspec.field(default_factory=dict)  # "client|server|proto|port" -> when


class PolicyWatch:
    def __init__(self, path: str | Path, state_dir: str | Path, *, realert: float = 86400.0,
                 max_fired: int = 200_000) -> None:
        self.path = Path(path)
        self.state_path = Path(state_dir) / "policy" / "watch.json"
        self.realert = realert
        self.max_fired = max_fired
        self.doc: PolicyDoc | None = None
        self.matcher: Matcher | None = None
        self.digest = ""
        self.published = ""  # the digest last announced on the retained message
        self._mtime: float | None = None
        self.errors = 0
        self.state = self._load_state()
        self.reload()

    def _load_state(self) -> WatchState:
        try:
            return msgspec.json.decode(self.state_path.read_bytes(), type=WatchState)
        except FileNotFoundError:
            return WatchState()
        except (OSError, msgspec.DecodeError) as e:
            log.warning("policy watch state unreadable: starting fresh", path=str(self.state_path), error=str(e))
            return WatchState()

    def reload(self) -> bool:
        """Re-read the approved file when it changed; True when a new policy is in force."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError as e:
            if self._mtime is not None or self.errors == 0:
                log.warning("approved policy not readable: not watching", path=str(self.path), error=str(e))
            self.errors += 1
            return False
        if mtime == self._mtime:
            return False
        self._mtime = mtime
        try:
            doc = load_policy(self.path)
        except ConfigError as e:
            self.errors += 1
            log.warning("approved policy has errors: the last good one stays in force", path=str(self.path),
                        problems=e.problems[:5])
            return False
        self.doc, self.matcher, self.digest = doc, Matcher(doc), doc.digest()
        log.info("approved policy loaded", path=str(self.path), version=doc.policy.version,
                 approved_rules=len(doc.approved()), hash=self.digest[:12])
        return True

    def summary(self) -> PolicySummary | None:
        """The retained ``policy`` message's data, or None without a policy."""
        doc = self.doc
        if doc is None:
            return None
        zones = []
        approved = doc.approved()
        for z in doc.zone:
            key = f"zone:{z.name}"
            zones.append(ZoneSummary(zone=z.name, label=z.label, protected=z.protected, devices=z.devices,
                                     addresses=len(z.addresses),
                                     rules_from=sum(key in r.source for r in approved),
                                     rules_to=sum(key in r.destination for r in approved)))
        return PolicySummary(version=doc.policy.version, hash=self.digest, file=str(self.path),
                             generated_at=doc.policy.generated_at or None, rules=len(doc.rule),
                             approved_rules=len(approved),
                             rejected_rules=sum(r.state == "rejected" for r in doc.rule),
                             stale_rules=sum(r.stale for r in doc.rule), zones=zones)

    def check(self, windows: list[DeviceConversations], now: float) -> list[PolicyViolationEvent]:
        """The window's violations, de-duplicated and rate-limited."""
        m, doc = self.matcher, self.doc
        if m is None or doc is None:
            return []
        events: list[PolicyViolationEvent] = []
        seen: set[tuple[str, str, int, int]] = set()
        fired = self.state.fired
        for dc in windows:
            for c in dc.conversations:
                key = (dc.ip, c.peer, c.proto, c.port) if c.dir == "out" else (c.peer, dc.ip, c.proto, c.port)
                if key in seen:
                    continue
                seen.add(key)
                v = m.check(*key)
                if not v.in_scope or v.rule is not None:
                    continue
                fk = f"{key[0]}|{key[1]}|{key[2]}|{key[3]}"
                last = fired.get(fk)
                if last is not None and now - last < self.realert:
                    continue
                fired[fk] = now
                mine, theirs = (v.client_zone, v.server_zone) if c.dir == "out" else (v.server_zone, v.client_zone)
                events.append(PolicyViolationEvent(
                    event="policy_violation", device=dc.device, mac=dc.mac, ip=dc.ip,
                    peer=Peer(ip=c.peer, port=c.port, proto=c.proto, dir="in" if c.dir == "in" else "out"),
                    service=f"{PROTO_NAMES.get(c.proto, str(c.proto))}/{c.port}" if c.port
                            else PROTO_NAMES.get(c.proto, str(c.proto)),
                    application=application(c.proto, c.port), zone=mine, peer_zone=theirs,
                    bytes=min(c.bytes_out + c.bytes_in, U64), packets=min(c.packets_out + c.packets_in, U64),
                    rule=v.nearest.id if v.nearest else None,
                    policy_version=doc.policy.version, policy_hash=self.digest,
                    window_start=dc.window_start, window_end=dc.window_end))
        if len(fired) > self.max_fired:
            for k in [k for k, t in fired.items() if now - t >= self.realert]:
                del fired[k]
        return events

    def persist(self) -> None:
        write_atomic(self.state_path, msgspec.json.encode(self.state))
