"""The correlator's memory on disk: ``{state_dir}/correlation.state`` (msgpack).

Written atomically (temporary file, fsync, rename, fsync of the directory), so a
kill -9 or a power cut leaves either the old or the new state, never half of one.
An unreadable or newer-format file is moved aside (``.bad``) and the correlator
starts afresh: devices then appear again, which is noisy but loses nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import msgspec
import structlog

from sensor.correlate.tracker import STATE_VERSION, TrackerState
from sensor.statefiles import write_atomic

log = structlog.get_logger("sensor.correlate")
FILENAME = "correlation.state"
_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(TrackerState)


def state_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / FILENAME


def load_state(path: Path) -> TrackerState:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return TrackerState()
    try:
        state = _dec.decode(data)
        if state.version != STATE_VERSION:
            raise ValueError(f"state version {state.version}, expected {STATE_VERSION}")
        return state
    except (msgspec.DecodeError, ValueError) as e:
        bad = path.with_suffix(".bad")
        with contextlib.suppress(OSError):
            os.replace(path, bad)
        log.warning("correlation state unreadable: starting afresh", path=str(path), moved_to=str(bad), error=str(e))
        return TrackerState()


def save_state(path: Path, state: TrackerState) -> None:
    write_atomic(path, _enc.encode(state))
