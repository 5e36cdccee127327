"""The SQLite outbox: every observation is committed here before it is published.

Durability: WAL with ``synchronous=FULL``. In WAL mode NORMAL only loses the last
commits on power loss, but those commits may already have been published with
their ``seq``; after a rollback the same ``seq`` would be handed out again for a
different message and the hub could no longer prove it missed nothing. FULL
fsyncs the WAL at every commit; batching many observations per commit (see
``append``) keeps that to one fsync per batch, not per message.

Ordering uses the row id, AUTOINCREMENT so that an id is never handed out twice
(without it SQLite reuses ids once the outbox has drained, and the publisher, which
reads "ids above the last one sent", would skip the new rows). ``seq`` is the envelope's counter, kept in ``meta`` in
the same transaction as the rows, so it survives restarts and kill -9.

``seq`` must never go backwards, even when the outbox file is damaged or lost, so its
high-water mark is also kept beside it in ``outbox.seq`` (a small file replaced
atomically): seqs are reserved there in blocks before the outbox uses them. At open
the outbox is checked (``PRAGMA quick_check``, its tables, ``next_seq``); a damaged one
is moved aside (``outbox.sqlite3.damaged-<time>``) with one error and a fresh one
continues after the high-water mark. The seqs that can no longer be delivered are
counted in ``dropped_total`` and ``last_dropped_seq`` like any other drop.

The mark also holds the ``epoch``: an id made when a fresh mark is written (a new state
directory, or a mark lost with its outbox), carried in every envelope. ``(sensor, epoch,
seq)`` is unique: after a reset the seqs start again at 1, in a new epoch.

The same file is the local store: ``retained`` keeps the latest payload of every
retained topic (devices, switches), which ``sensor inventory`` reads whether or not
a hub is configured.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import structlog

from sensor.errors import StoreError, StoreFullError
from sensor.metrics import Metrics
from sensor.observations import SCHEMA, Envelope, Observation, SnapshotComplete, event_obs
from sensor.statefiles import create_private, ensure_dir, is_disk_full, is_write_failure, write_atomic

T = TypeVar("T")

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS retained (
    topic TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    seq INTEGER,
    payload BLOB NOT NULL,
    updated REAL NOT NULL
);
-- health counts the retained messages per kind every health interval: without this index that
-- reads every stored payload (39 ms of CPU for 51,000 records; 4 ms with it).
CREATE INDEX IF NOT EXISTS retained_kind ON retained(kind);
"""

_encoder = msgspec.json.Encoder()
_TABLES = {"outbox", "meta", "retained"}
SEQ_BLOCK = 4096  # seqs reserved per write of outbox.seq: one extra fsync per 4,096 messages
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


class SeqMark(msgspec.Struct, frozen=True, kw_only=True):
    """``outbox.seq``: what must survive the loss of the outbox itself."""

    reserved: int  # no seq at or above this has been handed out
    pending_from: int  # the lowest seq that was not yet acknowledged when this was written
    dropped_total: int = 0
    last_dropped_seq: int = 0
    epoch: str | None = None  # None: written by a version without epochs (one is made at open)


def new_epoch(now: float | None = None) -> str:
    """A new outbox life: its start time (sortable, readable) and 32 random bits (unique)."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


class _Damaged(Exception):
    """The outbox file is not a usable outbox (raised and handled inside ``_open_sync``)."""


def _store_error(action: str, path: Path, e: BaseException) -> StoreError:
    if is_disk_full(e):
        return StoreFullError(f"cannot {action} the outbox {path}: {e}: the file system of sensor.state_dir is "
                              f"full; nothing new is committed until there is room again")
    if is_write_failure(e):
        return StoreFullError(f"cannot {action} the outbox {path}: {e}: check the file system of "
                              f"sensor.state_dir (full?); nothing new is committed until it can be written")
    return StoreError(f"cannot {action} the outbox {path}: {e}")


def rfc3339(ts: float) -> str:
    """The one time format on the wire: exactly what msgspec writes for the records' datetimes."""
    return _encoder.encode(datetime.fromtimestamp(ts, UTC))[1:-1].decode()


class _Stored(msgspec.Struct, frozen=True):
    """A stored envelope, its data kept as bytes (for a republish)."""

    kind: str
    observed_at: str
    data: msgspec.Raw


class Row(msgspec.Struct, frozen=True, array_like=True):
    id: int
    seq: int | None
    topic: str
    payload: bytes
    retain: bool


