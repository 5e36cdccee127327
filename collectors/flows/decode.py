"""Pure NetFlow v5, v9 and IPFIX decoding: bytes in, batches of records out.

No I/O here. :class:`Decoder` keeps the template cache and the sampling state of
every exporter; :meth:`Decoder.decode` takes one datagram and returns a
:class:`Decoded` (batches of records, options records, and whether anything was
wrong). Nothing raises: every malformed input is a counted decode error with a
reason, visible in :attr:`Decoder.stats`.

Template cache key: (exporter address, version, source id / observation domain,
template id); two exporters, or two domains of one exporter, may reuse a template
id. Templates and options templates of a datagram are applied before its data
sets, whatever their order. A redefinition replaces the old template; IPFIX
withdrawals (a template record with no fields; "all templates" with the set id as
template id) remove them. Data for an unknown template is counted and dropped.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from collectors.flows.templates import (
    MAX_FIELDS,
    MAX_RECORD_LEN,
    SCOPE_PEN,
    V5_TEMPLATE,
    CoreRecord,
    Field,
    Template,
)

V5_HEADER = struct.Struct("!HHIIIIBBH")  # 24
V9_HEADER = struct.Struct("!HHIIII")  # 20
IPFIX_HEADER = struct.Struct("!HHIII")  # 16
SET_HEADER = struct.Struct("!HH")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")

TemplateKey = tuple[int, int, int]  # (version, domain, template id)
MAX_RECORDS_PER_SET = 65535
MAX_SAMPLERS = 1024  # per exporter and domain
MAX_RATE = 1 << 32  # a 1-in-N rate beyond this is an exporter error, not a sampling rate
NO_SAMPLING = "none announced"
CONFIGURED = "configured ([flows] sampling)"
# (version, domain) -> {sampler/selector id, or -1 for the exporter/domain-wide rate: (rate, where from)}
Sampling = dict[tuple[int, int], dict[int, tuple[int, str]]]


class Batch:
    """The records of one data set (or v5 datagram), decoded lazily and cheaply.

    ``core()`` gives (src, dst, sport, dport, proto, bytes, packets) tuples with
    addresses as packed bytes (4 or 16) and counters not yet scaled by ``rate``;
    ``rate_from`` says where the rate came from (options record, v5 header, configuration).
    """

    __slots__ = ("count", "data", "domain", "export_time", "exporter", "rate", "rate_from", "rows_", "sys_init_ms",
                 "template", "uptime_ms", "version")

    def __init__(self, exporter: str, version: int, domain: int, template: Template,
                 data: bytes | memoryview, count: int, rate: int, export_time: int, uptime_ms: int | None,
                 sys_init_ms: int | None, rows: list[tuple[Any, ...]] | None = None,
                 rate_from: str = NO_SAMPLING) -> None:
        self.exporter = exporter
        self.version = version
        self.domain = domain
        self.template = template
        self.data = data
        self.count = count
        self.rate = rate
        self.export_time = export_time
        self.uptime_ms = uptime_ms
        self.sys_init_ms = sys_init_ms
        self.rows_ = rows
        self.rate_from = rate_from

    def core(self) -> Iterator[CoreRecord]:
        if self.rows_ is None:
            return self.template.core_records(self.data)
        return self.template.core_from_rows(self.rows_)

    def rows(self) -> list[tuple[Any, ...]]:
        """Full-layout rows (every field; unsigned 1/2/4/8-octet fields as int, others bytes)."""
        if self.rows_ is None:
            self.rows_ = self.template.rows(self.data)
        return self.rows_

    def l2(self) -> Iterator[tuple[Any, ...]] | None:
        """(src_mac, dst_mac, vlan) per record (bytes/int/None), or None if the template has none."""
        get = self.template.l2_get
        if get is None:
            return None
        return (get((*row, None)) for row in self.rows())


class Decoded:
    """What one datagram gave."""

    __slots__ = ("batches", "error", "options", "templates")

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.options: list[Batch] = []
        self.templates = 0
        self.error: str | None = None

    @property
    def records(self) -> int:
        return sum(b.count for b in self.batches)


class DecodeError(Exception):
    """Internal: stops decoding one datagram; always caught and counted."""


class _ExporterState:
    __slots__ = ("fresh", "sampling", "sys_init_ms", "templates")

    def __init__(self) -> None:
        self.templates: dict[TemplateKey, Template] = {}
        # Templates that have not had data yet, oldest first: the first to evict when the
        # cache is full. Entries go stale (used, replaced, withdrawn) and are skipped lazily.
        self.fresh: dict[TemplateKey, Template] = {}
        self.sampling: Sampling = {}
        self.sys_init_ms: dict[int, int] = {}  # IPFIX domain -> systemInitTimeMilliseconds


class Decoder:
    """Stateful decoder for any number of exporters (bounded by ``max_exporters``)."""

    def __init__(self, *, max_exporters: int = 256, max_templates_per_exporter: int = 512,
                 sampling_overrides: dict[str, int] | None = None) -> None:
        self.max_exporters = max_exporters
        self.max_templates = max_templates_per_exporter
        self.overrides = dict(sampling_overrides or {})
        self.exporters: dict[str, _ExporterState] = {}
        self.stats: Counter[str] = Counter()
        self.templates_changed = False
        self.tick = 0  # datagrams seen: the clock of template use

    # -- public ------------------------------------------------------------
    def decode(self, data: bytes | memoryview, exporter: str) -> Decoded:
        """Decode one datagram from ``exporter``; never raises."""
        out = Decoded()
        self.stats["packets"] += 1
        self.tick += 1
        try:
            if len(data) < 4:
                raise DecodeError("truncated header")
            version = (data[0] << 8) | data[1]
            if version == 5:
                self._v5(memoryview(data), exporter, out)
            elif version == 9:
                self._v9(memoryview(data), exporter, out)
            elif version == 10:
                self._ipfix(memoryview(data), exporter, out)
            else:
                raise DecodeError(f"unsupported version {version}")
        except DecodeError as e:
            out.error = str(e)
        except Exception as e:  # a bug: counted like any other bad datagram, never raised
            out.error = f"internal: {type(e).__name__}: {e}"
            self.stats["decode_errors.internal"] += 1
        if out.error is not None:
            self.stats["decode_errors"] += 1
            # One counter per kind of error: numbers dropped so hostile input cannot grow the set.
            kind = re.sub(r"[^a-z]+", "_", out.error.split(":")[0].lower()).strip("_")
            self.stats["decode_errors." + kind] += 1
        self.stats["records"] += out.records
        return out

    def template(self, exporter: str, version: int, domain: int, tid: int) -> Template | None:
        st = self.exporters.get(exporter)
        return st.templates.get((version, domain, tid)) if st else None

    def template_count(self) -> int:
        return sum(len(s.templates) for s in self.exporters.values())

    # -- persistence -------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        """Templates, sampling and IPFIX init times of every exporter, JSON-ready."""
        out: dict[str, Any] = {}
        for exp, st in self.exporters.items():
            out[exp] = {
                "templates": [[v, d, t, tpl.scope_count, tpl.spec(), tpl.used]
                              for (v, d, t), tpl in st.templates.items()],
                "sampling": [[v, d, [[k, r, how] for k, (r, how) in sorted(m.items())]]
                             for (v, d), m in st.sampling.items()],
                "sys_init_ms": sorted(st.sys_init_ms.items()),
            }
        return out

    def load_state(self, state: Any) -> int:
        """Restore what :meth:`dump_state` wrote; returns templates loaded. Bad entries are skipped."""
        loaded = 0
        if not isinstance(state, dict):
            return 0
        for exp, entry in state.items():
            try:
                st = self._state(str(exp))
                if st is None:
                    break
                # Most recently used first, so a smaller cap (or a flood saved before
                # eviction existed) keeps the templates in use; never-used ones stay first to go.
                entries = [(int(e[5]) if len(e) > 5 else 0, i, e) for i, e in enumerate(entry.get("templates", []))]
                entries.sort(key=lambda x: (-x[0], x[1]))
                for used, _i, (v, d, t, scope, spec, *_rest) in entries:
                    fields = [Field(int(ie), int(n), int(pen)) for ie, n, pen in spec]
                    if not fields or len(fields) > MAX_FIELDS or int(scope) > len(fields):
                        continue
                    if len(st.templates) >= self.max_templates:
                        self.stats["templates_not_restored"] += 1
                        continue
                    tpl = Template(int(t), fields, int(scope))
                    if tpl.min_len == 0 or tpl.min_len > MAX_RECORD_LEN:
                        continue
                    tpl.used = max(used, 0)
                    key = (int(v), int(d), int(t))
                    st.templates[key] = tpl
                    if not tpl.used:
                        st.fresh[key] = tpl
                    self.tick = max(self.tick, tpl.used)
                    loaded += 1
                for v, d, items in entry.get("sampling", []):
                    m = {}
                    for k, r, *how in items[:MAX_SAMPLERS]:  # [k, r] as written before the source was kept
                        if 1 <= int(r) <= MAX_RATE:
                            m[int(k)] = (int(r), str(how[0]) if how else "options record")
                    st.sampling[(int(v), int(d))] = m
                for d, ms in entry.get("sys_init_ms", []):
                    st.sys_init_ms[int(d)] = int(ms)
            except (TypeError, ValueError, AttributeError):
                self.stats["template_state_errors"] += 1
        return loaded

    # -- helpers -------------------------------------------------------------
    def _state(self, exporter: str) -> _ExporterState | None:
        st = self.exporters.get(exporter)
        if st is None:
            if len(self.exporters) >= self.max_exporters:
                self.stats["exporters_over_cap"] += 1
                return None
            st = self.exporters[exporter] = _ExporterState()
        return st

    # -- NetFlow v5 ---------------------------------------------------------
    def _v5(self, data: memoryview, exporter: str, out: Decoded) -> None:
        if len(data) < V5_HEADER.size:
            raise DecodeError("truncated header")
        _v, count, uptime, secs, _nsecs, _seq, _etype, _eid, sampling = V5_HEADER.unpack_from(data)
        if count == 0 or count > 30:
            raise DecodeError(f"v5 record count {count} out of range (1-30)")
        end = V5_HEADER.size + 48 * count
        if end > len(data):
            raise DecodeError(f"truncated: v5 header says {count} records, datagram holds {len(data)} bytes")
        interval = sampling & 0x3FFF
        batch = Batch(exporter, 5, 0, V5_TEMPLATE, data[V5_HEADER.size:end], count, 1, secs, uptime, None)
        if override := self.overrides.get(exporter):
            batch.rate, batch.rate_from = override, CONFIGURED
        elif interval > 1:
            batch.rate, batch.rate_from = interval, f"v5 header (mode {sampling >> 14}, interval {interval})"
        out.batches.append(batch)

    # -- NetFlow v9 ---------------------------------------------------------
    def _v9(self, data: memoryview, exporter: str, out: Decoded) -> None:
        if len(data) < V9_HEADER.size:
            raise DecodeError("truncated header")
        _v, _count, uptime, secs, _seq, source_id = V9_HEADER.unpack_from(data)
        sets = self._sets(data, V9_HEADER.size, len(data))
        st = self._state(exporter)
        for sid, body in sets:  # templates first
            if sid == 0:
                self._v9_templates(body, exporter, st, source_id, out)
            elif sid == 1:
                self._v9_options_templates(body, exporter, st, source_id, out)
        for tpl, body in self._data_sets(sets, st, 9, source_id, (0, 1)):
            self._data(body, tpl, 9, source_id, exporter, st, secs, uptime, out)

    def _v9_templates(self, body: memoryview, exporter: str, st: _ExporterState | None, domain: int,
                      out: Decoded) -> None:
        pos, end = 0, len(body)
        while end - pos >= 4:
            tid, n = SET_HEADER.unpack_from(body, pos)
            pos += 4
            if tid == 0 and n == 0:  # padding
                break
            if tid < 256:
                raise DecodeError(f"template id {tid} below 256")
            if n == 0 or n > MAX_FIELDS:
                raise DecodeError(f"template {tid} has {n} fields")
            if pos + 4 * n > end:
                raise DecodeError(f"truncated template {tid}")
            fields = [Field(ie, ln) for ie, ln in struct.iter_unpack("!HH", body[pos:pos + 4 * n])]
            pos += 4 * n
            self._install(exporter, st, 9, domain, tid, fields, 0, out)

    def _v9_options_templates(self, body: memoryview, exporter: str, st: _ExporterState | None, domain: int,
                              out: Decoded) -> None:
        pos, end = 0, len(body)
        while end - pos >= 6:
            tid, scope_len, opt_len = struct.unpack_from("!HHH", body, pos)
            pos += 6
            if tid == 0:
                break  # padding
            if tid < 256:
                raise DecodeError(f"template id {tid} below 256")
            if scope_len % 4 or opt_len % 4 or scope_len + opt_len == 0:
                raise DecodeError(f"options template {tid} has bad lengths")
            if pos + scope_len + opt_len > end:
                raise DecodeError(f"truncated options template {tid}")
            n = (scope_len + opt_len) // 4
            if n > MAX_FIELDS:
                raise DecodeError(f"template {tid} has {n} fields")
            raw = body[pos:pos + scope_len + opt_len]
            pos += scope_len + opt_len
            # v9 scope field types (1 system, 2 interface, ...) are not IPFIX elements:
            # keep them apart from IANA ids with a pseudo enterprise number of 1 << 32.
            fields = []
            for i, (ie, ln) in enumerate(struct.iter_unpack("!HH", raw)):
                fields.append(Field(ie, ln, SCOPE_PEN if i < scope_len // 4 else 0))
            self._install(exporter, st, 9, domain, tid, fields, scope_len // 4, out)

    # -- IPFIX ----------------------------------------------------------------
    def _ipfix(self, data: memoryview, exporter: str, out: Decoded) -> None:
        if len(data) < IPFIX_HEADER.size:
            raise DecodeError("truncated header")
        _v, length, export_time, _seq, domain = IPFIX_HEADER.unpack_from(data)
        if length < IPFIX_HEADER.size or length > len(data):
            raise DecodeError(f"IPFIX message length {length} does not fit the datagram ({len(data)} bytes)")
        sets = self._sets(data, IPFIX_HEADER.size, length)
        st = self._state(exporter)
        for sid, body in sets:
            if sid in (2, 3):
                self._ipfix_templates(body, sid, exporter, st, domain, out)
        for tpl, body in self._data_sets(sets, st, 10, domain, (2, 3)):
            self._data(body, tpl, 10, domain, exporter, st, export_time, None, out)

    def _ipfix_templates(self, body: memoryview, sid: int, exporter: str, st: _ExporterState | None, domain: int,
                         out: Decoded) -> None:
        pos, end = 0, len(body)
        hdr = 4 if sid == 2 else 6
        while end - pos >= hdr:
            tid, n = SET_HEADER.unpack_from(body, pos)
            scope = U16.unpack_from(body, pos + 4)[0] if sid == 3 and n else 0
            if n == 0:  # withdrawal: 4 octets even in an options template set
                pos += 4
                self._withdraw(exporter, st, domain, tid, sid)
                continue
            pos += hdr
            if tid < 256:
                raise DecodeError(f"template id {tid} below 256")
            if n > MAX_FIELDS:
                raise DecodeError(f"template {tid} has {n} fields")
            if sid == 3 and (scope == 0 or scope > n):
                raise DecodeError(f"options template {tid} has scope count {scope} of {n} fields")
            fields = []
            for _ in range(n):
                if pos + 4 > end:
                    raise DecodeError(f"truncated template {tid}")
                ie, ln = SET_HEADER.unpack_from(body, pos)
                pos += 4
                pen = 0
                if ie & 0x8000:
                    if pos + 4 > end:
                        raise DecodeError(f"truncated template {tid}")
                    pen = U32.unpack_from(body, pos)[0]
                    pos += 4
                    ie &= 0x7FFF
                fields.append(Field(ie, ln, pen))
            self._install(exporter, st, 10, domain, tid, fields, scope, out)

    def _withdraw(self, exporter: str, st: _ExporterState | None, domain: int, tid: int, sid: int) -> None:
        if st is None:
            return
        if tid == sid:  # all (options) templates of this domain
            kinds = (lambda t: not t.is_options) if sid == 2 else (lambda t: t.is_options)
            for key in [k for k, t in st.templates.items() if k[:2] == (10, domain) and kinds(t)]:
                del st.templates[key]
            self.stats["templates_withdrawn"] += 1
        elif st.templates.pop((10, domain, tid), None) is not None:
            self.stats["templates_withdrawn"] += 1
        else:
            self.stats["withdrawals_unknown"] += 1
        self.templates_changed = True

    # -- shared ---------------------------------------------------------------
    @staticmethod
    def _sets(data: memoryview, start: int, end: int) -> list[tuple[int, memoryview]]:
        """Split into (set id, body) with every length checked; a bad set ends the datagram."""
        sets: list[tuple[int, memoryview]] = []
        pos = start
        while end - pos >= 4:
            sid, length = SET_HEADER.unpack_from(data, pos)
            if length < 4:
                if sid == 0 and length == 0 and not any(data[pos:end]):
                    break  # trailing zero padding after the last set
                raise DecodeError(f"set length {length} at offset {pos}")
            if pos + length > end:
                raise DecodeError(f"set length {length} at offset {pos} runs past the end ({end})")
            sets.append((sid, data[pos + 4:pos + length]))
            pos += length
        if not sets:
            raise DecodeError("no sets")
        return sets

    def _data_sets(self, sets: list[tuple[int, memoryview]], st: _ExporterState | None, version: int, domain: int,
                   template_sets: tuple[int, int]) -> list[tuple[Template, memoryview]]:
        """(template, body) of each data set whose template is known, options data first: a
        sampling rate applies to the flows sent with it, whatever the order of the sets."""
        out: list[tuple[Template, memoryview]] = []
        flows: list[tuple[Template, memoryview]] = []
        templates = st.templates if st is not None else {}
        for sid, body in sets:
            if sid < 256:
                if sid not in template_sets:
                    self.stats["sets_reserved_id"] += 1
                continue
            tpl = templates.get((version, domain, sid))
            if tpl is None:
                self.stats["unknown_template_sets"] += 1
            elif tpl.is_options:
                out.append((tpl, body))
            else:
                flows.append((tpl, body))
        if out:
            out.extend(flows)
            return out
        return flows

    def _install(self, exporter: str, st: _ExporterState | None, version: int, domain: int, tid: int,
                 fields: list[Field], scope: int, out: Decoded) -> None:
        if st is None:
            return
        key = (version, domain, tid)
        old = st.templates.get(key)
        if old is not None and old.fields == tuple(fields) and old.scope_count == scope:
            out.templates += 1  # a refresh: nothing to compile
            return
        tpl = Template(tid, fields, scope)
        if tpl.min_len == 0 or tpl.min_len > MAX_RECORD_LEN:
            # Zero-length fields are skipped, but a record of nothing at all cannot be framed.
            raise DecodeError(f"template {tid} record length {tpl.min_len}")
        if any(f.length == 0 for f in fields):
            self.stats["templates_zero_length_fields"] += 1
        if old is None and len(st.templates) >= self.max_templates and not self._evict(st):
            self.stats["templates_over_cap"] += 1
            return
        st.templates[key] = tpl
        st.fresh[key] = tpl
        if len(st.fresh) > 2 * self.max_templates:
            st.fresh = {k: t for k, t in st.fresh.items() if st.templates.get(k) is t and not t.used}
        self.templates_changed = True
        self.stats["templates_redefined" if old is not None else "templates_learned"] += 1
        out.templates += 1

    def _evict(self, st: _ExporterState) -> bool:
        """Make room for one template: one that never had data (oldest first: a flood), else the
        least recently used data template, else the least recently used options template."""
        victim: TemplateKey | None = None
        fresh = st.fresh
        while fresh:
            key = next(iter(fresh))
            tpl = fresh.pop(key)
            if st.templates.get(key) is tpl and not tpl.used:
                victim = key
                break
        if victim is None and st.templates:
            victim = min(st.templates, key=lambda k: (st.templates[k].is_options, st.templates[k].used))
        if victim is None:
            return False
        del st.templates[victim]
        self.stats["templates_evicted"] += 1
        self.templates_changed = True
        return True

    def _data(self, body: memoryview, tpl: Template, version: int, domain: int, exporter: str,
              st: _ExporterState | None, export_time: int, uptime: int | None, out: Decoded) -> None:
        if not tpl.used:
            self.templates_changed = True  # its first data: persist that it is in use
        tpl.used = self.tick
        sys_init = st.sys_init_ms.get(domain) if st else None
        if tpl.fixed:
            n = min(len(body) // tpl.record_len, MAX_RECORDS_PER_SET)
            if n == 0:
                return
            batch = Batch(exporter, version, domain, tpl, body[:n * tpl.record_len], n, 1, export_time,
                          uptime, sys_init)
        else:
            rows, ok = tpl.parse_varlen(body, MAX_RECORDS_PER_SET)
            if not ok:
                raise DecodeError(f"variable-length field runs past its set (template {tpl.tid})")
            if not rows:
                return
            batch = Batch(exporter, version, domain, tpl, body, len(rows), 1, export_time, uptime, sys_init,
                          rows)
        if tpl.is_options:
            out.options.append(batch)
            self._options(batch, st)
            return
        if self.overrides and (override := self.overrides.get(exporter)):
            batch.rate, batch.rate_from = override, CONFIGURED
        elif st is not None:
            rates = st.sampling.get((version, domain))
            if rates and (wide := rates.get(-1)) is not None:
                batch.rate, batch.rate_from = wide
            if tpl.split == "record_rate":
                self._split_by_record_rate(batch, out)
                return
            if tpl.split == "sampler":
                self._split_by_sampler(batch, st, out)
                return
        out.batches.append(batch)

    def _split_by_record_rate(self, batch: Batch, out: Decoded) -> None:
        """Records that carry their own samplingInterval (34) or samplerRandomInterval (50), as Huawei
        NetStream and some Juniper exporters send: that rate wins over any options record."""
        tpl = batch.template
        i = tpl.role_index["record_rate"]
        name = {34: "samplingInterval (34)", 50: "samplerRandomInterval (50)"}[tpl.fields[i].ie]
        groups: dict[int, list[tuple[Any, ...]]] = {}
        for row in batch.rows():
            v = row[i]
            groups.setdefault(int.from_bytes(v, "big") if isinstance(v, bytes) else int(v), []).append(row)
        for rate, rows in groups.items():
            part = Batch(batch.exporter, batch.version, batch.domain, tpl, batch.data, len(rows), batch.rate,
                         batch.export_time, batch.uptime_ms, batch.sys_init_ms, rows)
            if 1 <= rate <= MAX_RATE:
                part.rate, part.rate_from = rate, f"record {name}"
            elif rate:
                self.stats["sampling_rate_invalid"] += 1
            out.batches.append(part)

    def _split_by_sampler(self, batch: Batch, st: _ExporterState, out: Decoded) -> None:
        rates = st.sampling.get((batch.version, batch.domain))
        if not rates or all(k == -1 for k in rates):
            out.batches.append(batch)
            return
        i = batch.template.role_index["sampler"]
        groups: dict[int, list[tuple[Any, ...]]] = {}
        for row in batch.rows():
            groups.setdefault(row[i] if isinstance(row[i], int) else -1, []).append(row)
        for sampler, rows in groups.items():
            rate, how = rates.get(sampler) or rates.get(-1) or (1, NO_SAMPLING)
            part = Batch(batch.exporter, batch.version, batch.domain, batch.template, batch.data, len(rows), rate,
                         batch.export_time, batch.uptime_ms, batch.sys_init_ms, rows)
            part.rate_from = how
            out.batches.append(part)

    def _options(self, batch: Batch, st: _ExporterState | None) -> None:
        """Learn sampling rates and IPFIX init time from options data.

        The rate is 1 in N (RFC 7014 / RFC 3954): samplingInterval (34) or
        samplerRandomInterval (50, v9 FLOW_SAMPLER_RANDOM_INTERVAL) give N; a
        samplingPacketInterval/Space (305/306) pair selects 305 packets then skips
        306, so N = (305 + 306) / 305; samplingSize/Population (309/310) is n out of
        N (IOS-XR), so N = 310 / 309. A record with samplerId (48, v9 FlowSamplerID)
        or selectorId (302) sets that sampler's rate, else the domain-wide one.
        """
        if st is None:
            return
        tpl = batch.template
        ies = {f.ie: i for i, f in reversed(list(enumerate(tpl.fields))) if f.pen == 0 and f.length}
        if not _SAMPLING_IES & ies.keys() and 160 not in ies:
            return
        v9 = batch.version == 9
        for row in batch.rows():
            def val(ie: int, row: tuple[Any, ...] = row) -> int | None:
                i = ies.get(ie)
                if i is None:
                    return None
                v = row[i]
                return int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)

            if (init := val(160)) is not None and batch.version == 10:
                st.sys_init_ms[batch.domain] = init
            rate, how = _rate_of(val, v9)
            if rate is None:
                continue
            if not 1 <= rate <= MAX_RATE:
                self.stats["sampling_rate_invalid"] += 1
                continue
            key = -1
            for ie, name in ((48, "FlowSamplerID" if v9 else "samplerId"), (302, "selectorId")):
                if (sid := val(ie)) is not None:
                    key, how = sid, f"{how}, {name} {sid}"
                    break
            m = st.sampling.setdefault((batch.version, batch.domain), {})
            if m.get(key) != (rate, how):
                if key not in m and len(m) >= MAX_SAMPLERS:
                    self.stats["samplers_over_cap"] += 1
                    continue
                m[key] = (rate, how)
                self.templates_changed = True


_SAMPLING_IES = frozenset({34, 50, 305, 306, 309, 310})


def _ratio(num: int, den: int) -> int:
    """num / den rounded to the nearest integer (a 2-in-5 sampler renormalizes by 2.5 -> 3)."""
    return (2 * num + den) // (2 * den)


def _rate_of(val: Callable[[int], int | None], v9: bool) -> tuple[int | None, str]:
    """(1-in-N rate, where it came from) of one options record, or (None, "") when it announces none."""
    if iv := val(34):
        return iv, "options samplingInterval (34)" if not v9 else "options SAMPLING_INTERVAL (34)"
    if iv := val(50):
        return iv, "options samplerRandomInterval (50)" if not v9 else "options FLOW_SAMPLER_RANDOM_INTERVAL (50)"
    if (pi := val(305)) is not None and pi > 0:
        space = val(306) or 0
        return _ratio(pi + space, pi), f"options samplingPacketInterval/Space (305/306) {pi}/{space}"
    if (size := val(309)) and (pop := val(310)):
        return _ratio(pop, size), f"options samplingSize/Population (309/310) {size} of {pop}"
    return None, ""
