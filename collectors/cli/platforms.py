"""The CLI platforms: the one list, one entry per platform.

An entry says how to reach the switch (its netmiko ``device_type`` is the key), which
commands fill which table, which ntc-templates platforms hold the templates for them
(tried in order; where none has a template, or a template matches nothing, the
tolerant parser of :mod:`collectors.cli.tolerant` reads the output), and how interface
names are normalised. ``sensor.config`` and ``sensor parse`` take the list from here.

Pure data: this module imports nothing of the project, so every other module may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Platform:
    """One CLI platform. ``name`` is netmiko's device_type (and what ``[switch.cli] platform`` says)."""

    name: str
    label: str
    # (table, command) in the order they run; interfaces first so real ifIndex values are known.
    commands: tuple[tuple[str, str], ...]
    # ntc-templates platform names, tried in order (empty: the tolerant parser only).
    textfsm: tuple[str, ...] = ()
    # Send "enable" first when an enable password is configured.
    enable: bool = False
    # Interface names: "cisco" expands Cisco-style abbreviations (Gi1/0/1 = GigabitEthernet1/0/1),
    # "verbatim" keeps them as printed (ge-0/0/1, 1/1/1, port1.0.1).
    names: str = "cisco"
    # Abbreviations this platform prints that differ from Cisco IOS's (lower-case word -> full word).
    abbreviations: tuple[tuple[str, str], ...] = field(default=())


_CISCO = (("interfaces", "show interfaces"), ("fdb", "show mac address-table"), ("arp", "show ip arp"),
          ("lldp", "show lldp neighbors detail"), ("lldp", "show lldp neighbors"),
          ("cdp", "show cdp neighbors detail"))
_PROCURVE = (("interfaces", "show interfaces brief"), ("fdb", "show mac-address"), ("arp", "show arp"),
             ("lldp", "show lldp info remote-device detail"), ("cdp", "show cdp neighbors detail"))