class Outbox:
    """Bounded, durable queue of enveloped messages; all SQLite work runs on one thread."""

    def __init__(self, path: Path, *, site: str, sensor_id: str, max_messages: int, metrics: Metrics) -> None:
        self.path = path
        self.site = site
        self.sensor_id = sensor_id
        self.max_messages = max_messages
        self.metrics = metrics
        self.log = structlog.get_logger("sensor.outbox")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        # Reads get their own connection and thread: with WAL they never wait behind a writer's fsync.
        self._read_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-read")
        self._db: sqlite3.Connection | None = None
        self._rdb: sqlite3.Connection | None = None
        self.depth = 0
        self.depth_max = 0  # the highest depth since start: shows whether backpressure held
        self.next_seq = 1
        self.dropped_total = 0
        self.last_dropped_seq = 0
        self.reserved = 0
        self.epoch = ""
        self.mark_path = path.with_name(path.stem + ".seq")
        self.damage: str | None = None  # what was wrong with the outbox found at open, if anything
        self.moved_aside: Path | None = None
        self.changed = asyncio.Event()

    # -- thread helpers ----------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.metrics.charge, "outbox", fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self.metrics.charge, "outbox", fn, *args)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("outbox is not open")
        return self._db

    # -- open / close ------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open_sync)
        self.metrics.set("outbox_depth", self.depth)
        self.metrics.set("outbox_dropped_total", self.dropped_total)

    def _open_sync(self) -> None:
        mark = self._read_mark()
        try:
            ensure_dir(self.path.parent)
            existed = self.path.exists() and self.path.stat().st_size > 0
            create_private(self.path)
            try:
                db, state = self._connect_checked(existed, mark)
            except _Damaged as e:
                self._move_aside(str(e))
                create_private(self.path)
                db, state = self._connect_checked(False, None)
        except (sqlite3.Error, OSError) as e:
            if is_write_failure(e):
                raise _store_error("open", self.path, e) from None
            raise StoreError(
                f"cannot open the outbox {self.path}: {e} (check that sensor.state_dir exists and is writable)"
            ) from None
        self._db = db
        try:
            self._rdb = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._settle_seq(mark, *state)
        except (sqlite3.Error, OSError) as e:
            self._close_sync()
            raise _store_error("open", self.path, e) from None

    def _settle_seq(self, mark: SeqMark | None, meta: dict[str, int], max_row_seq: int | None, depth: int) -> None:
        self.depth = depth
        self.dropped_total = max(int(meta.get("dropped_total", 0)), mark.dropped_total if mark else 0)
        self.last_dropped_seq = max(int(meta.get("last_dropped_seq", 0)), mark.last_dropped_seq if mark else 0)
        db_next = meta.get("next_seq")
        self.next_seq = int(db_next) if db_next is not None else 1
        if max_row_seq is not None and self.next_seq <= max_row_seq:
            self.damage = self.damage or f"next_seq {db_next} is not above the seq {max_row_seq} of a pending message"
        elif db_next is None and mark is not None and mark.reserved > 1:
            self.damage = self.damage or "its next_seq is missing"
        if self.damage is not None:
            self._recover_seq(mark, max_row_seq)
        self.reserved = mark.reserved if mark is not None else 0
        self.epoch = mark.epoch if mark is not None and mark.epoch else new_epoch()
        if mark is None or not mark.epoch:
            self.log.info("new outbox epoch", epoch=self.epoch, next_seq=self.next_seq)
        if (self.damage is not None or mark is None or self.reserved < self.next_seq
                or mark.epoch != self.epoch):
            self._write_mark(self.next_seq + SEQ_BLOCK)

    def _connect_checked(self, existed: bool,
                         mark: SeqMark | None) -> tuple[sqlite3.Connection, tuple[dict[str, int], int | None, int]]:
        """Open and check the file; raises _Damaged when it is not a whole outbox."""
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            try:
                problems = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
                if problems != ["ok"]:
                    raise _Damaged(f"quick_check: {'; '.join(str(p) for p in problems[:3])}")
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                ours = tables & _TABLES
                if ours and ours != _TABLES:
                    raise _Damaged(f"table(s) {', '.join(sorted(_TABLES - ours))} missing")
                if not ours and (existed or (mark is not None and mark.reserved > 1)):
                    what = "has none of the outbox's tables" if existed else "is missing or empty"
                    raise _Damaged(f"it {what} although seqs up to {mark.reserved - 1 if mark else '?'} were "
                                   f"handed out")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.executescript(_SCHEMA_SQL)
                meta = {str(k): int(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
                max_row_seq = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
                depth = int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
            except sqlite3.DatabaseError as e:
                code = getattr(e, "sqlite_errorcode", None)
                if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                    raise _Damaged(str(e)) from None
                raise
            except (TypeError, ValueError) as e:  # a meta value that is not a number
                raise _Damaged(f"meta: {e}") from None
        except BaseException:
            db.close()
            raise
        return db, (meta, max_row_seq, depth)

    def _move_aside(self, why: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        self.damage = why
        self.moved_aside = aside
        self.log.error("the outbox is damaged: moved it aside and started a fresh one; messages still in it "
                       "are lost and counted as dropped", path=str(self.path), moved_to=str(aside), problem=why)

    def _recover_seq(self, mark: SeqMark | None, max_row_seq: int | None) -> None:
        """After damage: continue above every seq ever handed out and count the ones that cannot arrive."""
        start = max(self.next_seq, (max_row_seq or 0) + 1, mark.reserved if mark else 1)
        # Rows still in the outbox are sent; below them everything was acknowledged. Without rows,
        # only the mark says what was acknowledged: what it cannot vouch for counts as lost.
        low = (max_row_seq + 1) if max_row_seq is not None else (mark.pending_from if mark else start)
        lost = max(0, start - low)
        self.next_seq = start
        if lost:
            self.dropped_total += lost
            self.last_dropped_seq = max(self.last_dropped_seq, start - 1)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            [("next_seq", start), ("dropped_total", self.dropped_total), ("last_dropped_seq", self.last_dropped_seq)],
        )
        self.db.execute("COMMIT")
        # One error per damage: when the file was moved aside, that line was it.
        say = self.log.warning if self.moved_aside else self.log.error
        say("outbox seq recovered from its high-water mark", problem=self.damage, next_seq=start,
                       lost_seqs=lost, dropped_total=self.dropped_total, last_dropped_seq=self.last_dropped_seq)

    # -- the high-water mark -------------------------------------------------
    def _read_mark(self) -> SeqMark | None:
        try:
            return msgspec.json.decode(self.mark_path.read_bytes(), type=SeqMark)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as e:
            self.log.error("the outbox's seq high-water mark is unreadable: relying on the outbox alone",
                           path=str(self.mark_path), error=str(e))
            return None

    def _write_mark(self, reserved: int) -> None:
        """Reserve seqs below ``reserved``, durably, before any of them is committed."""
        pending = None
        if self._db is not None:
            pending = self._db.execute("SELECT seq FROM outbox WHERE seq IS NOT NULL ORDER BY id LIMIT 1").fetchone()
        mark = SeqMark(reserved=reserved, pending_from=pending[0] if pending else self.next_seq,
                       dropped_total=self.dropped_total, last_dropped_seq=self.last_dropped_seq,
                       epoch=self.epoch or None)
        write_atomic(self.mark_path, msgspec.json.encode(mark))
        self.reserved = reserved

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._close_sync)
        self._pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)

    def _close_sync(self) -> None:
        assert self._db is not None
        if self._rdb is not None:
            self._rdb.close()
            self._rdb = None
        try:
            # Only to leave one file behind; on a full disk it fails and the WAL simply stays.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if self.reserved:
                # Nothing more is handed out before the next open: the mark can shrink to next_seq, and a
                # fresh pending_from makes the count of lost seqs exact should the outbox be lost later.
                self._write_mark(self.next_seq)
        except (sqlite3.Error, OSError) as e:
            self.log.warning("outbox checkpoint at close failed; the WAL is kept and replayed at the next start",
                             error=str(e))
        finally:
            self._db.close()
            self._db = None

    # -- append ------------------------------------------------------------
    async def append(self, batch: Sequence[Observation]) -> int:
        """Commit a batch of observations in one transaction; returns how many were dropped."""
        dropped = await self._run(self._append_sync, batch)
        self.metrics.inc("observations_committed", len(batch))
        self.metrics.set("outbox_depth", self.depth)
        if self.depth > self.depth_max:
            self.depth_max = self.depth
            self.metrics.set("outbox_depth_max", self.depth_max)
        if dropped:
            self.metrics.set("outbox_dropped_total", self.dropped_total)
            self.metrics.set("outbox_last_dropped_seq", self.last_dropped_seq)
            self.log.warning(
                "outbox full: dropped the oldest messages",
                dropped=dropped,
                dropped_total=self.dropped_total,
                last_dropped_seq=self.last_dropped_seq,
                max_messages=self.max_messages,
            )
        self.changed.set()
        return dropped

    def _envelope(self, obs: Observation, seq: int) -> bytes:
        env = Envelope(
            schema=SCHEMA,
            kind=obs.kind,
            site=self.site,
            sensor=self.sensor_id,
            epoch=self.epoch,
            seq=seq,
            observed_at=rfc3339(obs.observed_at),
            data=obs.data,
        )
        return _encoder.encode(env)

    def _append_sync(self, batch: Sequence[Observation]) -> int:
        db = self.db
        now = time.time()
        seq = self.next_seq
        rows: list[tuple[int | None, str, bytes, int, float]] = []
        retained: list[tuple[str, str, int | None, bytes, float]] = []
        forgotten: list[tuple[str]] = []
        for obs in batch:
            if obs.retain and obs.data is None:
                # An empty retained message clears the topic on the broker; it carries no
                # envelope and so takes no seq (the event that explains it does).
                rows.append((None, obs.topic, b"", 1, now))
                forgotten.append((obs.topic,))
                continue
            payload = self._envelope(obs, seq)
            rows.append((seq, obs.topic, payload, int(obs.retain), now))
            if obs.retain:
                retained.append((obs.topic, obs.kind, seq, payload, now))
            seq += 1
        dropped = 0
        try:
            if seq > self.reserved:
                self._write_mark(seq + SEQ_BLOCK)
        except OSError as e:
            raise _store_error("write", self.mark_path, e) from None
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO outbox(seq, topic, payload, retain, created) VALUES (?,?,?,?,?)", rows)
            if retained:
                db.executemany(
                    "INSERT INTO retained(topic, kind, seq, payload, updated) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(topic) DO UPDATE SET kind=excluded.kind, seq=excluded.seq, "
                    "payload=excluded.payload, updated=excluded.updated",
                    retained,
                )
            if forgotten:
                db.executemany("DELETE FROM retained WHERE topic = ?", forgotten)
            depth = self.depth + len(rows)
            last_dropped = self.last_dropped_seq
            if depth > self.max_messages:
                dropped = depth - self.max_messages
                cur = db.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?) RETURNING seq",
                    (dropped,),
                )
                seqs = [r[0] for r in cur.fetchall() if r[0] is not None]
                if seqs:
                    last_dropped = max(last_dropped, max(seqs))
                depth -= dropped
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [
                    ("next_seq", seq),
                    ("dropped_total", self.dropped_total + dropped),
                    ("last_dropped_seq", last_dropped),
                ],
            )
            db.execute("COMMIT")
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise _store_error("write", self.path, e) from None
        self.next_seq = seq
        self.depth = depth
        self.dropped_total += dropped
        self.last_dropped_seq = last_dropped
        return dropped

    # -- republish ----------------------------------------------------------
    async def republish(self, reason: str, before_seq: int | None = None) -> SnapshotComplete | None:
        """Commit every retained message again (new seqs), then a ``snapshot_complete`` event.

        Topics whose latest message is still in the outbox are left out: it is sent anyway. With
        ``before_seq``, only topics whose latest message has a lower seq (sent on an earlier
        connection, to the broker that may have lost it) are republished, and when there is
        none, nothing is committed (None).

        Read and appended in one job of the writer thread: nothing committed meanwhile can be
        overtaken by an older copy of itself. The data and observed_at are the stored ones.
        """
        done = await self._run(self._republish_sync, reason, before_seq)
        self.metrics.set("outbox_depth", self.depth)
        self.changed.set()
        return done

    def _republish_sync(self, reason: str, before_seq: int | None) -> SnapshotComplete | None:
        try:
            # A topic whose latest message still waits in the outbox is on its way anyway.
            stored = self.db.execute(
                "SELECT topic, payload FROM retained WHERE (seq IS NULL OR seq NOT IN "
                "(SELECT seq FROM outbox WHERE seq IS NOT NULL)) AND (? IS NULL OR seq < ?) ORDER BY topic",
                (before_seq, before_seq)).fetchall()
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None
        batch: list[Observation] = []
        counts: dict[str, int] = {}
        for topic, payload in stored:
            try:
                env = msgspec.json.decode(payload, type=_Stored)
                at = datetime.fromisoformat(env.observed_at).timestamp()
            except (msgspec.DecodeError, ValueError) as e:
                self.log.warning("a stored retained message is unreadable: not republished", topic=topic,
                                 error=str(e))
                self.metrics.inc("republish_unreadable")
                continue
            batch.append(Observation(kind=env.kind, topic=topic, data=env.data, retain=True,  # type: ignore[arg-type]
                                     observed_at=at))
            counts[env.kind] = counts.get(env.kind, 0) + 1
        if not batch and before_seq is not None:
            return None
        first = self.next_seq
        now = time.time()
        done = SnapshotComplete(event="snapshot_complete", reason=reason, at=rfc3339(now),  # type: ignore[arg-type]
                                retained=counts, first_seq=first if batch else None,
                                last_seq=first + len(batch) - 1 if batch else None)
        self._append_sync([*batch, event_obs(done, now)])
        return done

    async def first_pending_seq(self) -> int:
        """The lowest seq not yet acknowledged (next_seq when none waits): below it, all was sent."""
        return await self._read(self._first_pending_sync)

    def _first_pending_sync(self) -> int:
        if self._rdb is None:
            raise StoreError("outbox is not open")
        try:
            low = self._rdb.execute("SELECT MIN(seq) FROM outbox WHERE seq IS NOT NULL").fetchone()[0]
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None
        return int(low) if low is not None else self.next_seq

    async def retained_counts(self) -> dict[str, int]:
        """Retained messages in the local store per kind: what the broker should hold."""
        return await self._read(self._counts_sync)

    def _counts_sync(self) -> dict[str, int]:
        if self._rdb is None:
            return {}
        try:
            return {str(k): int(n) for k, n in self._rdb.execute("SELECT kind, COUNT(*) FROM retained GROUP BY kind")}
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None

    # -- read / ack --------------------------------------------------------
    async def fetch(self, after_id: int, limit: int) -> list[Row]:
        """The next ``limit`` messages with row id above ``after_id``, oldest first."""
        return await self._read(self._fetch_sync, after_id, limit)

    def _fetch_sync(self, after_id: int, limit: int) -> list[Row]:
        if self._rdb is None:
            raise StoreError("outbox is not open")
        try:
            cur = self._rdb.execute(
                "SELECT id, seq, topic, payload, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return [Row(r[0], r[1], r[2], r[3], bool(r[4])) for r in cur.fetchall()]
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None

    async def remove(self, ids: Iterable[int]) -> None:
        """Delete acknowledged messages (a lost delete only means a duplicate with the same seq)."""
        id_list = list(ids)
        if not id_list:
            return
        await self._run(self._remove_sync, id_list)
        self.metrics.set("outbox_depth", self.depth)
        self.changed.set()

    def _remove_sync(self, ids: list[int]) -> None:
        db = self.db
        try:
            # A delete need not reach the disk before we go on: if power fails first, the
            # message is sent again with the same seq, which the hub already handles. So no
            # fsync here; the next appending commit (FULL) makes it durable along with itself.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            cur = db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            db.execute("COMMIT")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            db.execute("PRAGMA synchronous=FULL")
            raise _store_error("write", self.path, e) from None
        self.depth -= max(cur.rowcount, 0)

    # -- local store -------------------------------------------------------
    async def retained_payloads(self, prefix: str) -> list[tuple[str, bytes]]:
        return await self._run(self._retained_sync, prefix)

    async def retained_topics(self, prefix: str) -> set[str]:
        """The retained topics under ``prefix`` that the local store holds a payload for."""
        return await self._run(self._retained_topics_sync, prefix)

    def _retained_topics_sync(self, prefix: str) -> set[str]:
        try:
            cur = self.db.execute("SELECT topic FROM retained WHERE topic >= ? AND topic < ?",
                                  (prefix, prefix + "\uffff"))
            return {r[0] for r in cur.fetchall()}
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None

    def _retained_sync(self, prefix: str) -> list[tuple[str, bytes]]:
        try:
            cur = self.db.execute(
                "SELECT topic, payload FROM retained WHERE topic >= ? AND topic < ? ORDER BY topic",
                (prefix, prefix + "\uffff"),
            )
            return [(r[0], r[1]) for r in cur.fetchall()]
        except sqlite3.Error as e:
            raise _store_error("read", self.path, e) from None


def outbox_path(state_dir: str | os.PathLike[str]) -> Path:
    return Path(state_dir) / "outbox.sqlite3"


def read_retained(state_dir: str | os.PathLike[str], prefix: str) -> list[tuple[str, bytes]]:
    """Read the local store without starting the sensor (for ``sensor inventory``)."""
    path = outbox_path(state_dir)
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            cur = db.execute(
                "SELECT topic, payload FROM retained WHERE topic >= ? AND topic < ? ORDER BY topic",
                (prefix, prefix + "\uffff"),
            )
            return [(r[0], r[1]) for r in cur.fetchall()]
        finally:
            db.close()
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the local store {path}: {e}") from None
