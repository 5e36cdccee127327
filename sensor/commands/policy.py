"""``sensor policy ACTION --config FILE``: the segmentation policy, from observation to enforcement.

- ``matrix``: the observed communication matrix, per zone and device;
- ``propose``: write the reviewable policy (zones, rules with evidence), keeping decisions;
- ``diff``: what changed between the proposal and the approved file;
- ``simulate``: what the approved policy would block of what was observed;
- ``export --format F``: compile the approved policy for a firewall, a ticket (csv) or NAC (mud).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sensor.commands.common import add_config, config_path, config_problems
from sensor.config import Config, load_config
from sensor.errors import ConfigError, SensorError
from sensor.policy.apps import PROTO_NAMES, service_text
from sensor.policy.apps import configure as configure_apps
from sensor.policy.document import PolicyDoc, Rule, dump_policy, load_policy
from sensor.policy.matrix import Entry, load_matrix, matrix_path


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        add_config(p)
        return p

    m = add("matrix", "the observed communication matrix, per zone and device")
    m.add_argument("--zone", action="append", help="only this zone (repeatable)")
    m.add_argument("--json", action="store_true", help="one JSON array of rows")
    p = add("propose", "write the proposed policy, keeping every decision already made")
    p.add_argument("--out", metavar="PATH", help="where to write it (default: STATE_DIR/policy/proposed.toml)")
    a = add("approve", "record a review decision on rules of the proposal (or edit the file by hand)")
    a.add_argument("--by", required=True, help="who decides, e.g. \"biomed:ana\"")
    a.add_argument("--ticket", default="", help="the change ticket")
    a.add_argument("--comment", default="", help="why (required for a rule listed for review)")
    a.add_argument("--reject", action="store_true", help="reject instead of approve")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", help="a rule's id (repeatable)")
    which.add_argument("--all", action="store_true", help='every undecided rule of kind "allow" (not those for review)')
    a.add_argument("--file", metavar="PATH", help="the policy file to edit (default: STATE_DIR/policy/proposed.toml)")
    a.add_argument("--to", metavar="PATH", help="write the result here instead (e.g. the approved file)")
    d = add("diff", "what changed between the proposal and the approved policy")
    d.add_argument("--proposed", metavar="PATH", help="default: STATE_DIR/policy/proposed.toml")
    d.add_argument("--approved", metavar="PATH", help="default: [policy] file")
    s = add("simulate", "replay the observed conversations against the approved policy")
    s.add_argument("--policy", metavar="PATH", help="default: [policy] file")
    s.add_argument("--json", action="store_true", help="one JSON object")
    e = add("export", "compile the approved policy for an enforcement point")
    from sensor.policy.export import FORMATS

    e.add_argument("--format", "-f", required=True, choices=FORMATS)
    e.add_argument("--policy", metavar="PATH", help="default: [policy] file")
    e.add_argument("--out", "-o", metavar="PATH", help="write here instead of standard output (mud: a directory)")
    e.add_argument("--mud-base-url", default="https://mud.example.invalid/edge-sensor",
                   help="where the MUD files will be served (the mud-url of each)")


def _approved_path(cfg: Config, given: str | None) -> Path:
    if given:
        return Path(given)
    if cfg.policy.file:
        return Path(cfg.policy.file)
    raise SensorError("no approved policy: set [policy] file = \"/etc/edge-sensor/policy.toml\" in the "
                      "configuration, or give --policy PATH")


def _proposed_path(cfg: Config, given: str | None) -> Path:
    return Path(given) if given else Path(cfg.sensor.state_dir) / "policy" / "proposed.toml"


def _entries(cfg: Config) -> list[Entry]:
    m = load_matrix(cfg.sensor.state_dir, window=float(cfg.policy.window), max_entries=cfg.policy.max_flows)
    m.expire(time.time())
    return m.entries


def _placer(cfg: Config, entries: list[Entry]) -> Any:
    from sensor.commands.inventory import load_devices
    from sensor.policy.propose import Placer, inventory, served_servers
    from sensor.policy.zones import Zoning

    devices = inventory(load_devices(cfg.sensor.state_dir))
    zoning = Zoning.from_config(cfg.policy, cfg.flows.internal if cfg.flows else ("10.0.0.0/8", "172.16.0.0/12",
                                "192.168.0.0/16", "fc00::/7"), served_servers(entries, devices))
    return Placer(zoning, devices)


def _load_doc(path: Path) -> PolicyDoc | None:
    return load_policy(path) if path.exists() else None


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(config_path(args) or "", check_files=False)
        configure_apps(dict(cfg.policy.applications))
        return int(globals()[f"_{args.action}"](cfg, args))
    except ConfigError as e:
        return config_problems(e)


def _matrix(cfg: Config, args: argparse.Namespace) -> int:
    entries = _entries(cfg)
    placer = _placer(cfg, entries)
    rows = []
    for e in entries:
        c, s = placer(e.client, e.client_device), placer(e.server, e.server_device)
        for dev, dev_ip, zone, peer, peer_zone, initiator in (
                (e.client_device, e.client, c.zone, e.server, s.zone, "device"),
                (e.server_device, e.server, s.zone, e.client, c.zone, "peer")):
            if zone == "external" or (args.zone and zone not in args.zone):
                continue
            rows.append({"zone": zone, "device": dev or dev_ip, "ip": dev_ip, "peer": peer, "peer_zone": peer_zone,
                         "proto": PROTO_NAMES.get(e.proto, str(e.proto)), "port": e.port,
                         "service": service_text(e.proto, e.port), "initiator": initiator, "bytes": e.bytes,
                         "flows": e.flows, "windows": e.windows, "first_seen": e.first_seen,
                         "last_seen": e.last_seen})
    rows.sort(key=lambda r: (r["zone"], r["device"], r["peer_zone"], r["peer"], r["port"]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"no conversations observed yet in {matrix_path(cfg.sensor.state_dir)}: the flow source fills it "
              f"every window")
        return 0
    zone = None
    for r in rows:
        if r["zone"] != zone:
            zone = r["zone"]
            devs = len({x["device"] for x in rows if x["zone"] == zone})
            print(f"{zone}: {devs} device(s)")
        arrow = "->" if r["initiator"] == "device" else "<-"
        print(f"  {r['device']} {arrow} {r['peer']} ({r['peer_zone']}) {r['service']}: {r['bytes']} bytes, "
              f"{r['windows']} window(s)")
    return 0


def _propose(cfg: Config, args: argparse.Namespace) -> int:
    from sensor.policy.propose import propose

    out = _proposed_path(cfg, args.out)
    previous = [d for d in (_load_doc(out), _load_doc(Path(cfg.policy.file)) if cfg.policy.file else None) if d]
    entries = _entries(cfg)
    if not entries:
        print(f"sensor policy propose: no conversations observed yet ({matrix_path(cfg.sensor.state_dir)}): "
              f"run the sensor with [flows] for a while first", file=sys.stderr)
        return 1
    prop = propose(entries, _placer(cfg, entries), cfg.policy, now=time.time(), previous=previous,
                   site=cfg.sensor.site, sensor=cfg.sensor.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(dump_policy(prop.doc), encoding="utf-8")
    tmp.replace(out)
    doc = prop.doc
    print(f"policy version {doc.policy.version} written to {out}")
    for z in doc.zone:
        if z.devices or z.addresses:
            print(f"  zone {z.name}{' (protected)' if z.protected else ''}: {z.devices} device(s), "
                  f"{len(z.addresses)} address(es)")
    allow = [r for r in doc.rule if r.kind == "allow"]
    review = [r for r in doc.rule if r.kind == "review"]
    for r in doc.rule:
        print(f"  [{r.kind} {r.state}{' stale' if r.stale else ''}] {_rule_text(r)}")
    print(f"{len(allow)} rule(s) to allow, {len(review)} listed for review, {len(prop.new)} new, "
          f"{len(prop.stale)} stale; {prop.out_of_scope} conversation(s) touch no protected zone")
    return 0


def _approve(cfg: Config, args: argparse.Namespace) -> int:
    import msgspec

    from sensor.policy.propose import iso

    src = _proposed_path(cfg, args.file)
    doc = load_policy(src)
    ids = set(args.id or ())
    unknown = ids - {r.id for r in doc.rule}
    if unknown:
        raise SensorError(f"no rule with id {', '.join(sorted(unknown))} in {src}: copy ids from the file")
    state = "rejected" if args.reject else "approved"
    now = iso(time.time())
    changed = 0
    rules = []
    for r in doc.rule:
        pick = r.id in ids if ids else (r.kind == "allow" and r.state == "proposed")
        if pick:
            if r.kind == "review" and state == "approved" and not args.comment:
                raise SensorError(f"rule {r.id} is listed for review ({r.why}): give --comment saying why to allow it")
            r = msgspec.structs.replace(r, state=state, by=args.by, at=now, ticket=args.ticket or r.ticket,
                                        comment=args.comment or r.comment)
            changed += 1
        rules.append(r)
    out = Path(args.to) if args.to else src
    tmp = out.with_suffix(".tmp")
    tmp.write_text(dump_policy(msgspec.structs.replace(doc, rule=rules)), encoding="utf-8")
    tmp.replace(out)
    print(f"{changed} rule(s) {state} by {args.by}; written to {out}")
    return 0


def _rule_text(r: Rule) -> str:
    svc = f"{r.proto}/{r.port}" if r.port else r.proto
    app = f" ({r.application})" if r.application else ""
    ev = r.evidence
    return (f"{', '.join(r.source)} -> {', '.join(r.destination)} {svc}{app}: {ev.devices} device(s), "
            f"{ev.observations} observation(s), {ev.bytes} bytes, last {ev.last_seen}")


def _diff(cfg: Config, args: argparse.Namespace) -> int:
    proposed = load_policy(_proposed_path(cfg, args.proposed))
    approved_path = _approved_path(cfg, args.approved)
    approved = _load_doc(approved_path) or PolicyDoc()
    old = {r.id: r for r in approved.rule}
    new = {r.id: r for r in proposed.rule}
    changes = 0
    for rid in sorted(new.keys() - old.keys()):
        print(f"+ {new[rid].state} {_rule_text(new[rid])}")
        changes += 1
    for rid in sorted(old.keys() - new.keys()):
        print(f"- {old[rid].state} {_rule_text(old[rid])}")
        changes += 1
    for rid in sorted(new.keys() & old.keys()):
        a, b = old[rid], new[rid]
        keys = ("state", "kind", "stale", "by", "at", "ticket", "comment")
        fields = [f for f in keys if getattr(a, f) != getattr(b, f)]
        if fields:
            what = ", ".join(f"{f} {getattr(a, f)!r} -> {getattr(b, f)!r}" for f in fields)
            print(f"~ {rid}: {what}")
            changes += 1
    za, zb = approved.zones(), proposed.zones()
    for name in sorted(za.keys() | zb.keys()):
        before = set(za[name].addresses) if name in za else set()
        after = set(zb[name].addresses) if name in zb else set()
        if before != after:
            print(f"~ zone {name}: +{len(after - before)} -{len(before - after)} address(es)"
                  + (f" (added {', '.join(sorted(after - before)[:5])})" if after - before else ""))
            changes += 1
    print(f"{changes} change(s) between {approved_path} (version {approved.policy.version}) and the proposal "
          f"(version {proposed.policy.version})")
    return 1 if changes else 0


def _simulate(cfg: Config, args: argparse.Namespace) -> int:
    from sensor.policy.match import simulate
    from sensor.policy.propose import iso

    doc = load_policy(_approved_path(cfg, args.policy))
    entries = _entries(cfg)
    blocked, in_scope, allowed = simulate(doc, entries)
    if args.json:
        print(json.dumps({"in_scope": in_scope, "allowed": allowed, "blocked": [
            {"client": b.client, "client_device": b.client_device, "client_zone": b.client_zone,
             "server": b.server, "server_device": b.server_device, "server_zone": b.server_zone,
             "proto": PROTO_NAMES.get(b.proto, str(b.proto)), "port": b.port, "application": b.application,
             "observations": b.observations, "flows": b.flows, "bytes": b.bytes, "last_seen": iso(b.last_seen),
             "nearest_rule": b.nearest} for b in blocked]}, indent=1))
        return 0
    for b in blocked:
        print(f"BLOCKED {b.client_device or b.client} ({b.client_zone}) -> {b.server} ({b.server_zone}) "
              f"{service_text(b.proto, b.port)}: seen {b.observations} time(s), {b.flows} flow(s), {b.bytes} bytes, "
              f"last {iso(b.last_seen)}" + (f"; nearest approved rule: {b.nearest}" if b.nearest else ""))
    print(f"{len(entries)} conversation(s) observed, {in_scope} in the policy's scope: {allowed} allowed, "
          f"{len(blocked)} would be blocked by policy version {doc.policy.version} ({len(doc.approved())} approved "
          f"rule(s))")
    return 0


def _export(cfg: Config, args: argparse.Namespace) -> int:
    from sensor.policy.export import export, to_mud

    doc = load_policy(_approved_path(cfg, args.policy))
    if args.format == "mud" and args.out:
        d = Path(args.out)
        d.mkdir(parents=True, exist_ok=True)
        files = to_mud(doc, args.mud_base_url)
        for cls, mud in files.items():
            (d / f"{cls}.json").write_text(json.dumps(mud, indent=2) + "\n", encoding="utf-8")
        print(f"{len(files)} MUD file(s) written to {d}: {', '.join(sorted(files))}")
        _record(cfg, doc, args.format, str(d))
        return 0
    text = export(doc, args.format, mud_base_url=args.mud_base_url)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{args.format} policy (version {doc.policy.version}, {len(doc.approved())} approved rule(s)) "
              f"written to {args.out}")
    else:
        sys.stdout.write(text)
    _record(cfg, doc, args.format, args.out or "stdout")
    return 0


def _record(cfg: Config, doc: PolicyDoc, fmt: str, to: str) -> None:
    """Remember that this policy hash was compiled for an enforcement point (the devices' controls say so)."""
    from sensor.policy.exports import ExportRecord, record_export

    try:
        record_export(cfg.sensor.state_dir, ExportRecord(hash=doc.digest(), version=doc.policy.version, format=fmt,
                                                         at=time.time(), to=to))
    except OSError as e:
        print(f"sensor policy export: the export was not recorded in {cfg.sensor.state_dir} ({e.strerror or e}): "
              f"device controls will not count it as enforced", file=sys.stderr)