_ENTRIES = (
    # ------------------------------------------------------------ the first eight (and Linux)
    Platform("cisco_ios", "Cisco IOS", _CISCO, ("cisco_ios",), enable=True),
    Platform("cisco_xe", "Cisco IOS-XE", _CISCO, ("cisco_ios",), enable=True),
    Platform("cisco_nxos", "Cisco NX-OS",
             (("interfaces", "show interface"), ("fdb", "show mac address-table"), ("arp", "show ip arp vrf all"),
              ("lldp", "show lldp neighbors detail"), ("cdp", "show cdp neighbors detail")),
             ("cisco_nxos",), enable=True),
    Platform("arista_eos", "Arista EOS",
             (("interfaces", "show interfaces | json"), ("fdb", "show mac address-table | json"),
              ("arp", "show arp vrf all | json"), ("lldp", "show lldp neighbors detail | json")),
             ("arista_eos",), enable=True),
    Platform("hp_procurve", "HPE ProCurve / ArubaOS-Switch", _PROCURVE, ("hp_procurve",), enable=True,
             names="verbatim"),
    Platform("aruba_aoscx", "Aruba AOS-CX",
             (("interfaces", "show interface"), ("fdb", "show mac-address-table"), ("arp", "show arp all-vrfs"),
              ("lldp", "show lldp neighbors-info detail")),
             ("aruba_aoscx",), names="verbatim"),
    Platform("hp_comware", "HPE Comware",
             (("interfaces", "display interface brief"), ("fdb", "display mac-address"), ("arp", "display arp"),
              ("lldp", "display lldp neighbor-information verbose")),
             ("hp_comware",)),
    Platform("juniper_junos", "Juniper Junos",
             (("interfaces", "show interfaces terse | display xml"),
              ("fdb", "show ethernet-switching table | display xml"),
              ("arp", "show arp no-resolve | display xml"), ("lldp", "show lldp neighbors | display xml")),
             ("juniper_junos",), names="verbatim"),
    Platform("linux", "Linux bridge (iproute2, lldpd)",
             (("interfaces", "ip -j -d link show"), ("fdb", "bridge -j fdb show"), ("arp", "ip -j neigh show"),
              ("lldp", "lldpcli -f json0 show neighbors details"), ("system", "lldpcli -f json0 show chassis")),
             names="verbatim"),
    # ------------------------------------------------------------ platforms hospitals run besides
    Platform("huawei_vrp", "Huawei VRP (S-series)",
             (("interfaces", "display interface brief"), ("fdb", "display mac-address"), ("arp", "display arp all"),
              ("lldp", "display lldp neighbor")),
             ("huawei_vrp",),
             # display mac-address prints GE0/0/1, XGE0/0/1; display interface brief the full names.
             abbreviations=(("ge", "GigabitEthernet"), ("xge", "XGigabitEthernet"), ("xgigabitethernet",
                            "XGigabitEthernet"), ("mege", "MEth"), ("eth-trunk", "Eth-Trunk"),
                            ("vlanif", "Vlanif"), ("meth", "MEth"), ("40ge", "40GE"), ("100ge", "100GE"))),
    Platform("dell_os10", "Dell EMC SmartFabric OS10",
             (("fdb", "show mac address-table"), ("arp", "show ip arp"), ("lldp", "show lldp neighbors")),
             enable=False),
    Platform("dell_force10", "Dell Networking OS9 (Force10 FTOS)",
             (("fdb", "show mac-address-table"), ("arp", "show arp"), ("lldp", "show lldp neighbors")),
             ("dell_force10",), enable=True,
             abbreviations=(("tengig", "TenGigabitEthernet"), ("fortygig", "FortyGigabitEthernet"),
                            ("ma", "ManagementEthernet"), ("managementethernet", "ManagementEthernet"))),
    Platform("dell_powerconnect", "Dell PowerConnect / Networking N-series",
             (("fdb", "show bridge address-table"), ("arp", "show arp"), ("lldp", "show lldp remote-device all")),
             ("dell_powerconnect",), enable=True),
    Platform("extreme_exos", "Extreme EXOS",
             (("fdb", "show fdb"), ("arp", "show iparp"), ("lldp", "show lldp neighbors")),
             ("extreme_exos",), names="verbatim"),
    Platform("alcatel_aos", "Alcatel-Lucent Enterprise OmniSwitch (AOS)",
             (("fdb", "show mac-learning"), ("arp", "show arp"), ("lldp", "show lldp remote-system")),
             ("alcatel_aos",), names="verbatim"),
    Platform("ruckus_fastiron", "Ruckus ICX / Brocade FastIron",
             (("fdb", "show mac-address"), ("arp", "show arp"), ("lldp", "show lldp neighbors detail")),
             ("ruckus_fastiron", "brocade_fastiron"), enable=True, names="verbatim"),
    Platform("aruba_osswitch", "ArubaOS-Switch", _PROCURVE, ("hp_procurve",), enable=True, names="verbatim"),
    Platform("cisco_s300", "Cisco Small Business (SG300/SG350)",
             (("fdb", "show mac address-table"), ("arp", "show arp"), ("lldp", "show lldp neighbors")),
             ("cisco_s300",), enable=True),
    Platform("cisco_xr", "Cisco IOS-XR",
             (("fdb", "show l2vpn mac-learning mac all location 0/0/CPU0"), ("arp", "show arp"),
              ("lldp", "show lldp neighbors detail"), ("cdp", "show cdp neighbors detail")),
             ("cisco_xr",),
             abbreviations=(("te", "TenGigE"), ("tengige", "TenGigE"), ("hu", "HundredGigE"),
                            ("fo", "FortyGigE"), ("fortygige", "FortyGigE"), ("tf", "TwentyFiveGigE"),
                            ("be", "Bundle-Ether"), ("bundle-ether", "Bundle-Ether"), ("mg", "MgmtEth"),
                            ("mgmteth", "MgmtEth"), ("bv", "BVI"), ("bvi", "BVI"))),
    Platform("allied_telesis_awplus", "Allied Telesis AlliedWare Plus",
             (("fdb", "show mac address-table"), ("arp", "show arp"), ("lldp", "show lldp neighbors detail")),
             ("allied_telesis_awplus",), enable=True, names="verbatim"),
)

CLI: MappingProxyType[str, Platform] = MappingProxyType({p.name: p for p in _ENTRIES})
CLI_PLATFORMS: tuple[str, ...] = tuple(CLI)
# Replies read by collectors.netconf (any known XML shape); "sros" also reads `show service fdb-mac` text.
NETCONF_PLATFORMS: tuple[str, ...] = ("netconf", "openconfig", "ietf", "iosxr", "sros")
PLATFORMS: tuple[str, ...] = CLI_PLATFORMS + NETCONF_PLATFORMS
VERBATIM_PLATFORMS = frozenset({p.name for p in _ENTRIES if p.names == "verbatim"} | {"sros", "iosxr"})


def platform(name: str) -> Platform | None:
    """The CLI platform called ``name`` (netmiko's device_type), or None."""
    return CLI.get(name)
