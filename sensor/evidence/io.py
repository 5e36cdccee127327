"""Reading the asset register and the advisory directory: the evidence package's only I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sensor.errors import SensorError
from sensor.evidence.advisories import AdvisoryIndex
from sensor.evidence.csaf import Advisory, UnreadableAdvisory, parse_advisory
from sensor.evidence.register import ParsedRegister, parse_register, read_text

MAX_ADVISORY_BYTES = 16 << 20  # CISA's largest is under 1 MB; a bigger file is not an advisory


class EvidenceFileError(SensorError):
    """The register file or the advisory directory cannot be read at all."""

    exit_code = 2


def load_register(path: str | Path, columns: Mapping[str, str] | None = None) -> ParsedRegister:
    """Parse the register file; EvidenceFileError when it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise EvidenceFileError(f"{p}: no such file: give the asset register's CSV export") from None
    except (PermissionError, IsADirectoryError) as e:
        raise EvidenceFileError(f"{p}: cannot be read: {e.strerror}") from None
    return parse_register(read_text(data), str(p), columns)


@dataclass
class LoadedAdvisories:
    advisories: list[Advisory] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    seconds: float = 0.0

    def index(self) -> AdvisoryIndex:
        return AdvisoryIndex(self.advisories)


def load_advisories(directory: str | Path) -> LoadedAdvisories:
    """Every ``*.json`` under ``directory`` (recursively); files that cannot be used are listed with why."""
    d = Path(directory)
    if not d.is_dir():
        raise EvidenceFileError(f"{d}: not a directory: give the directory holding the CSAF JSON files")
    started = time.perf_counter()
    out = LoadedAdvisories()
    seen: dict[str, str] = {}
    for f in sorted(d.rglob("*.json")):
        try:
            if f.stat().st_size > MAX_ADVISORY_BYTES:
                out.unreadable.append((str(f), f"larger than {MAX_ADVISORY_BYTES >> 20} MB"))
                continue
            adv = parse_advisory(f.read_bytes())
        except OSError as e:
            out.unreadable.append((str(f), f"cannot be read: {e.strerror}"))
            continue
        except UnreadableAdvisory as e:
            out.unreadable.append((str(f), str(e)))
            continue
        if adv.id in seen:
            out.unreadable.append((str(f), f"the same advisory ({adv.id}) as {seen[adv.id]}: left out"))
            continue
        seen[adv.id] = str(f)
        out.advisories.append(adv)
    out.seconds = time.perf_counter() - started
    return out
