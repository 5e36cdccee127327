"""Compile the approved policy for the enforcement points: Aerleon targets, CSV, and MUD.

Aerleon (``aerleon.api.Generate``) takes a policy dictionary and naming definitions
in memory; we build both from the approved rules. The policy governs traffic that
touches a protected zone, so an address-based filter (nftables, Cisco, Arista, ASA) is:
the allow terms, replies to them where the platform is stateless, a deny for
anything else from or to a protected zone, then accept for what is outside the
policy's scope (a router keeps routing everything else). Zone-based firewalls (Palo
Alto, SRX, FortiGate) get one filter per (from zone, to zone) pair, allow terms then
a deny. Palo Alto rules carry App-IDs for the named clinical applications.

The nftables output is one table ``filtering_policies`` (family ``ip``, or ``inet`` when
the policy has IPv6 addresses) with a base chain on the ``forward`` hook (policy drop;
established and related replies accepted), for ``nft -f`` on a Linux router; loading it
again replaces the table in one transaction.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from datetime import UTC, datetime
from typing import Any

from sensor.errors import SensorError
from sensor.policy.apps import PAN_APP_IDS, PROTO_NUMBERS
from sensor.policy.document import PolicyDoc, Rule
from sensor.policy.match import Matcher

FORMATS = ("nftables", "cisco", "ciscoasa", "paloalto", "junipersrx", "fortigate", "arista", "csv", "mud")
ACL_NAME = "edge-sensor-policy"
_STATELESS = {"cisco", "arista"}
_ZONE_BASED = {"paloalto": "paloalto", "junipersrx": "srx", "fortigate": "fortigate"}
# The policy file uses IANA's protocol keywords; Aerleon calls ICMPv6 "icmpv6" (it emits
# "ip protocol ipv6-icmp" next to IPv6 addresses for nftables, which nft refuses, and SRX
# and FortiGate refuse the name outright).
_AERLEON_PROTO = {"ipv6-icmp": "icmpv6"}


class ExportError(SensorError):
    """The policy cannot be compiled for this target."""


def _sym(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def _term_name(i: int, r: Rule) -> str:
    label = r.application or (f"{r.proto}-{r.port}" if r.port else r.proto)
    return f"r{i:03d}-{re.sub(r'[^a-z0-9]+', '-', label.lower()).strip('-')}"[:40]


def _comment(r: Rule) -> str:
    ev = r.evidence
    text = (f"{r.id} | seen {ev.observations}x, {ev.devices} device(s), {ev.bytes} bytes, last {ev.last_seen}"
            + (f" | ticket {r.ticket}" if r.ticket else "") + (f" | approved by {r.by}" if r.by else ""))
    return text.replace('"', "'")[:_COMMENT_MAX]


_COMMENT_MAX = 127  # nftables refuses comments longer than 128 characters


class _Builder:
    def __init__(self, doc: PolicyDoc) -> None:
        self.doc = doc
        self.rules = doc.approved()
        if not self.rules:
            raise ExportError("the policy has no approved rule: review it (state = \"approved\") first")
        self.matcher = Matcher(doc)
        self.networks: dict[str, list[str]] = {}
        self.services: dict[str, list[dict[str, Any]]] = {}
        self.zone_addrs = {z.name: list(z.addresses) for z in doc.zone}
        self.protected = sorted(a for z in doc.zone if z.protected for a in z.addresses)
        if not self.protected:
            raise ExportError("no protected zone has an address: run `sensor policy propose` again")
        self.networks["PROTECTED"] = self.protected
        self.v6 = any(ipaddress.ip_network(a, strict=False).version == 6
                      for addrs in self.zone_addrs.values() for a in addrs)

    def endpoint(self, eps: list[str], name: str) -> str | None:
        """A naming symbol for the endpoints, or None for "any" (the external zone)."""
        addrs: list[str] = []
        for ep in eps:
            kind, _, value = ep.partition(":")
            if kind == "zone":
                if value == "external":
                    return None
                addrs += self.zone_addrs.get(value, [])
            else:
                addrs.append(value)
        if not addrs:
            raise ExportError(f"{name}: its endpoints {eps} have no address: run `sensor policy propose` again")
        self.networks[name] = sorted(set(addrs))
        return name

    def service(self, r: Rule) -> str | None:
        if not r.port:
            return None
        name = f"SVC_{r.proto.upper()}_{r.port}"
        self.services[name] = [{"port": r.port, "protocol": r.proto}]
        return name

    def term(self, i: int, r: Rule, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        t: dict[str, Any] = {"name": _term_name(i, r), "comment": _comment(r), "action": "accept"}
        src = self.endpoint(r.source, f"R{i:03d}_SRC")
        dst = self.endpoint(r.destination, f"R{i:03d}_DST")
        if src:
            t["source-address"] = src
        if dst:
            t["destination-address"] = dst
        if r.proto != "any":
            t["protocol"] = _AERLEON_PROTO.get(r.proto, r.proto)
        svc = self.service(r)
        if svc:
            t["destination-port"] = svc
        t.update(extra or {})
        return t

    def reply(self, i: int, r: Rule) -> dict[str, Any] | None:
        """The reply direction for a stateless ACL: server port back to the client."""
        if r.proto not in ("tcp", "udp"):
            return None
        t: dict[str, Any] = {"name": f"{_term_name(i, r)}-reply"[:44], "action": "accept", "protocol": r.proto}
        src = self.endpoint(r.destination, f"R{i:03d}_DST")
        dst = self.endpoint(r.source, f"R{i:03d}_SRC")
        if src:
            t["source-address"] = src
        if dst:
            t["destination-address"] = dst
        svc = self.service(r)
        if svc:
            t["source-port"] = svc
        if r.proto == "tcp":
            t["option"] = "tcp-established"
        return t

    def tail(self) -> list[dict[str, Any]]:
        return [{"name": "deny-from-protected", "source-address": "PROTECTED", "action": "deny",
                 "comment": "anything else from a protected zone"},
                {"name": "deny-to-protected", "destination-address": "PROTECTED", "action": "deny",
                 "comment": "anything else to a protected zone"},
                {"name": "outside-policy-scope", "action": "accept",
                 "comment": "traffic touching no protected zone is outside this policy"}]

    def zone_of(self, eps: list[str]) -> str:
        for ep in eps:
            kind, _, value = ep.partition(":")
            if kind == "zone":
                return value
            zs = self.matcher.zones_of(str(ipaddress.ip_network(value, strict=False).network_address))
            if zs:
                return min(zs)
        return "external"

    def policies(self, fmt: str) -> list[dict[str, Any]]:
        header = f"version {self.doc.policy.version} of site {self.doc.policy.site}, generated by edge-sensor"
        if fmt in _ZONE_BASED:
            target = _ZONE_BASED[fmt]
            pairs: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for i, r in enumerate(self.rules, start=1):
                extra = {}
                if fmt == "paloalto" and PAN_APP_IDS.get(r.application):
                    extra["pan-application"] = PAN_APP_IDS[r.application]
                key = (self.zone_of(r.source)[:31], self.zone_of(r.destination)[:31])
                pairs.setdefault(key, []).append(self.term(i, r, extra))
            filters = []
            for (fz, tz), pair_terms in sorted(pairs.items()):
                deny = {"name": f"deny-{fz}-{tz}"[:40].replace("_", "-"), "action": "deny"}
                filters.append({"header": {"targets": {target: f"from-zone {fz} to-zone {tz}"}, "comment": header},
                                "terms": [*pair_terms, deny]})
            return [{"filename": ACL_NAME, "filters": filters}]
        terms: list[dict[str, Any]] = []
        for i, r in enumerate(self.rules, start=1):
            terms.append(self.term(i, r))
            if fmt in _STATELESS and (rep := self.reply(i, r)) is not None:
                terms.append(rep)
        terms += self.tail()
        fam = "mixed" if self.v6 else "inet"
        options = {"nftables": f"{fam} forward", "cisco": f"{ACL_NAME} {'mixed' if self.v6 else 'extended'}",
                   "arista": f"{ACL_NAME} {'mixed' if self.v6 else 'extended'}", "ciscoasa": ACL_NAME}[fmt]
        return [{"filename": ACL_NAME, "filters": [{"header": {"targets": {fmt: options}, "comment": header},
                                                    "terms": terms}]}]

    def definitions(self) -> dict[str, Any]:
        return {"networks": {k: {"values": [{"address": a} for a in v]} for k, v in self.networks.items()},
                "services": self.services}


def aerleon_inputs(doc: PolicyDoc, fmt: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The Aerleon policy dictionaries and naming definitions for one format (also for aclcheck)."""
    b = _Builder(doc)
    pols = b.policies(fmt)
    return pols, b.definitions()


