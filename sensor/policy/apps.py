"""Application names for (protocol, port): clinical protocols first, then IANA service names.

ASTM E1394/LIS2-A2 and POCT1-A have no assigned port: each site configures its
analyzers' and POC data managers' ports, so they are named in ``[policy] applications``
(e.g. ``"tcp/5001" = "ASTM (chemistry analyzer to LIS)"``), which wins over everything here.

The clinical names are what biomed recognises on a rule; the IANA names come from the
system's services database (``socket.getservbyport``), with a small shipped table for
the common ones so the answer does not depend on /etc/services being installed. A port
with no name stays a port ("tcp/40000").
"""

from __future__ import annotations

import functools
import socket

PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}
PROTO_NUMBERS = {v: k for k, v in PROTO_NAMES.items()}

# (proto or None for any, port) -> name
CLINICAL: dict[tuple[int | None, int], str] = {
    (6, 2575): "HL7 MLLP",
    (6, 104): "DICOM",
    (6, 11112): "DICOM",
    (6, 2761): "DICOM ISCL",
    (6, 2762): "DICOM TLS",
    (17, 24105): "Philips IntelliVue Data Export",
    (17, 24005): "Philips IntelliVue (central station)",
    (6, 24005): "Philips IntelliVue (central station)",
}
CLINICAL_PORTS = frozenset(p for _, p in CLINICAL)

# The common IANA names, used when the system has no services database.
IANA: dict[tuple[int, int], str] = {
    (6, 20): "ftp-data", (6, 21): "ftp", (6, 22): "ssh", (6, 23): "telnet", (6, 25): "smtp", (6, 53): "domain",
    (17, 53): "domain", (17, 67): "bootps", (17, 68): "bootpc", (17, 69): "tftp", (6, 80): "http",
    (6, 88): "kerberos", (17, 88): "kerberos", (17, 123): "ntp", (6, 135): "epmap", (17, 137): "netbios-ns",
    (17, 138): "netbios-dgm", (6, 139): "netbios-ssn", (6, 143): "imap", (17, 161): "snmp", (17, 162): "snmptrap",
    (6, 389): "ldap", (6, 443): "https", (17, 443): "https", (6, 445): "microsoft-ds", (17, 514): "syslog",
    (6, 636): "ldaps", (6, 853): "domain-s", (6, 993): "imaps", (6, 995): "pop3s", (6, 1433): "ms-sql-s",
    (6, 1521): "oracle", (6, 1883): "mqtt", (6, 3306): "mysql", (6, 3389): "ms-wbt-server", (6, 5060): "sip",
    (17, 5060): "sip", (6, 5061): "sips", (6, 5432): "postgresql", (6, 5900): "vnc", (6, 8080): "http-alt",
    (6, 8443): "https-alt", (6, 8883): "secure-mqtt", (17, 2055): "netflow", (17, 4739): "ipfix",
}

# Palo Alto App-IDs for the named applications that have one.
PAN_APP_IDS: dict[str, str] = {
    "HL7 MLLP": "hl7", "DICOM": "dicom", "ssh": "ssh", "telnet": "telnet", "http": "web-browsing",
    "https": "ssl", "domain": "dns", "ntp": "ntp", "snmp": "snmp", "ms-wbt-server": "ms-rdp",
    "microsoft-ds": "ms-ds-smb", "ldap": "ldap", "syslog": "syslog", "smtp": "smtp", "ftp": "ftp",
    "tftp": "tftp", "vnc": "vnc", "mqtt": "mqtt", "kerberos": "kerberos", "sip": "sip",
}


_SITE: dict[tuple[int, int], str] = {}


def configure(applications: dict[str, str]) -> None:
    """Site names for ports ("tcp/5001" -> "ASTM ..."), checked by the config already."""
    _SITE.clear()
    for key, name in applications.items():
        proto, _, port = key.partition("/")
        _SITE[(PROTO_NUMBERS[proto], int(port))] = name
    application.cache_clear()


@functools.lru_cache(maxsize=4096)
def application(proto: int, port: int) -> str | None:
    """The application's name, or None when the port has none."""
    name = _SITE.get((proto, port)) or CLINICAL.get((proto, port)) or CLINICAL.get((None, port))
    if name:
        return name
    if proto not in (6, 17) or not 0 < port < 65536:
        return None
    name = IANA.get((proto, port))
    if name:
        return name
    try:
        return socket.getservbyport(port, PROTO_NAMES[proto])
    except OSError:
        return None


def service_text(proto: int, port: int) -> str:
    """"tcp/2575 (HL7 MLLP)", "tcp/40000", "icmp"."""
    p = PROTO_NAMES.get(proto, str(proto))
    if not port:
        return p
    app = application(proto, port)
    return f"{p}/{port} ({app})" if app else f"{p}/{port}"
