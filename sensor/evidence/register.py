"""The asset register (a CSV export of the maintenance system) and its reconciliation with the network.

Pure: ``parse_register`` takes the text, ``reconcile`` takes the rows and the device
records; reading files is ``sensor.evidence.io``'s job.

Parsing keeps every good row and reports every bad one as ``file:line:column: message``
(the column is the character position of the field in its line, so an editor jumps to
it); a bad row is left out whole rather than half used. Headers are matched by the
names common maintenance-system exports use ("Asset Tag", "Equipment ID", "Mfr",
"Serial Number", "MAC Address", "Dept", ...), and ``[register.columns]`` names the
columns of any other export.

Reconciliation matches each row to at most one device and each device to at most one
row, in three passes: by MAC, then by IP, then by manufacturer + model + location
(only when exactly one unmatched device fits). Rows matched to a device not seen for
``unseen_after``, and rows never matched, are unseen; medical devices present and
matched by no row are shadow devices.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec

from sensor.correlate.model import DeviceRecord
from sensor.evidence.model import (
    MatchBasis,
    MatchedAsset,
    RegisterFields,
    RegisterSummary,
    ShadowDevice,
    UnseenAsset,
)
from sensor.evidence.vendors import vendor_keys

FIELDS = ("asset_tag", "manufacturer", "model", "serial", "mac", "ip", "department", "location", "owner",
          "high_risk", "patchable", "end_of_support", "firmware")

# Header names seen in CMMS exports, normalised (lower case, letters and digits only).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "asset_tag": ("assettag", "asset", "assetno", "assetnumber", "assetid", "tag", "tagnumber", "equipmentid",
                  "equipmentno", "equipmentnumber", "controlnumber", "controlno", "ceid", "deviceid"),
    "manufacturer": ("manufacturer", "mfr", "mfg", "make", "vendor", "manufacturername"),
    "model": ("model", "modelnumber", "modelno", "modelname", "devicemodel"),
    "serial": ("serial", "serialnumber", "serialno", "sn"),
    "mac": ("mac", "macaddress", "wiredmac", "ethernetmac", "networkmac", "wifimac", "wirelessmac"),
    "ip": ("ip", "ipaddress", "ipv4", "ipv4address", "staticip"),
    "department": ("department", "dept", "costcenter", "costcentre", "unit", "clinicalunit"),
    "location": ("location", "room", "building", "site", "area", "locationname"),
    "owner": ("owner", "responsible", "responsibleperson", "contact", "custodian", "assetowner"),
    "high_risk": ("highrisk", "risk", "highriskdevice", "lifesupport", "criticaldevice", "highriskequipment"),
    "patchable": ("patchable", "canbepatched", "patchingsupported", "patchsupport"),
    "end_of_support": ("endofsupport", "eos", "endoflife", "eol", "supportenddate", "endofservice"),
    "firmware": ("firmware", "firmwareversion", "softwareversion", "software", "swversion", "version"),
}
_TRUE = frozenset({"yes", "y", "true", "t", "1", "x", "high", "highrisk"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "", "low", "medium", "-"})
_MAC = re.compile(r"^[0-9a-f]{12}$")


class RegisterRow(msgspec.Struct, frozen=True, kw_only=True):
    line: int
    asset_tag: str
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    mac: str | None = None  # "aa:bb:cc:dd:ee:ff"
    ip: str | None = None
    department: str = ""
    location: str = ""
    owner: str = ""
    high_risk: bool | None = None
    patchable: bool | None = None
    end_of_support: date | None = None
    firmware: str = ""


@dataclass
class ParsedRegister:
    rows: list[RegisterRow]
    problems: list[str]  # "file:line:column: message", in file order
    rejected: int  # rows left out because of a problem
    columns: dict[str, str]  # field -> the header it was read from


def _norm_header(h: str) -> str:
    return re.sub(r"[^a-z0-9]", "", h.lower())


def normalise_mac(text: str) -> str | None:
    """"00-1A-2B-3C-4D-5E", "001a.2b3c.4d5e", "001A2B3C4D5E" -> "00:1a:2b:3c:4d:5e"; None if not a MAC."""
    h = re.sub(r"[:.\-\s]", "", text.strip().lower())
    if not _MAC.match(h):
        return None
    return ":".join(h[i:i + 2] for i in range(0, 12, 2))


def _bool(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return None if t == "" else False
    raise ValueError(f'expected yes or no (also y/n, true/false, 1/0), got "{text}"')


def _date(text: str) -> date | None:
    t = text.strip()
    if not t:
        return None
    for fmt, rx in (("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"), ("%Y-%m", r"\d{4}-\d{1,2}"), ("%Y", r"\d{4}")):
        if re.fullmatch(rx, t):
            try:
                return datetime.strptime(t, fmt).date()
            except ValueError:
                break
    raise ValueError(f'expected a date written YYYY-MM-DD (or YYYY-MM, YYYY), got "{text}"')


def _records(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(first line number, raw text, fields) of each CSV record; quoted fields may span lines."""
    lines = text.splitlines(keepends=True)
    consumed: list[str] = []
    start = 1

    def feed() -> Iterator[str]:
        for ln in lines:
            consumed.append(ln)
            yield ln

    reader = csv.reader(feed(), strict=True)
    line_no = 1
    while True:
        consumed.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _CsvError(line_no, str(e)) from None
        start = line_no
        line_no += len(consumed)
        yield start, "".join(consumed), row


