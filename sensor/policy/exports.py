"""When ``sensor policy export`` last wrote a ruleset for an approved policy, by policy hash.

An approved policy protects nothing until it is on an enforcement point. The sensor
cannot see a firewall's rules, but it can record that it compiled the approved
policy (this hash) for one: each device's ``controls`` says whether the policy
covering it was exported, and when, and the risk score counts segmentation as
enforced only then. Kept in ``policy/exports.json`` in the state directory.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import structlog

from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.policy")

# Formats that put rules on an enforcement point; csv is a change ticket, not a ruleset.
ENFORCING = frozenset({"nftables", "cisco", "ciscoasa", "paloalto", "junipersrx", "fortigate", "arista", "mud"})
MAX_RECORDS = 200


class ExportRecord(msgspec.Struct, frozen=True, kw_only=True):
    hash: str  # PolicyDoc.digest() of the exported policy
    version: int
    format: str
    at: float
    to: str  # the file or directory written, or "stdout"


class ExportState(msgspec.Struct, kw_only=True):
    version: int = 1
    exports: list[ExportRecord] = msgspec.field(default_factory=list)  # newest last

    def latest(self, digest: str) -> ExportRecord | None:
        """The last ruleset exported for this policy hash (change tickets do not count)."""
        for r in reversed(self.exports):
            if r.hash == digest and r.format in ENFORCING:
                return r
        return None


def exports_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / "policy" / "exports.json"


def load_exports(state_dir: str | Path) -> ExportState:
    path = exports_path(state_dir)
    try:
        return msgspec.json.decode(path.read_bytes(), type=ExportState)
    except FileNotFoundError:
        return ExportState()
    except (OSError, msgspec.DecodeError) as e:
        log.warning("policy export record unreadable: as if nothing was exported", path=str(path), error=str(e))
        return ExportState()


def record_export(state_dir: str | Path, rec: ExportRecord) -> None:
    """Append one export; the oldest beyond MAX_RECORDS are dropped (only the latest per hash matters)."""
    state = load_exports(state_dir)
    state.exports.append(rec)
    del state.exports[:-MAX_RECORDS]
    write_atomic(exports_path(state_dir), msgspec.json.encode(state))
