"""What one poll of one switch says in words: for the log, ``sensor poll`` and ``sensor status`` (pure).

A poll is *degraded* when it worked but not as configured: a method failed and another
answered, a table was read only in part, or a configured uplink is not a port of the
switch. Degradation is never silent: each reason is one line, and the commands exit 3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from collectors.cli.names import canonical_name
from collectors.facts import TABLES, Interface, Snapshot
from sensor.switches.methods import SwitchPoll


def rows(snap: Snapshot) -> dict[str, int]:
    """Rows per logical table."""
    return {"interfaces": len(snap.interfaces), "fdb": len(snap.fdb), "arp": len(snap.arp),
            "lldp": sum(1 for n in snap.lldp if n.protocol != "cdp"),
            "cdp": sum(1 for n in snap.lldp if n.protocol == "cdp")}


def missing_uplinks(uplinks: Iterable[str], interfaces: Sequence[Interface]) -> list[str]:
    """The configured uplinks that name no port of the switch (by name, description, alias or
    ifIndex; ``Gi1/0/48`` matches ``GigabitEthernet1/0/48``). Nothing is missing when the
    interface table is empty: that is a failed table, reported as such."""
    if not interfaces:
        return []
    names: set[str] = set()
    for i in interfaces:
        for n in (i.name, i.descr, i.alias):
            if n:
                names.add(n.strip().lower())
                names.add(canonical_name(n).lower())
        names.add(str(i.ifindex))
    return [u for u in uplinks if u.strip().lower() not in names and canonical_name(u).lower() not in names]


def incomplete_tables(snap: Snapshot) -> list[str]:
    """Tables read only in part or not at all, with why (an unsupported table is not counted)."""
    out = []
    for st in snap.tables:
        if st.complete or not st.problems or all(p.kind == "unsupported" for p in st.problems):
            continue
        why = "; ".join(str(p) for p in st.problems if p.kind != "unsupported")
        out.append(f"{st.table} incomplete over {st.method}: {why}")
    return out


def degraded(poll: SwitchPoll, uplinks: Iterable[str] = ()) -> list[str]:
    """Every reason this poll is degraded, one line each (empty: all is well)."""
    snap = poll.snapshot
    out = [f"{m} failed: {why}" for m, why in poll.failures.items()]
    out.extend(incomplete_tables(snap))
    seen = set(out)
    out.extend(e for e in snap.errors if e not in seen and not any(e in o for o in out))
    missing = missing_uplinks(uplinks, snap.interfaces)
    if missing:
        out.append(uplink_warning(missing, snap))
    return out


def uplink_warning(missing: Sequence[str], snap: Snapshot) -> str:
    ports = [i.name or i.descr for i in snap.interfaces if i.name or i.descr]
    shown = ", ".join(ports[:8]) + (f" and {len(ports) - 8} more" if len(ports) > 8 else "")
    return (f"configured uplink{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"{'are' if len(missing) > 1 else 'is'} not a port of this switch (its ports: {shown}): "
            "check uplinks in the configuration")


def methods_used(snap: Snapshot) -> list[str]:
    """The methods whose answers made this snapshot, in order of preference."""
    used = list(dict.fromkeys(snap.table_methods.values())) or [snap.method]
    return used


def poll_line(switch: str, poll: SwitchPoll, problems: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """One log line for one poll: the words, and the same as fields for JSON."""
    snap = poll.snapshot
    r = rows(snap)
    counts = ", ".join(f"{n} {t}" for t, n in r.items())
    used = "+".join(methods_used(snap))
    state = "degraded" if problems else "ok"
    text = f"poll {switch}: {state} via {used} in {poll.duration_s:.1f}s: {counts}"
    if problems:
        text += " | " + " | ".join(problems)
    detail: dict[str, Any] = {
        "switch": switch, "state": state, "methods": snap.table_methods or {t: snap.method for t in TABLES},
        "rows": r, "duration_s": round(poll.duration_s, 3), "failed": dict(poll.failures),
        "problems": list(problems)}
    return text, detail
