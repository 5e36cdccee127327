"""The observed communication matrix: who opened what to whom, over a sliding window.

Each flow window's per-device conversations are folded into entries keyed by
(client address, server address, protocol, service port): the client is the side
that opened the conversation. When both ends are devices the window reports the
same conversation twice (once from each side); it is counted once. Each entry keeps
bytes, flow records, the number of windows it was seen in, and first/last seen;
entries not seen within the window (default 30 days) are dropped. Zones are not
stored: they are decided when the matrix is read, with what is known then.

The matrix is a plain struct persisted as JSON in the state directory
(``policy/matrix.json``), so a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec
import structlog

from sensor.flows.model import DeviceConversations
from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.policy")


class Entry(msgspec.Struct, array_like=True):
    """[client, server, proto, port, client_device, server_device, bytes, flows, windows, first_seen, last_seen]"""

    client: str
    server: str
    proto: int
    port: int
    client_device: str | None  # MAC when known
    server_device: str | None
    bytes: int
    flows: int
    windows: int
    first_seen: float
    last_seen: float


class MatrixState(msgspec.Struct, kw_only=True):
    version: int = 1
    entries: list[Entry] = msgspec.field(default_factory=list)
    dropped: int = 0  # entries refused because the matrix was full, ever


Key = tuple[str, str, int, int]


class Matrix:
    """The matrix in memory, indexed by key."""

    def __init__(self, state: MatrixState | None = None, *, window: float = 30 * 86400,
                 max_entries: int = 1_000_000) -> None:
        self.state = state or MatrixState()
        self.window = window
        self.max_entries = max_entries
        self.index: dict[Key, Entry] = {(e.client, e.server, e.proto, e.port): e for e in self.state.entries}

    @property
    def entries(self) -> list[Entry]:
        return list(self.index.values())

    def add_window(self, windows: Iterable[DeviceConversations], now: float) -> int:
        """Fold one window's conversations in; returns how many entries were new."""
        seen: set[Key] = set()
        new = 0
        for dc in windows:
            dev = dc.mac
            start, end = dc.window_start.timestamp(), dc.window_end.timestamp()
            for c in dc.conversations:
                if c.dir == "out":
                    key: Key = (dc.ip, c.peer, c.proto, c.port)
                    client_dev, server_dev = dev, dc.peer_macs.get(c.peer)
                else:
                    key = (c.peer, dc.ip, c.proto, c.port)
                    client_dev, server_dev = dc.peer_macs.get(c.peer), dev
                e = self.index.get(key)
                if key in seen and e is not None:
                    # the other end's report of the same conversation: only what it knows better
                    e.client_device = e.client_device or client_dev
                    e.server_device = e.server_device or server_dev
                    continue
                seen.add(key)
                nbytes = c.bytes_out + c.bytes_in
                if e is None:
                    if len(self.index) >= self.max_entries:
                        self.state.dropped += 1
                        continue
                    self.index[key] = Entry(key[0], key[1], key[2], key[3], client_dev, server_dev, nbytes,
                                            c.flows, 1, start, end)
                    new += 1
                    continue
                e.bytes += nbytes
                e.flows += c.flows
                e.windows += 1
                e.last_seen = max(e.last_seen, end)
                e.first_seen = min(e.first_seen, start)
                e.client_device = client_dev or e.client_device
                e.server_device = server_dev or e.server_device
        self.expire(now)
        return new

    def expire(self, now: float) -> int:
        """Drop what was last seen before the window; returns how many."""
        cutoff = now - self.window
        old = [k for k, e in self.index.items() if e.last_seen < cutoff]
        for k in old:
            del self.index[k]
        return len(old)

    def snapshot(self) -> MatrixState:
        return MatrixState(version=1, entries=list(self.index.values()), dropped=self.state.dropped)


def matrix_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / "policy" / "matrix.json"


def load_matrix(state_dir: str | Path, *, window: float = 30 * 86400, max_entries: int = 1_000_000) -> Matrix:
    """The persisted matrix, or an empty one (a damaged file is logged and replaced)."""
    path = matrix_path(state_dir)
    try:
        state = msgspec.json.decode(path.read_bytes(), type=MatrixState)
    except FileNotFoundError:
        state = MatrixState()
    except (OSError, msgspec.DecodeError) as e:
        log.warning("observed matrix unreadable: starting empty", path=str(path), error=str(e))
        state = MatrixState()
    return Matrix(state, window=window, max_entries=max_entries)


def save_matrix(matrix: Matrix, state_dir: str | Path) -> None:
    write_atomic(matrix_path(state_dir), msgspec.json.encode(matrix.snapshot()))