class _CsvError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


def _columns_of(raw: str) -> list[tuple[int, int]]:
    """(line offset, 1-based column) where each field of a raw CSV record starts."""
    out = [(0, 1)]
    quoted, line, col = False, 0, 1
    for ch in raw.rstrip("\r\n"):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append((line, col + 1))
        elif ch == "\n":
            line, col = line + 1, 0
        col += 1
    return out


def parse_register(text: str, filename: str = "register.csv",
                   columns: Mapping[str, str] | None = None) -> ParsedRegister:
    """Read a register export; every problem is reported and every good row kept."""
    problems: list[str] = []
    text = text.removeprefix("\ufeff")
    try:
        recs = list(_records(text))
    except _CsvError as e:
        return ParsedRegister([], [f"{filename}:{e.line}:1: not valid CSV: {e.reason}"], 0, {})
    if not recs or not any(f.strip() for f in recs[0][2]):
        return ParsedRegister([], [f"{filename}:1:1: the file is empty: the first line must name the columns "
                                   f"(e.g. {', '.join(FIELDS[:6])})"], 0, {})
    header_line, _, header = recs[0]
    by_norm = {_norm_header(h): i for i, h in reversed(list(enumerate(header)))}
    index: dict[str, int] = {}
    for fld in FIELDS:
        wanted = (columns or {}).get(fld)
        if wanted is not None:
            if _norm_header(wanted) in by_norm:
                index[fld] = by_norm[_norm_header(wanted)]
            else:
                problems.append(f'{filename}:{header_line}:1: [register.columns] {fld} = "{wanted}" but the header '
                                f"has no such column (it has: {', '.join(h for h in header if h)})")
            continue
        for alias in (fld.replace("_", ""), *HEADER_ALIASES[fld]):
            if alias in by_norm and by_norm[alias] not in index.values():
                index[fld] = by_norm[alias]
                break
    if "asset_tag" not in index:
        problems.append(f"{filename}:{header_line}:1: no asset tag column: name one asset_tag (or map yours with "
                        f'[register.columns] asset_tag = "Your Header")')
        return ParsedRegister([], problems, len(recs) - 1, {})
    if not ({"mac", "ip"} & index.keys()) and not ({"manufacturer", "model"} <= index.keys()):
        problems.append(f"{filename}:{header_line}:1: nothing to match devices by: the register needs a mac or ip "
                        "column, or manufacturer and model columns")
    rows: list[RegisterRow] = []
    rejected = 0
    seen_tags: dict[str, int] = {}
    seen_macs: dict[str, int] = {}
    for line, raw, values in recs[1:]:
        if not any(v.strip() for v in values):
            continue
        cols = _columns_of(raw)

        def where(i: int, line: int = line, cols: list[tuple[int, int]] = cols) -> str:
            off, col = cols[i] if i < len(cols) else (0, 1)
            return f"{filename}:{line + off}:{col}"

        bad: list[str] = []
        if len(values) != len(header):
            bad.append(f"{where(0)}: {len(values)} fields where the header has {len(header)}: "
                       "check for an unquoted comma")
            problems.extend(bad)
            rejected += 1
            continue
        got = {f: values[i].strip() for f, i in index.items()}
        kw: dict[str, object] = {}
        tag = got.get("asset_tag", "")
        if not tag:
            bad.append(f"{where(index['asset_tag'])}: asset_tag is empty: every row needs one")
        elif tag in seen_tags:
            bad.append(f"{where(index['asset_tag'])}: asset tag \"{tag}\" is already on line {seen_tags[tag]}")
        if got.get("mac"):
            mac = normalise_mac(got["mac"])
            if mac is None:
                bad.append(f'{where(index["mac"])}: mac: expected a MAC address like 00:1a:2b:3c:4d:5e, '
                           f'got "{got["mac"]}"')
            elif mac in seen_macs:
                bad.append(f'{where(index["mac"])}: MAC {mac} is already on line {seen_macs[mac]}')
            kw["mac"] = mac
        if got.get("ip"):
            try:
                kw["ip"] = str(ipaddress.ip_address(got["ip"]))
            except ValueError:
                bad.append(f'{where(index["ip"])}: ip: expected an IPv4 or IPv6 address, got "{got["ip"]}"')
        for fld, conv in (("high_risk", _bool), ("patchable", _bool), ("end_of_support", _date)):
            if fld in got:
                try:
                    kw[fld] = conv(got[fld])
                except ValueError as e:
                    bad.append(f"{where(index[fld])}: {fld}: {e}")
        if bad:
            problems.extend(bad)
            rejected += 1
            continue
        seen_tags[tag] = line
        if kw.get("mac"):
            seen_macs[str(kw["mac"])] = line
        for fld in ("manufacturer", "model", "serial", "department", "location", "owner", "firmware"):
            if fld in got:
                kw[fld] = got[fld]
        rows.append(RegisterRow(line=line, asset_tag=tag, **kw))  # type: ignore[arg-type]
    return ParsedRegister(rows, problems, rejected, {f: header[i] for f, i in index.items()})


