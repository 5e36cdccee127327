"""The tolerant parser on tables in any column order and spacing, and the platform table.

The hypothesis tests build MAC and ARP tables the way switches print them (a header, columns
left-aligned and padded to at least their title, two or more spaces apart, any order, extra
columns, MACs in every notation) and check every row comes back with its VLAN and port.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.cli import tolerant
from collectors.cli.parse import ParseError, command_table, parse
from collectors.cli.platforms import CLI, CLI_PLATFORMS, PLATFORMS
from collectors.provenance import tolerant_tables
from collectors.tables import norm_mac
from sensor.config import ConfigError, load_config

# ------------------------------------------------------------------ generated tables
MAC_STYLES = (
    lambda b: f"{b[0]:02x}{b[1]:02x}.{b[2]:02x}{b[3]:02x}.{b[4]:02x}{b[5]:02x}",
    lambda b: ":".join(f"{x:02x}" for x in b),
    lambda b: "-".join(f"{x:02X}" for x in b),
    lambda b: f"{b[0]:02x}{b[1]:02x}-{b[2]:02x}{b[3]:02x}-{b[4]:02x}{b[5]:02x}",
    lambda b: f"{b[0]:02x}{b[1]:02x}{b[2]:02x}-{b[3]:02x}{b[4]:02x}{b[5]:02x}",
)
PORTS = st.one_of(
    st.builds(lambda a, b, c: f"Gi{a}/{b}/{c}", st.integers(1, 9), st.integers(0, 1), st.integers(1, 48)),
    st.builds(lambda a, b: f"GigabitEthernet{a}/{b}", st.integers(0, 9), st.integers(1, 48)),
    st.builds(lambda a, b: f"ge-0/{a}/{b}.0", st.integers(0, 3), st.integers(0, 47)),
    st.builds(lambda a, b: f"ethernet1/{a}/{b}", st.integers(1, 2), st.integers(1, 54)),
    st.builds(lambda a, b: f"{a}/1/{b}", st.integers(1, 8), st.integers(1, 48)),
    st.builds(lambda a: f"port1.0.{a}", st.integers(1, 52)),
    st.builds(lambda a: f"Eth-Trunk{a}", st.integers(1, 16)),
    st.builds(lambda a: f"Po{a}", st.integers(1, 64)),
    st.builds(lambda a, b: f"{a}:{b}", st.integers(1, 8), st.integers(1, 48)),
    st.builds(lambda a, b: f"XGE0/{a}/{b}", st.integers(0, 1), st.integers(1, 24)),
)
TITLES = {
    "vlan": ("Vlan", "VLAN", "VlanId", "VLAN ID", "Vlan Id"),
    "mac": ("Mac Address", "MAC Address", "MAC", "Hardware Addr", "mac address", "MAC-Address"),
    "port": ("Ports", "Port", "Interface", "Destination Port", "Learned-From Port", "Intf"),
    "ip": ("Address", "IP Address", "Internet Address", "IP ADDRESS"),
    "type": ("Type", "TYPE", "Status", "Flags"),
    "age": ("Age", "Age (min)", "EXPIRE(M)", "Age(min)"),
    "extra": ("Secure", "NTFY", "Learn", "Protocols", "VPN-INSTANCE"),
}
TYPES = ("dynamic", "DYNAMIC", "static", "Learned", "D")
AGES = ("0", "12", "-", "00:03:17", "240")


@st.composite
def table(draw: st.DrawFn, kind: str) -> tuple[str, list[dict[str, str]]]:
    need = ["mac", "port"] + (["vlan"] if kind == "fdb" else ["ip"])
    extra = draw(st.lists(st.sampled_from(["type", "age", "extra"]), unique=True))
    cols = draw(st.permutations(need + extra))
    titles = {c: draw(st.sampled_from(TITLES[c])) for c in cols}
    n = draw(st.integers(1, 8))
    rows: list[dict[str, str]] = []
    macs = draw(st.lists(st.lists(st.integers(0, 255), min_size=6, max_size=6), min_size=n, max_size=n,
                         unique_by=lambda b: tuple(b)))
    for b in macs:
        b[0] &= 0xFE  # unicast
        rows.append({
            "mac": draw(st.sampled_from(MAC_STYLES))(b), "port": draw(PORTS), "vlan": str(draw(st.integers(1, 4094))),
            "ip": f"10.{draw(st.integers(0, 255))}.{draw(st.integers(0, 255))}.{draw(st.integers(1, 254))}",
            "type": draw(st.sampled_from(TYPES)), "age": draw(st.sampled_from(AGES)),
            "extra": draw(st.sampled_from(("F", "T", "ip,ipx", "-"))),
        })
    widths = {c: max(len(titles[c]), *(len(r[c]) for r in rows)) + draw(st.integers(2, 6)) for c in cols}
    # Numbers right-aligned under their title (IOS, NX-OS print VLANs so); NX-OS marks rows with "*" in the margin.
    right = {c for c in ("vlan", "age") if c in cols and draw(st.booleans())}
    marks = draw(st.booleans())
    indent = " " * (3 if marks else draw(st.integers(0, 3)))

    def cell(c: str, v: str) -> str:
        return (v.rjust(len(titles[c])) if c in right else v).ljust(widths[c])

    lines = [indent + "".join(titles[c].ljust(widths[c]) for c in cols).rstrip()]
    if draw(st.booleans()):
        lines.append(indent + "".join(("-" * len(titles[c])).ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        margin = draw(st.sampled_from(["*  ", "   ", "+  "])) if marks else indent
        lines.append(margin + "".join(cell(c, r[c]) for c in cols).rstrip())
    if draw(st.booleans()):
        lines.append(f"Total Mac Addresses for this criterion: {n}")
    return "\n".join(lines) + "\n", rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table("fdb"))
def test_fdb_any_layout(t: tuple[str, list[dict[str, str]]]) -> None:
    text, rows = t
    found, header = tolerant.fdb_records(text)
    assert header
    got = {norm_mac(r["mac"]): (r["vlan"], r["port"]) for r in found}
    assert got == {norm_mac(r["mac"]): (r["vlan"], r["port"]) for r in rows}, text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table("arp"))
def test_arp_any_layout(t: tuple[str, list[dict[str, str]]]) -> None:
    text, rows = t
    found, header = tolerant.arp_records(text)
    assert header
    got = {(r["ip"], norm_mac(r["mac"])): r["interface"] for r in found}
    assert got == {(r["ip"], norm_mac(r["mac"])): r["port"] for r in rows}, text


@settings(max_examples=100, deadline=None)
@given(table("fdb"), st.sampled_from(CLI_PLATFORMS[:8]))
def test_fdb_through_parse_when_no_template_matches(t: tuple[str, list[dict[str, str]]], platform: str) -> None:
    """A layout no template knows still gives the facts, with the note that says how they were read."""
    text, rows = t
    tables = parse(platform if platform != "linux" else "cisco_ios", "show mac address-table",
                   "Mac Address Table (release 99)\n\n" + text)
    assert {f.mac for f in tables.fdb or []} == {norm_mac(r["mac"]) for r in rows}
    assert any("tolerant parser" in n for n in tables.notes)


NEIGHBOR_TITLES = {
    "local": ("Local Intf", "Local Port", "Loc PortID", "Local Interface", "Lcl Port"),
    "name": ("System Name", "Device ID", "Rem Host Name", "SysName", "Neighbor System Name"),
    "port": ("Port ID", "Rem Port Id", "Neighbor Port ID", "Port Info"),
    "chassis": ("Chassis ID", "Rem Chassis Id", "Neighbor Chassis ID"),
    "extra": ("Hold-time", "TTL", "Capability", "Age"),
}
NAMES = st.from_regex(r"[a-z][a-z0-9\-]{0,20}(\.[a-z]{2,8}){0,2}", fullmatch=True)


@st.composite
def neighbor_table(draw: st.DrawFn) -> tuple[str, list[dict[str, str]]]:
    cols = draw(st.permutations(["local", "name", "port", "chassis", *draw(st.lists(st.just("extra"), max_size=1))]))
    titles = {c: draw(st.sampled_from(NEIGHBOR_TITLES[c])) for c in cols}
    locals_ = draw(st.lists(PORTS, min_size=1, max_size=6, unique=True))
    rows = [{"local": loc, "name": draw(NAMES), "port": draw(PORTS),
             "chassis": MAC_STYLES[1](draw(st.lists(st.integers(0, 255), min_size=6, max_size=6))),
             "extra": str(draw(st.integers(1, 180)))} for loc in locals_]
    widths = {c: max(len(titles[c]), *(len(r[c]) for r in rows)) + draw(st.integers(2, 5)) for c in cols}
    lines = ["".join(titles[c].ljust(widths[c]) for c in cols).rstrip()]
    lines += ["".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in rows]
    if draw(st.booleans()):
        lines.append(f"Total entries displayed: {len(rows)}")
    return "\n".join(lines) + "\n", rows


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(neighbor_table())
def test_neighbours_any_layout(t: tuple[str, list[dict[str, str]]]) -> None:
    text, rows = t
    found, header = tolerant.neighbor_records(text)
    assert header
    got = {r["local_interface"]: (r["neighbor_name"], r["neighbor_port_id"], r["chassis_id"]) for r in found}
    assert got == {r["local"]: (r["name"], r["port"], r["chassis"]) for r in rows}, text


# ------------------------------------------------------------------ outputs no template matches
def test_no_header_rows_by_form() -> None:
    text = "0050.56a1.1c2d  20  Gi1/0/5\n00:1e:c9:7a:33:10 30 Te1/1/1 dynamic\n"
    found, header = tolerant.fdb_records(text)
    assert not header
    assert [(r["vlan"], r["port"]) for r in found] == [("20", "Gi1/0/5"), ("30", "Te1/1/1")]


def test_wrapped_long_addresses() -> None:
    """NX-OS prints an IPv6 address longer than its column alone, the rest of the row below."""
    text = """Address         Age       MAC Address     Pref Source     Interface
