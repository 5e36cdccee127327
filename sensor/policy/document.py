"""The policy file: zones and allow rules with evidence and review state, as TOML.

This is the network team's and biomed's document. ``sensor policy propose`` writes it;
people edit ``state``, ``by``, ``at``, ``ticket`` and ``comment``; the approved copy is
``[policy] file`` in the configuration. Reading it reports every problem with its
file, line and key path, like the configuration. Writing it is done here by hand
(tomllib only reads) in a fixed order, so a re-proposal diffs cleanly.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from sensor.config.validate import LineIndex, _check_struct, _Collector
from sensor.errors import ConfigError

State = Literal["proposed", "approved", "rejected"]
Kind = Literal["allow", "review"]
Proto = Literal["tcp", "udp", "sctp", "icmp", "ipv6-icmp", "any"]
Endpoint = Annotated[str, msgspec.Meta(pattern=r"^(zone|host|subnet):[^\s]+$")]


class DocBase(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Evidence(DocBase, frozen=True, kw_only=True):
    devices: int = 0  # distinct devices of the source (or destination) zone involved
    examples: list[str] = msgspec.field(default_factory=list)  # a few device MACs or addresses
    peers: int = 0  # distinct addresses on the other side
    bytes: int = 0
    flows: int = 0
    observations: int = 0  # (conversation, window) pairs: how often this was seen
    first_seen: str = ""  # RFC 3339
    last_seen: str = ""


class Rule(DocBase, frozen=True, kw_only=True):
    id: str
    kind: Kind = "allow"  # "review": rare or too broad; listed, not proposed for allowing
    source: list[Endpoint]
    destination: list[Endpoint]
    proto: Proto
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0  # 0: no port (icmp, or any)
    application: str = ""
    state: State = "proposed"
    by: str = ""  # who decided
    at: str = ""  # when (RFC 3339 or a date)
    ticket: str = ""  # change ticket
    comment: str = ""
    stale: bool = False  # not seen for [policy] stale_after
    why: str = ""  # what the proposer saw (why review, how aggregated)
    evidence: Evidence = msgspec.field(default_factory=Evidence)


class Zone(DocBase, frozen=True, kw_only=True):
    name: str
    label: str = ""
    protected: bool = False
    devices: int = 0
    classes: list[str] = msgspec.field(default_factory=list)
    addresses: list[str] = msgspec.field(default_factory=list)  # prefixes; hosts as /32 or /128


class Header(DocBase, frozen=True, kw_only=True):
    version: int = 1
    site: str = ""
    sensor: str = ""
    generated_at: str = ""
    window_days: float = 30.0
    note: str = ""


class PolicyDoc(DocBase, frozen=True, kw_only=True):
    policy: Header = msgspec.field(default_factory=Header)
    zone: list[Zone] = msgspec.field(default_factory=list)
    rule: list[Rule] = msgspec.field(default_factory=list)

    def zones(self) -> dict[str, Zone]:
        return {z.name: z for z in self.zone}

    def approved(self) -> list[Rule]:
        return [r for r in self.rule if r.state == "approved"]

    def digest(self) -> str:
        """sha256 of what enforcement depends on: the zones' addresses and the approved rules."""
        body = {"zones": {z.name: [z.protected, sorted(z.addresses)] for z in self.zone},
                "rules": sorted([r.id, r.source, r.destination, r.proto, r.port] for r in self.approved())}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def parse_policy(source: str, filename: str) -> PolicyDoc:
    """Decode a policy file or raise ConfigError with file:line: key: problem for each finding."""
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{filename}: not valid TOML: {e}"]) from None
    out = _Collector(filename, LineIndex(source))
    _check_struct(PolicyDoc, raw, (), out)
    if out.problems:
        raise ConfigError(out.messages())
    doc = msgspec.convert(raw, PolicyDoc)
    _semantic(doc, out)
    if out.problems:
        raise ConfigError(out.messages())
    return doc


def _semantic(doc: PolicyDoc, out: _Collector) -> None:
    import ipaddress

    names = {z.name for z in doc.zone}
    for i, z in enumerate(doc.zone):
        for j, a in enumerate(z.addresses):
            try:
                ipaddress.ip_network(a, strict=False)
            except ValueError:
                out.add(("zone", i, "addresses", j), f'expected a prefix like "10.20.30.0/24", got "{a}"')
    ids: dict[str, int] = {}
    for i, r in enumerate(doc.rule):
        if r.id in ids:
            out.add(("rule", i, "id"), f'"{r.id}" is already rule[{ids[r.id] + 1}]: each rule once')
        ids.setdefault(r.id, i)
        for key in ("source", "destination"):
            for j, ep in enumerate(getattr(r, key)):
                kind, _, value = ep.partition(":")
                if kind == "zone" and value not in names:
                    out.add(("rule", i, key, j), f'no zone "{value}" in this file (zones: {", ".join(sorted(names))})')
                elif kind in ("host", "subnet"):
                    try:
                        ipaddress.ip_network(value, strict=False)
                    except ValueError:
                        out.add(("rule", i, key, j), f'expected {kind}:ADDRESS, got "{ep}"')
        if r.proto in ("tcp", "udp", "sctp") and not r.port:
            out.add(("rule", i, "port"), f"{r.proto} needs a port")
        if r.state != "proposed" and not r.by:
            out.add(("rule", i, "by"), f'state is "{r.state}": say who decided (by = "name")')
        if r.state == "approved" and r.kind == "review" and not r.comment:
            out.add(("rule", i, "comment"), "approving a flow listed for review needs a comment saying why")


def load_policy(path: str | Path) -> PolicyDoc:
    p = Path(path)
    try:
        source = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such policy file: run `sensor policy propose`, review it, and put the "
                           f"approved copy there"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}: cannot be read: {e}"]) from None
    return parse_policy(source, str(p))


# --- writing ---------------------------------------------------------------

def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "0.0"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(type(v))


def _table(lines: list[str], header: str, obj: msgspec.Struct) -> None:
    lines.append(header)
    sub = []
    for f in msgspec.structs.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, msgspec.Struct):
            sub.append((f.name, v))
        else:
            lines.append(f"{f.name} = {_value(v)}")
    for name, v in sub:
        _table(lines, f"[{header.strip('[]')}.{name}]", v)


HELP = """\
# edge-sensor segmentation policy: zones by clinical function and one allow rule per needed
# communication, proposed from the flows the sensor observed.
#
# Review each [[rule]]: set state = "approved" or "rejected", with by, at and ticket; put your
# notes in comment (TOML comments starting with # are not kept by the next proposal; comment is).
# kind = "review" marks rare or broad flows: they are listed, not proposed for allowing.
# stale = true: not seen for a while; reject it, or keep it for equipment used rarely.
# Only approved rules are simulated, exported and watched.
"""


def dump_policy(doc: PolicyDoc) -> str:
    lines = [HELP]
    _table(lines, "[policy]", doc.policy)
    for z in doc.zone:
        lines.append("")
        _table(lines, "[[zone]]", z)
    for r in doc.rule:
        lines.append("")
        _table(lines, "[[rule]]", r)
    return "\n".join(lines) + "\n"


def rules_by_id(docs: Iterable[PolicyDoc]) -> dict[str, Rule]:
    """Rules of several documents by id: a decision (approved, rejected) wins over "proposed",
    and among equals an earlier document (the working copy) wins."""
    out: dict[str, Rule] = {}
    for d in docs:
        for r in d.rule:
            have = out.get(r.id)
            if have is None or (have.state == "proposed" and r.state != "proposed"):
                out[r.id] = r
    return out
