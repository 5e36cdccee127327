"""Export of what the lab's real traffic produces (tests/lab/test_policy_lab.py found these).

A segment's devices speak IPv6 neighbour discovery (ICMPv6, "ipv6-icmp" in the policy file) with
their router's global and link-local addresses, and ICMP with their IPv4 gateway, next to HL7.
Every Aerleon target must compile such a policy: Aerleon calls ICMPv6 "icmpv6", not IANA's
"ipv6-icmp", and refuses names it does not know.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sensor.policy.document import Evidence, Header, PolicyDoc, Rule, Zone
from sensor.policy.export import FORMATS, export

PUMP4, PUMP6, GW4, GW6, LL = "198.18.30.21", "fd00:18:30::21", "198.18.30.1", "fd00:18:30::1", "fe80::2a99:3aff:fe02:1e"
SRV = "198.18.20.10"


def rule(src: list[str], dst: list[str], proto: str, port: int = 0) -> Rule:
    return Rule(id=f"{','.join(src)}>{','.join(dst)}:{proto}/{port}", source=src, destination=dst,
                proto=proto, port=port, state="approved", by="biomed", ticket="LAB-15",  # type: ignore[arg-type]
                evidence=Evidence(devices=1, bytes=100, observations=1))


def lab_doc() -> PolicyDoc:
    return PolicyDoc(
        policy=Header(version=1, site="lab"),
        zone=[Zone(name="medication_delivery", protected=True, devices=1, classes=["infusion_pump"],
                   addresses=[f"{PUMP4}/32", f"{PUMP6}/128"]),
              Zone(name="clinical_servers", addresses=[f"{SRV}/32"])],
        rule=[rule([f"host:{PUMP4}/32"], [f"host:{SRV}/32"], "tcp", 2575),
              rule([f"host:{PUMP4}/32"], [f"host:{GW4}/32"], "icmp"),
              rule([f"host:{PUMP6}/128"], [f"host:{GW6}/128", f"host:{LL}/128", "host:ff02::1:ff00:1/128"],
                   "ipv6-icmp"),
              rule([f"host:{GW6}/128", f"host:{LL}/128"], [f"host:{PUMP6}/128"], "ipv6-icmp")],
    )


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "mud"])
def test_every_format_compiles_icmpv6_and_mixed_families(fmt: str) -> None:
    text = export(lab_doc(), fmt)
    assert text.strip()
    if fmt == "nftables":
        assert "icmpv6" in text and "table inet filtering_policies" in text


def test_nftables_with_icmpv6_is_accepted_by_nft(tmp_path: Path) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nft not installed (Debian package nftables): the ruleset was not checked by nft -c")
    path = tmp_path / "policy.nft"
    path.write_text(export(lab_doc(), "nftables"))
    r = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