# --- reconciliation --------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    unseen_after: float = 7 * 86400.0  # seconds
    locations: Mapping[str, Sequence[str]] = field(default_factory=dict)  # register location -> switch names
    max_listed: int = 2000  # per list in the summary message


@dataclass
class Reconciliation:
    fields: dict[str, RegisterFields]  # MAC -> what the register says about it
    summary: RegisterSummary


def _norm_model(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _location_fits(row: RegisterRow, rec: DeviceRecord, settings: Settings) -> bool:
    att = rec.attachment
    if att is None or not row.location:
        return False
    switches = settings.locations.get(row.location)
    if switches is not None:
        return att.switch in switches
    # Without a mapping, a location written as the switch's name (or "switch port") still fits.
    loc = row.location.strip().lower()
    return loc in (att.switch.lower(), f"{att.switch} {att.port}".lower(), f"{att.switch}:{att.port}".lower())


def _vendors_of(rec: DeviceRecord) -> set[str]:
    out: set[str] = set()
    for name in (rec.vendor, rec.neighbour.manufacturer if rec.neighbour else None):
        if name:
            out |= vendor_keys(name)
    return out


def _model_fits(row: RegisterRow, rec: DeviceRecord) -> bool:
    m = rec.neighbour.model if rec.neighbour else ""
    a, b = _norm_model(row.model), _norm_model(m)
    return bool(a and b) and (a == b or (len(b) >= 3 and b in a) or (len(a) >= 3 and a in b))


def reconcile(rows: Sequence[RegisterRow], records: Iterable[DeviceRecord], now: float, *, file: str = "",
              rejected: int = 0, settings: Settings | None = None) -> Reconciliation:
    """Match register rows with device records (see the module docstring)."""
    st = settings or Settings()
    recs = {r.mac: r for r in records}
    by_ip: dict[str, list[DeviceRecord]] = {}
    for r in recs.values():
        for ip in r.ips:
            by_ip.setdefault(ip.ip, []).append(r)
    taken: dict[str, tuple[RegisterRow, MatchBasis, str]] = {}  # MAC -> row
    done: set[str] = set()  # asset tags matched
    for row in rows:
        if row.mac and row.mac in recs and row.mac not in taken:
            taken[row.mac] = (row, "mac", f"MAC {row.mac}")
            done.add(row.asset_tag)
    for row in rows:
        if row.asset_tag in done or not row.ip:
            continue
        cands = [r for r in by_ip.get(row.ip, ()) if r.mac not in taken]
        if cands:
            # An address moves between devices: the one that held it last is the one.
            best = max(cands, key=lambda r: max(i.last_seen for i in r.ips if i.ip == row.ip))
            taken[best.mac] = (row, "ip", f"IP {row.ip}")
            done.add(row.asset_tag)
    ambiguous: dict[str, int] = {}
    for row in rows:
        if row.asset_tag in done or not (row.manufacturer and row.model and row.location):
            continue
        want = vendor_keys(row.manufacturer)
        cands = [r for r in recs.values() if r.mac not in taken and _vendors_of(r) & want and _model_fits(row, r)
                 and _location_fits(row, r, st)]
        if len(cands) == 1:
            r = cands[0]
            taken[r.mac] = (row, "manufacturer+model+location",
                            f'{row.manufacturer} {row.model} at "{row.location}" is the only such device on '
                            f"{r.attachment.switch if r.attachment else '?'}")
            done.add(row.asset_tag)
        elif len(cands) > 1:
            ambiguous[row.asset_tag] = len(cands)
    fields: dict[str, RegisterFields] = {}
    matches: list[MatchedAsset] = []
    unseen: list[UnseenAsset] = []
    by_basis: dict[str, int] = {"mac": 0, "ip": 0, "manufacturer+model+location": 0}
    cutoff = now - st.unseen_after
    days = st.unseen_after / 86400
    for mac, (row, basis, detail) in sorted(taken.items(), key=lambda kv: kv[1][0].line):
        rec = recs[mac]
        by_basis[basis] += 1
        fields[mac] = RegisterFields(asset_tag=row.asset_tag, basis=basis, manufacturer=row.manufacturer,
                                     model=row.model, serial=row.serial, department=row.department,
                                     location=row.location, owner=row.owner, high_risk=row.high_risk,
                                     patchable=row.patchable, end_of_support=row.end_of_support)
        notes = []
        seen_ips = {i.ip for i in rec.ips}
        if row.ip and seen_ips and row.ip not in seen_ips:
            notes.append(f"register says IP {row.ip}, the network {', '.join(sorted(seen_ips))}")
        if row.mac and row.mac != mac:
            notes.append(f"register says MAC {row.mac}, the device at {row.ip} has {mac}")
        if row.manufacturer and _vendors_of(rec) and not (_vendors_of(rec) & vendor_keys(row.manufacturer)):
            notes.append(f'register says manufacturer "{row.manufacturer}", the network "{rec.vendor}"')
        matches.append(MatchedAsset(asset_tag=row.asset_tag, mac=mac, basis=basis, detail=detail,
                                    last_seen=rec.last_seen, notes=tuple(notes)))
        if rec.last_seen.timestamp() < cutoff:
            unseen.append(UnseenAsset(asset_tag=row.asset_tag, manufacturer=row.manufacturer, model=row.model,
                                      department=row.department, location=row.location, high_risk=row.high_risk,
                                      mac=mac, last_seen=rec.last_seen,
                                      why=f"matched by {basis}, last seen {rec.last_seen:%Y-%m-%d}, "
                                          f"more than {days:g} days ago"))
    for row in rows:
        if row.asset_tag in done:
            continue
        why = "never seen on the network"
        if row.asset_tag in ambiguous:
            why += (f": {ambiguous[row.asset_tag]} devices fit its manufacturer, model and location; "
                    "add its MAC or IP to the register")
        elif not (row.mac or row.ip):
            why += ": the register gives no MAC or IP for it"
        unseen.append(UnseenAsset(asset_tag=row.asset_tag, manufacturer=row.manufacturer, model=row.model,
                                  department=row.department, location=row.location, high_risk=row.high_risk,
                                  why=why))
    shadows = [ShadowDevice(mac=r.mac, vendor=r.vendor, device_class=r.classification.device_class,
                            switch=r.attachment.switch if r.attachment else None,
                            port=r.attachment.port if r.attachment else None, ips=tuple(i.ip for i in r.ips),
                            first_seen=r.first_seen, last_seen=r.last_seen)
               for mac, r in sorted(recs.items())
               if r.present and r.classification.medical and mac not in taken]
    # High-risk rows first: those are the ones the Joint Commission asks about.
    unseen.sort(key=lambda u: (u.high_risk is not True, u.asset_tag))
    n = st.max_listed
    dropped = max(0, len(matches) - n) + max(0, len(unseen) - n) + max(0, len(shadows) - n)
    summary = RegisterSummary(
        file=file, rows=len(rows), rows_rejected=rejected, unseen_after_days=days, matched=len(matches),
        matched_by=by_basis, unseen=len(unseen), shadows=len(shadows), matches=tuple(matches[:n]),
        unseen_assets=tuple(unseen[:n]), shadow_devices=tuple(shadows[:n]), dropped=dropped)
    return Reconciliation(fields=fields, summary=summary)


def read_text(data: bytes) -> str:
    """Register exports are UTF-8 (with or without a BOM) or, from older Excel, Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