def export(doc: PolicyDoc, fmt: str, *, mud_base_url: str = "https://mud.example.invalid/edge-sensor") -> str:
    """The policy compiled for ``fmt`` (one of FORMATS), as text."""
    if fmt == "csv":
        return to_csv(doc)
    if fmt == "mud":
        return json.dumps(to_mud(doc, mud_base_url), indent=2) + "\n"
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    from absl import logging as absl_logging
    from aerleon import api
    from aerleon.lib import naming

    absl_logging.set_verbosity(absl_logging.ERROR)
    pols, defs = aerleon_inputs(doc, fmt)
    d = naming.Naming()
    d.ParseDefinitionsObject(defs, "")
    try:
        out = api.Generate(pols, d)  # type: ignore[arg-type]
    except Exception as e:  # Aerleon raises its own error types from many modules
        raise ExportError(f"Aerleon could not compile the policy for {fmt}: {e}") from None
    if not out:
        raise ExportError(f"Aerleon produced nothing for {fmt}")
    text = "\n".join(out[k] for k in sorted(out))
    if fmt == "nftables":
        text = _atomic_nft(text)
    return text


def _atomic_nft(text: str) -> str:
    """Make ``nft -f`` replace the table in one transaction: create it if missing, delete, define."""
    m = re.search(r"^table (ip6?|inet) (\S+) \{", text, re.M)
    if m is None:
        raise ExportError("Aerleon's nftables output has no table: cannot make it reloadable")
    fam, name = m.group(1), m.group(2)
    return (f"# edge-sensor: loading this file replaces table {fam} {name} atomically (nft -f)\n"
            f"table {fam} {name}\ndelete table {fam} {name}\n\n{text}")