2001:db8:20:500c:428d:5cff:fe34:fd9a
                   16w3d  408d.5c34.fd9a  50   icmpv6     Vlan641
2001:db8:20:500c::
                00:00:41  0000.0000.0000  255  icmpv6     Vlan641          #
10.1.2.3        00:00:10  408d.5c34.fd9b  50   arp        Vlan641
"""
    found, _ = tolerant.arp_records(text)
    assert [(r["ip"], r["interface"]) for r in found] == [("2001:db8:20:500c:428d:5cff:fe34:fd9a", "Vlan641"),
                                                          ("10.1.2.3", "Vlan641")]


def test_garbage_is_still_an_error() -> None:
    """Output with no rows and no header (an error message) fails the table, as before."""
    with pytest.raises(ParseError, match="tolerant parser found no fdb rows"):
        parse("dell_os10", "show mac address-table", "% Error: Unrecognized command.\n")


def test_empty_table_with_header_is_empty_not_failed() -> None:
    t = parse("dell_os10", "show mac address-table", "VlanId   Mac Address   Type   Interface\n")
    assert t.fdb == [] and "fdb" in t.provided()


def test_ntc_rows_kept_and_skipped_rows_added() -> None:
    """Where the template reads some rows, they stay; rows it skipped come from the tolerant parser."""
    out = Path(__file__).parent / "outputs" / "dell_force10__show_arp.txt"
    t = parse("dell_force10", "show arp", out.read_text())
    assert len(t.arp or []) == 3
    assert any("1 row(s) ntc-templates skipped" in n for n in t.notes)
    assert tolerant_tables(t.notes) == {"arp"}


def test_neighbour_detail_blocks() -> None:
    text = """
