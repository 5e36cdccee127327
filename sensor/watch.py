"""What ``sensor watch`` checks in each message, without I/O: schema, topic, seq per (sensor, epoch).

``seq`` counts every message a sensor sends, across all its topics, within one epoch
(the outbox's life). A consumer that subscribes to all of a sensor's topics can
therefore prove it missed nothing: the seqs it saw per (sensor, epoch) have no hole.
Messages the broker delivers from its retained store (the retain flag set on
delivery) are old state, not part of the live stream, and are not counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec

from sensor.messages import MESSAGES

MAX_RANGES = 1000  # holes remembered per stream; beyond that the oldest are dropped and counted

# the topic suffix of each kind (its first level for the per-item kinds)
_SUFFIX = {"status": "status", "health": "health", "switch": "switches", "device": "devices", "event": "events",
           "flows": "flows", "register": "register", "policy": "policy"}

Validator = Callable[[str, Any], str | None]


@cache
def _json_validator(kind: str) -> Any:
    import jsonschema  # type: ignore[import-untyped]

    from sensor.commands.schema import shipped

    return jsonschema.Draft202012Validator(json.loads(shipped(kind)))


def schema_validator() -> tuple[Validator, str]:
    """The shipped JSON Schemas through jsonschema when it is installed, else the structs they come from."""
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return _struct_problem, "the message structs the shipped schemas are generated from (jsonschema not installed)"
    return _schema_problem, "the shipped JSON Schemas (jsonschema)"


def _schema_problem(kind: str, env: Any) -> str | None:
    err = next(iter(_json_validator(kind).iter_errors(env)), None)
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(envelope)"
    return f"{where}: {err.message}"


def _struct_problem(kind: str, env: Any) -> str | None:
    raw = msgspec.json.encode(env)
    last = ""
    for t in MESSAGES[kind]:
        try:
            msgspec.json.decode(raw, type=t)
            return None
        except msgspec.ValidationError as e:
            last = str(e)
    return last


@dataclass
class Stream:
    """One (sensor, epoch): the next seq expected and the holes still open."""

    next: int | None = None
    holes: list[list[int]] = field(default_factory=list)  # [first, last] seqs not (yet) seen
    received: int = 0
    duplicates: int = 0
    late: int = 0  # arrived after a later seq: a hole closed
    holes_dropped: int = 0

    def missing(self) -> int:
        return sum(b - a + 1 for a, b in self.holes)

    def see(self, seq: int) -> str | None:
        self.received += 1
        if self.next is None or seq == self.next:
            self.next = seq + 1
            return None
        if seq > self.next:
            self.holes.append([self.next, seq - 1])
            if len(self.holes) > MAX_RANGES:
                a, b = self.holes.pop(0)
                self.holes_dropped += b - a + 1
            span = f"{self.next}..{seq - 1}" if seq - 1 > self.next else f"{self.next}"
            note = f"gap: seq {span} missing"
            self.next = seq + 1
            return note
        for i, (a, b) in enumerate(self.holes):
            if a <= seq <= b:
                parts = [[a, seq - 1]] if seq > a else []
                parts += [[seq + 1, b]] if seq < b else []
                self.holes[i:i + 1] = parts
                self.late += 1
                return f"late: seq {seq} (out of order)"
        self.duplicates += 1
        return f"duplicate: seq {seq} (a QoS 1 redelivery)"


@dataclass
class Checked:
    topic: str
    retained: bool
    env: dict[str, Any] | None  # None: an empty message (a cleared retained topic)
    problems: list[str]
    seq_note: str | None = None
    new_epoch: bool = False


class Checker:
    """Validates messages and follows seq per (sensor, epoch)."""

    def __init__(self, validate: Validator) -> None:
        self.validate = validate
        self.streams: dict[tuple[str, str], Stream] = {}
        self.epochs: dict[str, str] = {}  # sensor -> the latest epoch seen
        self.messages = 0
        self.invalid = 0

    def check(self, topic: str, payload: bytes, retained: bool) -> Checked:
        self.messages += 1
        if not payload:
            problems = [] if "/devices/" in topic else ["an empty message, but only device records are ever cleared"]
            self.invalid += bool(problems)
            return Checked(topic, retained, None, problems)
        try:
            env = json.loads(payload)
        except ValueError as e:
            self.invalid += 1
            return Checked(topic, retained, None, [f"not JSON: {e}"])
        if not isinstance(env, dict) or env.get("kind") not in MESSAGES:
            self.invalid += 1
            kind = env.get("kind") if isinstance(env, dict) else None
            return Checked(topic, retained, None, [f"unknown kind {kind!r}"])
        problems = []
        bad = self.validate(env["kind"], env)
        if bad:
            problems.append(f"schema: {bad}")
        problems += topic_problems(topic, env)
        out = Checked(topic, retained, env, problems)
        self.invalid += bool(problems)
        sensor, epoch, seq = f"{env.get('site')}/{env.get('sensor')}", env.get("epoch"), env.get("seq")
        if isinstance(epoch, str) and not retained:
            if self.epochs.get(sensor) not in (None, epoch):
                out.new_epoch = True
            self.epochs[sensor] = epoch
            if isinstance(seq, int):
                out.seq_note = self.streams.setdefault((sensor, epoch), Stream()).see(seq)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages, "invalid": self.invalid,
            "streams": [{"sensor": s, "epoch": e, "received": st.received, "first_missing": st.holes[:5],
                         "missing": st.missing() + st.holes_dropped, "duplicates": st.duplicates, "late": st.late,
                         "next_seq": st.next}
                        for (s, e), st in sorted(self.streams.items())],
        }

    def missing(self) -> int:
        return sum(st.missing() + st.holes_dropped for st in self.streams.values())

    # -- state across restarts of the watcher (its persistent session keeps the messages) ------------
    def dump_state(self) -> bytes:
        return json.dumps({f"{s}|{e}": {"next": st.next, "holes": st.holes}
                           for (s, e), st in self.streams.items()}).encode()

    def load_state(self, raw: bytes) -> None:
        for key, v in json.loads(raw).items():
            s, _, e = key.partition("|")
            self.streams[(s, e)] = Stream(next=v.get("next"), holes=[list(h) for h in v.get("holes", [])])
            self.epochs[s] = e


def topic_problems(topic: str, env: dict[str, Any]) -> list[str]:
    """The topic must be {prefix}/{site}/{sensor}/{suffix of the kind}."""
    want = f"/{env.get('site')}/{env.get('sensor')}/"
    at = topic.find(want)
    if at < 0:
        return [f"topic does not name the envelope's site/sensor {want.strip('/')}"]
    suffix = topic[at + len(want):]
    if suffix.split("/", 1)[0] != _SUFFIX.get(str(env.get("kind")), ""):
        return [f"topic suffix {suffix!r} does not match kind {env.get('kind')!r}"]
    data = env.get("data")
    if env.get("kind") == "device" and isinstance(data, dict) and suffix != f"devices/{data.get('mac')}":
        return [f"device record for {data.get('mac')} on {suffix}"]
    return []


def describe(c: Checked) -> str:
    """One human-readable line."""
    flag = "R" if c.retained else " "
    if c.env is None:
        what = "cleared (empty retained message)" if not c.problems else "; ".join(c.problems)
        return f"{flag} {c.topic}: {what}"
    e = c.env
    raw = e.get("data")
    d: dict[str, Any] = raw if isinstance(raw, dict) else {}
    seq = e.get("seq")
    head = (f"{flag} {str(e.get('observed_at', ''))[:23]} {e.get('site')}/{e.get('sensor')} "
            f"{str(e.get('epoch', ''))[-8:]}#{seq if seq is not None else '-'} {e.get('kind')}")
    kind = e.get("kind")
    if kind == "device":
        att = d.get("attachment") or {}
        cls = (d.get("classification") or {}).get("device_class")
        body = (f"{d.get('mac')} {'present' if d.get('present') else 'gone'} {cls} "
                f"{att.get('switch', '-')}/{att.get('port', '-')} vlan {att.get('vlan')} "
                f"last_seen {d.get('last_seen')}")
    elif kind == "event":
        body = f"{d.get('event')} {d.get('mac') or d.get('device') or ''} {d.get('detail') or d.get('rule') or ''}"
        if d.get("event") == "snapshot_complete":
            body = (f"snapshot_complete ({d.get('reason')}): {d.get('retained')} seqs "
                    f"{d.get('first_seq')}..{d.get('last_seq')}")
    elif kind == "status":
        body = f"{d.get('state')}{' (last will)' if d.get('will') else ''} version {d.get('version')}"
    elif kind == "health":
        body = (f"outbox {d.get('outbox_depth')}/{d.get('outbox_max')} dropped {d.get('outbox_dropped_total')} "
                f"retained {d.get('retained')} failing {sorted(d.get('failing_sources') or {})}")
    elif kind == "switch":
        body = f"{d.get('switch')} ok={d.get('ok')} {d.get('last_error') or ''}"
    else:
        body = ""
    line = f"{head} {body}".rstrip()
    notes = list(c.problems) + ([c.seq_note] if c.seq_note else []) + (["new epoch"] if c.new_epoch else [])
    return line + (f"  [{'; '.join(notes)}]" if notes else "")


def as_json(c: Checked) -> str:
    return json.dumps({"topic": c.topic, "retained": c.retained, "valid": not c.problems, "problems": c.problems,
                       "seq_note": c.seq_note, "new_epoch": c.new_epoch, "message": c.env}, sort_keys=True)