def to_csv(doc: PolicyDoc) -> str:
    """Every rule (any state) as CSV, for change tickets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "state", "kind", "stale", "source", "destination", "proto", "port", "application", "devices",
                "observations", "bytes", "first_seen", "last_seen", "by", "at", "ticket", "comment"])
    for r in doc.rule:
        ev = r.evidence
        w.writerow([r.id, r.state, r.kind, str(r.stale).lower(), " ".join(r.source), " ".join(r.destination),
                    r.proto, r.port or "", r.application, ev.devices, ev.observations, ev.bytes, ev.first_seen,
                    ev.last_seen, r.by, r.at, r.ticket, r.comment])
    return buf.getvalue()


def _ace(name: str, r: Rule, nets: list[str], outbound: bool) -> list[dict[str, Any]]:
    aces = []
    proto = PROTO_NUMBERS.get(r.proto)
    for j, net in enumerate(nets or [None]):
        ip: dict[str, Any] = {}
        if proto is not None:
            ip["protocol"] = proto
        if net is not None:
            ip["destination-ipv4-network" if outbound else "source-ipv4-network"] = net
        matches: dict[str, Any] = {"ipv4": ip}
        if r.port and r.proto in ("tcp", "udp"):
            matches[r.proto] = {"destination-port": {"operator": "eq", "port": r.port}} if outbound else \
                {"source-port": {"operator": "eq", "port": r.port}}
        aces.append({"name": f"{name}-{j}", "matches": matches, "actions": {"forwarding": "accept"}})
    return aces


def to_mud(doc: PolicyDoc, base_url: str) -> dict[str, Any]:
    """RFC 8520 MUD files, one per device class of each protected zone: {class: mud document}."""
    b = _Builder(doc)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out: dict[str, Any] = {}
    for z in doc.zone:
        if not z.protected or not z.classes:
            continue
        from_aces: list[dict[str, Any]] = []
        to_aces: list[dict[str, Any]] = []
        for i, r in enumerate(b.rules, start=1):
            src, dst = b.zone_of(r.source), b.zone_of(r.destination)
            ipv4 = [a for a in _addrs(b, r.destination) if ":" not in a]
            if src == z.name:
                from_aces += _ace(f"r{i:03d}-out", r, ipv4, True)
            if dst == z.name:
                to_aces += _ace(f"r{i:03d}-in", r, [a for a in _addrs(b, r.source) if ":" not in a], False)
        for cls in z.classes:
            fr, to = f"from-ipv4-{cls}", f"to-ipv4-{cls}"
            out[cls] = {
                "ietf-mud:mud": {
                    "mud-version": 1, "mud-url": f"{base_url.rstrip('/')}/{cls}.json", "last-update": now,
                    "cache-validity": 48, "is-supported": True,
                    "systeminfo": f"{cls} in zone {z.name} ({z.label}), policy version {doc.policy.version}",
                    "from-device-policy": {"access-lists": {"access-list": [{"name": fr}]}},
                    "to-device-policy": {"access-lists": {"access-list": [{"name": to}]}},
                },
                "ietf-access-control-list:acls": {"acl": [
                    {"name": fr, "type": "ipv4-acl-type", "aces": {"ace": from_aces}},
                    {"name": to, "type": "ipv4-acl-type", "aces": {"ace": to_aces}},
                ]},
            }
    return out


def _addrs(b: _Builder, eps: list[str]) -> list[str]:
    out: list[str] = []
    for ep in eps:
        kind, _, value = ep.partition(":")
        if kind == "zone":
            out += [] if value == "external" else b.zone_addrs.get(value, [])
        else:
            out.append(value)
    return out
