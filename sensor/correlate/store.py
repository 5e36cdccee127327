"""The correlator's memory on disk: ``{state_dir}/correlation.state`` (msgpack).

Written atomically (temporary file, fsync, rename, fsync of the directory), so a
kill -9 or a power cut leaves either the old or the new state, never half of one.
An unreadable or newer-format file is moved aside (``.bad``) and the correlator
starts afresh: devices then appear again, which is noisy but loses nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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
    write_atomic(path, encode_state(state))


CHUNK = 2048  # devices or bindings encoded at once


def encode_state(state: TrackerState) -> Iterator[bytes]:
    """``state`` as msgpack in pieces, byte for byte what encoding it whole gives.

    Whole, a campus's state (50,000 devices) was a 30 MB bytes object on top of everything else
    at each save; in pieces of CHUNK entries it is well under a megabyte at a time.
    """
    fields = state.__struct_fields__
    yield _map_header(len(fields))
    for name in fields:
        yield _enc.encode(name)
        value = getattr(state, name)
        if isinstance(value, dict):
            yield from _map_pieces(value)
        else:
            yield _enc.encode(value)


def _map_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x80 | n,))
    if n < 1 << 16:
        return b"\xde" + n.to_bytes(2, "big")
    return b"\xdf" + n.to_bytes(4, "big")


def _map_pieces(d: Mapping[str, Any]) -> Iterator[bytes]:
    yield _map_header(len(d))
    items = iter(d.items())
    while chunk := dict(itertools.islice(items, CHUNK)):
        yield _enc.encode(chunk)[len(_map_header(len(chunk))):]