Local Intf: Gi1/0/7
Chassis id: 0009.0f44.7101
Port id: 0009.0f44.7101
System Name: pump-7
Management Addresses:
    IP: 10.20.0.7
    IP: 10.21.0.7
Local Intf: Gi1/0/8
Chassis id: 0009.0f44.7102
Port id: 0009.0f44.7102
System Name: pump-8
"""
    found, ok = tolerant.neighbor_records(text)
    assert ok
    assert [(r["local_interface"], r["neighbor_name"], r["mgmt_address"]) for r in found] == [
        ("Gi1/0/7", "pump-7", ["10.20.0.7", "10.21.0.7"]), ("Gi1/0/8", "pump-8", [])]


def test_long_names_in_a_brief_table() -> None:
    text = """Device ID            Local Intf      Hold-time  Capability  Port ID
ventilator-icu-bed-12.hospital.example.org
                     Eth1/12         120        S           0009.0f44.7101
short                Eth1/13         120        B           Gi0/1
"""
    found, _ = tolerant.neighbor_records(text)
    assert [(r["local_interface"], r["neighbor_name"], r["neighbor_port_id"]) for r in found] == [
        ("Eth1/12", "ventilator-icu-bed-12.hospital.example.org", "0009.0f44.7101"), ("Eth1/13", "short", "Gi0/1")]


# ------------------------------------------------------------------ the platform table
def test_platform_table_is_the_one_list() -> None:
    from collectors.cli.ssh import COMMANDS, ENABLE_PLATFORMS
    from sensor import config

    assert set(COMMANDS) == set(CLI_PLATFORMS) and set(CLI_PLATFORMS) >= ENABLE_PLATFORMS
    assert typing.get_args(config.CliPlatform) == CLI_PLATFORMS
    assert set(CLI_PLATFORMS) <= set(PLATFORMS)
    for p in CLI.values():
        for table, command in p.commands:
            assert command_table(command) == table, (p.name, command)


def test_netmiko_knows_every_platform() -> None:
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    assert [p for p in CLI_PLATFORMS if p not in CLASS_MAPPER and p != "linux"] == []


@pytest.mark.parametrize("platform", ["huawei_vrp", "dell_os10", "dell_force10", "dell_powerconnect", "extreme_exos",
                                      "alcatel_aos", "ruckus_fastiron", "aruba_osswitch", "cisco_s300", "cisco_xr",
                                      "allied_telesis_awplus"])
def test_config_accepts_platform(tmp_path: Path, platform: str) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nid = "c"\nsite = "s"\nstate_dir = "{tmp_path}"\n'
                   f'[[switch]]\nname = "a"\nhost = "127.0.0.1"\nmethods = ["cli"]\n'
                   f'[switch.cli]\nplatform = "{platform}"\nusername = "u"\npassword_file = "/nonexistent"\ninsecure_no_host_key_check = true\n')
    c = load_config(cfg, check_files=False)
    assert c.switch[0].cli is not None and c.switch[0].cli.platform == platform


def test_config_names_the_platforms_on_a_typo(tmp_path: Path) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nid = "c"\nsite = "s"\nstate_dir = "{tmp_path}"\n'
                   f'[[switch]]\nname = "a"\nhost = "127.0.0.1"\nmethods = ["cli"]\n'
                   f'[switch.cli]\nplatform = "huawei"\nusername = "u"\npassword_file = "/nonexistent"\ninsecure_no_host_key_check = true\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg, check_files=False)
    assert '"huawei_vrp"' in str(e.value) and 'got "huawei"' in str(e.value)
