"""A tolerant reader for MAC tables, ARP tables and neighbour lists in any column layout.

Used where ntc-templates has no template for a platform's command, or its template
matches nothing in an output variant (another software release, extra columns, extra
sections). It recognises values by their form (MAC addresses in ``xxxx.xxxx.xxxx``,
``xx:xx:xx:xx:xx:xx``, ``xx-xx-xx-xx-xx-xx``, ``xxxx-xxxx-xxxx`` and ``xxxxxx-xxxxxx``;
IP addresses; interface names) and uses a header line, where there is one, to tell
which column a VLAN or a port is in. It returns records with the keys the TextFSM
mappers of :mod:`collectors.cli.parse` read, so the facts are built the same way; the
caller records that these rows came from the tolerant parser (lower confidence).

Pure functions, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

_MAC_FORMS = (
    r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}"  # Cisco, FastIron
    r"|[0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5}"  # most
    r"|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}"  # Windows-style, PowerConnect
    r"|[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"  # Huawei, Comware
    r"|[0-9a-f]{6}-[0-9a-f]{6}"  # ProCurve
)
_MAC = re.compile(f"^(?:{_MAC_FORMS})$", re.IGNORECASE)
_MAC_IN_TEXT = re.compile(rf"(?<![\w:.\-])(?:{_MAC_FORMS})(?![\w:.\-])", re.IGNORECASE)
# Interface names: a word and a number path (GigabitEthernet1/0/1, Gi1/0/1, ge-0/0/1.0, ae0.0, Eth-Trunk1,
# Vlanif10, port1.0.1, XGE0/0/1, Bundle-Ether1, MgmtEth0/RP0/CPU0/0), or a bare path (1/1/1, 1:1, 1/g1, 0/1).
_WORD_IFNAME = re.compile(r"^[A-Za-z][A-Za-z\-]{0,30}\d+(?:[/:.]\w+)*(?:\.\d+)?$")
_PATH_IFNAME = re.compile(r"^\d+(?:[/:][A-Za-z]{0,3}\d+)+$")
# Prefixes some platforms print apart from the number ("Te 0/1", "vlan 1", "ethe 1/1/1").
_SPLIT_PREFIX = re.compile(r"^(?:te|gi|fo|hu|fa|po|vl|vlan|ma|tengig|fortygig|gig|fas|ten|eth|ethe|ethernet|"
                           r"tengigabitethernet|fortygige|gigabitethernet|port-channel|managementethernet|lag)$",
                           re.IGNORECASE)
# Words in a row that are never a port, whatever column they are in.
_NOT_PORTS = frozenset({"dynamic", "static", "learned", "self", "system", "cpu", "router", "drop", "igmp",
                        "permanent", "secure", "sticky", "arpa", "internet", "incomplete", "interface", "vlan"})
_SEPARATOR = re.compile(r"^[\s\-=+_|*]+$")


def macs_in(text: str) -> set[str]:
    """Every MAC address in ``text``, as aa:bb:cc:dd:ee:ff (a quick scan, no columns)."""
    out = set()
    for m in _MAC_IN_TEXT.finditer(text):
        parts = re.split(r"[.:\-]", m.group(0).lower())
        h = "".join(p.zfill(2) for p in parts) if len(parts) == 6 else "".join(parts)
        out.add(":".join(h[i:i + 2] for i in range(0, 12, 2)))
    return out


def is_mac(token: str) -> bool:
    return _MAC.match(token) is not None


def is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token.split("%")[0])
    except ValueError:
        return False
    return True


def is_ifname(token: str) -> bool:
    t = token.strip(",;")
    if not t or is_mac(t) or is_ip(t) or t.lower() in _NOT_PORTS:
        return False
    if re.match(r"^\d{1,2}:\d{2}:\d{2}$", t) or re.match(r"^\d+[hmsd]", t):  # an age, 00:01:12 or 1h2m
        return False
    return _WORD_IFNAME.match(t) is not None or _PATH_IFNAME.match(t) is not None


# --------------------------------------------------------------- tokens and headers
@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokens(line: str) -> list[Token]:
    """Whitespace-separated tokens with their columns; "Te 0/1" and "vlan 1" are kept as one token."""
    raw = [Token(m.group(0), m.start(), m.end()) for m in re.finditer(r"\S+", line)]
    out: list[Token] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        if nxt is not None and _SPLIT_PREFIX.match(t.text) and re.match(r"^\d+([/:]\d+)*$", nxt.text) \
                and nxt.start - t.end == 1:
            out.append(Token(t.text + nxt.text, t.start, nxt.end))
            i += 2
            continue
        out.append(t)
        i += 1
    return out


# Header words -> the column they name. Longer phrases are matched as phrases (two words apart by one space).
_HEADER_WORDS = {
    "vlan": "vlan", "vlanid": "vlan", "vlan-id": "vlan", "vid": "vlan", "vlan/vsi": "vlan", "vlan/": "vlan",
    "fid": "vlan",
    "port": "port", "ports": "port", "interface": "port", "intf": "port", "if": "port", "destination port": "port",
    "port(s)": "port", "dest port": "port", "logical interface": "port", "port/": "port",
    "port / virtual port list": "port",
    "mac": "mac", "mac address": "mac", "mac-address": "mac", "hardware address": "mac", "hardware addr": "mac",
    "hw address": "mac", "hwaddress": "mac", "destination address": "mac", "link-layer addr": "mac",
    "address": "address", "ip address": "ip", "ip": "ip", "internet address": "ip", "protocol address": "ip",
    "type": "type", "age": "age", "status": "type", "state": "type", "flags": "type",
}
_HEADER_HINT = re.compile(r"\b(vlan|mac|port|interface|address|type|age|ip|intf|device|neighbor|neighbour|"
                          r"chassis|system|hardware)\b", re.IGNORECASE)


# A header word that names a column only with the word after it ("Mac Address", "Local Intf", "Port ID").
_MODIFIERS = frozenset({"local", "loc", "lcl", "rem", "remote", "mac", "hardware", "hw", "device", "system",
                        "neighbor", "neighbour", "destination", "dest", "ip", "protocol", "chassis", "port", "host",
                        "logical", "physical", "egress", "age", "next", "internet", "link-layer", "vlan/", "sys"})
_CONTINUATIONS = frozenset({"address", "addr", "id", "name", "intf", "(min)", "(m)", "(s)", "list", "interface",
                            "description", "hop", "hop(s)", "intrfce"})


def phrases(line: str) -> list[tuple[str, int, int]]:
    """A header's column titles with their spans: words one space apart form one title when the first
    is a modifier or the second a continuation ("Mac Address", "Port ID"); "|" separates like a space."""
    words = [(m.group(0), m.start(), m.end()) for m in re.finditer(r"[^\s|]+", line)]
    out: list[tuple[str, int, int]] = []
    for w, a, z in words:
        if out:
            text, pa, pz = out[-1]
            last = text.split()[-1].lower()
            if a - pz == 1 and line[pz] == " " and (last in _MODIFIERS or w.lower() in _CONTINUATIONS):
                out[-1] = (f"{text} {w}", pa, z)
                continue
        out.append((w, a, z))
    return out


@dataclass(frozen=True)
class Column:
    name: str  # "vlan", "port", "mac", "ip", "address", "type", "age", "other"
    start: int
    end: int


def header_columns(line: str) -> list[Column] | None:
    """The columns a header line names, or None when ``line`` is no header.

    Words one space apart form one phrase ("Mac Address"); a phrase that names a column
    in _HEADER_WORDS gives that column, any other phrase an "other" column.
    """
    if not line.strip() or any(is_mac(t.text) or is_ip(t.text) for t in tokens(line)):
        return None
    found: list[Column] = []
    for words, start, end in phrases(line):
        key = " ".join(words.lower().split())
        name = _HEADER_WORDS.get(key) or _HEADER_WORDS.get(key.rstrip(":"))
        if name is None:
            low = key
            if "vlan" in low and "cevlan" not in low.split("/")[0]:
                name = "vlan"
            elif re.search(r"\b(port|interface|intf|intrfce|next hop|next hop\(s\))\b", low):
                name = "port"
            elif "mac" in low or "hardware" in low:
                name = "mac"
            else:
                name = "other"
        found.append(Column(name, start, end))
    named = [c for c in found if c.name != "other"]
    if len(named) < 2 or not _HEADER_HINT.search(line):
        return None
    return found


def column_of(tok: Token, columns: list[Column]) -> Column:
    """The header column a data token sits under: the one it overlaps most, else the nearest."""
    def score(c: Column) -> tuple[int, int]:
        overlap = min(tok.end, c.end) - max(tok.start, c.start)
        distance = 0 if overlap > 0 else min(abs(tok.start - c.start), abs(tok.end - c.end),
                                              abs(tok.start - c.end), abs(tok.end - c.start))
        return (max(overlap, 0), -distance)

    return max(columns, key=score)


# --------------------------------------------------------------- MAC and ARP tables
def _vlan_text(text: str) -> str:
    """"10", "Default(0001)", "Vlan10", "v10" -> the VLAN number as text ("" when there is none)."""
    m = re.search(r"\((\d+)\)$", text) or re.match(r"^(?:vlan|vl|v)?\s*(\d+)$", text, re.IGNORECASE)
    return str(int(m.group(1))) if m else ""


def _rows(text: str) -> tuple[list[tuple[list[Token], list[Column] | None]], bool]:
    """Data lines with the header in force for each; whether any header was seen."""
    out: list[tuple[list[Token], list[Column] | None]] = []
    columns: list[Column] | None = None
    seen_header = False
    for line in text.expandtabs(8).splitlines():
        if not line.strip() or _SEPARATOR.match(line):
            continue
        cols = header_columns(line)
        if cols is not None:
            columns, seen_header = cols, True
            continue
        out.append((tokens(line), columns))
    return out, seen_header


def _pick_port(toks: list[Token], cols: list[Column] | None, skip: set[int]) -> str:
    if cols:
        under = [t for i, t in enumerate(toks) if i not in skip and column_of(t, cols).name == "port"]
        for t in under:
            if is_ifname(t.text.strip(",")):
                return t.text.strip(",")
        for t in under:
            if t.text.lower() not in _NOT_PORTS and not t.text.startswith("["):
                return t.text.strip(",")
        if under:
            return under[0].text.strip(",")
    candidates = [t for i, t in enumerate(toks) if i not in skip and is_ifname(t.text)]
    return candidates[-1].text.strip(",") if candidates else ""


def fdb_records(text: str) -> tuple[list[Record], bool]:
    """MAC-table rows (mac, vlan, port, type) from any layout; whether the output had a MAC-table header."""
    rows, header = _rows(text)
    out: list[Record] = []
    for toks, cols in rows:
        macs = [i for i, t in enumerate(toks) if is_mac(t.text)]
        if len(macs) != 1:
            continue
        vlan, kind = "", ""
        skip = set(macs)
        if cols:
            for i, t in enumerate(toks):
                c = column_of(t, cols).name
                if c == "vlan" and not vlan and i not in skip:
                    vlan = _vlan_text(t.text)
                    if vlan:
                        skip.add(i)
                elif c == "type" and not kind:
                    kind = t.text
        else:
            for i, t in enumerate(toks):
                if i not in skip and re.match(r"^\d{1,4}$", t.text) and 0 < int(t.text) < 4095:
                    vlan = t.text
                    skip.add(i)
                    break
        if not kind:
            kind = next((t.text for t in toks if t.text.lower() in ("dynamic", "static", "learned", "self",
                                                                     "system", "permanent")), "")
        port = _pick_port(toks, cols, skip)
        out.append({"mac": toks[macs[0]].text, "vlan": vlan, "port": port, "type": kind})
    return out, header


def arp_records(text: str) -> tuple[list[Record], bool]:
    """ARP rows (ip, mac, interface) from any layout; whether the output had an ARP header."""
    rows, header = _rows(text)
    out: list[Record] = []
    wrapped: Token | None = None  # NX-OS prints an address too long for its column alone on its line
    for toks, cols in rows:
        macs = [i for i, t in enumerate(toks) if is_mac(t.text)]
        ips = [i for i, t in enumerate(toks) if is_ip(t.text) and not is_mac(t.text)]
        if len(toks) == 1 and ips:
            wrapped = toks[0]
            continue
        if wrapped is not None and macs and not ips:
            toks, ips, macs = [wrapped, *toks], [0], [i + 1 for i in macs]
        wrapped = None
        if len(macs) != 1 or not ips or not int(re.sub(r"[^0-9a-f]", "", toks[macs[0]].text.lower()), 16):
            continue  # no single hardware address (incomplete, or the all-zero placeholder)
        # With a name column (Junos "show arp"), a resolved name may itself be an address: take the first.
        skip = set(macs) | set(ips)
        port = _pick_port(toks, cols, skip)
        out.append({"ip": toks[ips[0]].text, "mac": toks[macs[0]].text, "interface": port})
    return out, header


# --------------------------------------------------------------- neighbours (LLDP, CDP)
def _key(text: str) -> str:
    """"Chassis ID (MAC address)", "chassis-id", "ChassisId" -> "chassisid"."""
    return re.sub(r"[^a-z0-9]", "", re.sub(r"\([^)]*\)", "", text.lower()))


_NAME_KEYS = ("systemname", "sysname", "devicename", "neighborname", "remotesystemname", "deviceid", "hostname",
              "remhostname", "neighborsystemname")
_LOCAL_KEYS = ("localintf", "localinterface", "localportid", "localport", "interface", "localportname", "port",
               "lldpport", "locport", "locportid")
_PORT_KEYS = ("portidoutgoingport", "portid", "remoteportid", "remportid", "neighborportid", "portinfo",
              "remoteport")
_CHASSIS_KEYS = ("chassisid", "remotechassisid", "remchassisid", "neighborchassisid")
_DESCR_KEYS = ("portdescription", "portdescr", "remoteportdescription", "portdesc")
_SYSDESC_KEYS = ("systemdescription", "sysdesc", "systemdescr", "version")
_PLATFORM_KEYS = ("platform",)
_CAPS_KEYS = ("enabledcapabilities", "systemcapabilitiesenabled", "capabilitiesenabled", "enabledcaps",
              "capabilities", "syscapenabled", "enabled", "systemcapabilitiessupported", "systemcapabilities")
# Keys whose repetition starts the next neighbour (addresses and capabilities repeat within one).
_IDENTITY = frozenset(_NAME_KEYS + _LOCAL_KEYS + _CHASSIS_KEYS) - {"port"}
_KV = re.compile(r"^\s*[-*+]?\s*([A-Za-z][A-Za-z0-9()/_.\-]*(?: [A-Za-z0-9()/_.\-]+){0,6}?)"  # words one space apart
                 r"\s*(?:[:=]|\.{3,})\s*(.*?)\s*$")  # "key: value", "key = value", "key ....... value"
_HAS_NEIGHBORS = re.compile(r"^\s*(?:Interface\s+|LLDP Port\s+|Port\s+)?(\S+?):?\s+(?:has|detected)\s+\d+\s+(?:\w+\s+)?"
                            r"(?:neighbou?rs?|neighbor\(s\)|neighbou?r\(s\))", re.IGNORECASE)


def _pairs(line: str) -> list[tuple[str, str]]:
    """key: value pairs of one line; CDP and EXOS put two on a line ("Interface: Gi0/1,  Port ID ...: Gi0/2")."""
    parts = re.split(r"[,;]\s+(?=[A-Z][A-Za-z ()]{1,40}?\s?:)|\s{3,}(?=[A-Z][A-Za-z ()]{2,30}:\s)", line)
    out = []
    for p in parts:
        m = _KV.match(p)
        if m and not re.fullmatch(r"[0-9a-f]{1,4}", m.group(1), re.IGNORECASE):  # a MAC's first bytes
            out.append((_key(m.group(1)), m.group(2).strip().strip('"')))
    return out


def neighbor_records(text: str) -> tuple[list[Record], bool]:
    """Neighbour records (neighbor_name, local_interface, neighbor_port_id, chassis_id, mgmt_address, ...)
    from detailed (key: value) or tabular output; whether the output looked like a neighbour list."""
    lines = text.expandtabs(8).splitlines()
    kv_lines = sum(1 for line in lines if _pairs(line))
    if kv_lines >= 2 and kv_lines * 3 >= len([ln for ln in lines if ln.strip()]):
        return _detail_records(lines), True
    return _table_neighbors(lines)


def _detail_records(lines: list[str]) -> list[Record]:
    blocks: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    local_hint = ""
    in_addresses = False

    def close() -> None:
        nonlocal cur
        if cur:
            blocks.append(cur)
        cur = {}

    for line in lines:
        if _SEPARATOR.match(line) and line.strip():
            close()
            continue
        m = _HAS_NEIGHBORS.match(line)
        if m:
            close()
            local_hint = m.group(1)
            cur["local"] = local_hint
            continue
        pairs = _pairs(line)
        if not pairs and line[:1].strip() and len(line.split()) == 1 and is_ifname(line.strip().rstrip(":")):
            close()  # AlliedWare Plus: the local port alone on a line, its neighbours below
            local_hint = line.strip().rstrip(":")
            cur["local"] = local_hint
            continue
        if not pairs:
            stripped = line.strip()
            if in_addresses and stripped and is_ip(stripped.split()[-1]):
                cur.setdefault("mgmt", []).append(stripped.split()[-1])
            continue
        for k, v in pairs:
            if k in _IDENTITY and k in cur.get("_keys", set()):
                close()
                if local_hint and "local" not in cur:
                    cur["local"] = local_hint
            cur.setdefault("_keys", set()).add(k)
            in_addresses = "address" in k and not v
            if k in _NAME_KEYS and v and not cur.get("name"):
                cur["name"] = v
            elif k in _LOCAL_KEYS and v:
                if k != "port" or "local" not in cur:
                    cur["local"] = v.split(",")[0].strip()
            elif k in _PORT_KEYS and v and "port" not in cur:
                cur.setdefault("port", v)
            elif k in _CHASSIS_KEYS and v:
                cur.setdefault("chassis", v)
            elif k in _DESCR_KEYS and v:
                cur.setdefault("descr", v)
            elif k in _SYSDESC_KEYS and v and "sysdesc" not in cur:
                cur["sysdesc"] = v
            elif k in _PLATFORM_KEYS and v:
                cur.setdefault("platform", v.split(",")[0].strip())
            elif k in _CAPS_KEYS and v:
                if "enabled" in k:  # what is enabled over what is supported
                    cur["caps"] = v
                else:
                    cur.setdefault("caps", v)
            if ("address" in k or k in ("ip", "ipv4", "ipaddress", "mgmtip", "ipv4address")) and v:
                ip = v.split()[0].strip(",")
                if is_ip(ip):
                    cur.setdefault("mgmt", []).append(ip)
    close()
    out: list[Record] = []
    for b in blocks:
        if not (b.get("name") or b.get("chassis") or b.get("port")):
            continue
        out.append({"neighbor_name": b.get("name", ""), "local_interface": b.get("local", ""),
                    "neighbor_port_id": b.get("port", ""), "chassis_id": b.get("chassis", ""),
                    "neighbor_interface_description": b.get("descr", ""),
                    "neighbor_description": b.get("sysdesc", ""), "platform": b.get("platform", ""),
                    "capabilities": b.get("caps", ""), "mgmt_address": b.get("mgmt", [])})
    return out


_NEIGHBOR_COLUMNS = (  # header title (normalised) -> field; first match wins
    ("localportid", "local"), ("locportid", "local"), ("lclport", "local"), ("localintf", "local"),
    ("localport", "local"), ("localinterface", "local"), ("locport", "local"),
    ("chassis", "chassis"), ("remportid", "port"), ("remoteport", "port"), ("neighborport", "port"),
    ("portid", "port"), ("portinfo", "port"), ("remhostname", "sysname"), ("systemname", "sysname"),
    ("sysname", "sysname"), ("deviceid", "name"), ("devicename", "name"), ("neighborsystemname", "sysname"),
    ("neighbor", "name"), ("hostname", "sysname"), ("interface", "local"), ("port", "local"),
    ("capab", "caps"), ("platform", "platform"),
)


def _neighbor_header(line: str) -> list[Column] | None:
    cols: list[Column] = []
    for words, start, end in phrases(line):
        k = _key(words)
        name = next((f for p, f in _NEIGHBOR_COLUMNS if p in k), "other")
        cols.append(Column(name, start, end))
    names = {c.name for c in cols}
    if "local" in names and ({"name", "sysname", "chassis"} & names) and not any(is_mac(t.text) for t in tokens(line)):
        return cols
    return None


def _slice(line: str, cols: list[Column]) -> dict[str, str]:
    """Fixed-width fields cut at the header's column starts, moved to a nearby space when one is close
    (values may start a little left of their header) and kept where a long value runs into the next column."""
    cuts: list[int] = []
    for c in cols[1:]:
        b = c.start
        if 0 < b < len(line) and line[b - 1] != " " and line[b] != " ":
            start = line.rfind(" ", 0, b) + 1  # the token the cut falls in
            if start > (cuts[-1] if cuts else 0) and start > 0:
                b = start  # a value that starts left of its header (a long value before it)
            else:
                near = [i for i in range(max(b - 3, 1), min(b + 3, len(line))) if line[i] == " "]
                if near:
                    b = min(near, key=lambda i: abs(i - b)) + 1
        cuts.append(b)
    bounds = [0, *cuts, max(len(line), cuts[-1] if cuts else 0)]
    out: dict[str, str] = {}
    for c, a, z in zip(cols, bounds, bounds[1:], strict=False):
        v = line[a:z].replace("|", " ").strip()
        if c.name in ("local", "port") and len(v.split()) > 1:
            v = tokens(v)[0].text  # "1/g17     1": a narrow column after a wide title
        if v and c.name != "other" and c.name not in out:
            out[c.name] = v
    return out


_FOOTER = re.compile(r"^\s*(total|number of)\s[^:]*:\s*\d+\s*$", re.IGNORECASE)  # "Total entries displayed: 3"


def _table_neighbors(lines: list[str]) -> tuple[list[Record], bool]:
    out: list[Record] = []
    cols: list[Column] | None = None
    pending = ""  # NX-OS prints a long Device ID alone on its line, the rest on the next
    rows, seen = 0, False
    for line in lines:
        if not line.strip():
            continue
        if _SEPARATOR.match(line):
            if rows:  # a rule after the rows closes the table (EXOS prints notes below it)
                cols, rows = None, 0
            continue
        h = _neighbor_header(line)
        if h is not None:
            cols, pending, seen = h, "", True
            continue
        if cols is None:
            continue
        if line.split()[0].endswith(":") or _FOOTER.match(line):
            continue  # a note or a total, not a row
        if len(line.split()) == 1 and not line[0].isspace() and cols[0].name in ("name", "sysname"):
            pending = line.strip()
            continue
        f = _slice(line, cols)
        first = cols[0].name
        if pending:
            f[first] = pending + f.get(first, "") if not line[:cols[1].start].strip() else f.get(first, pending)
            pending = ""
        name = f.get("sysname") or f.get("name", "")
        if not (name or f.get("chassis")) or not f.get("local"):
            continue
        if f.get("local", "").lower().startswith("total"):
            continue
        rows += 1
        out.append({"neighbor_name": name, "local_interface": f.get("local", ""),
                    "neighbor_port_id": f.get("port", ""), "chassis_id": f.get("chassis", ""),
                    "capabilities": f.get("caps", ""), "platform": f.get("platform", ""), "mgmt_address": []})
    return out, seen
