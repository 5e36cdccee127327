"""SNMP collector: IF-MIB, BRIDGE-MIB, Q-BRIDGE-MIB, IP-MIB, LLDP-MIB, CISCO-CDP-MIB, LAG, system.

``decode`` is pure (varbinds -> facts), ``ber`` and ``usm`` are the pure message codecs,
``client`` is the thin I/O, ``poll`` puts one switch's walks together into one Snapshot.
"""

from collectors.snmp.client import Credentials, Target, close_engines
from collectors.snmp.poll import PollResult, poll

__all__ = ["Credentials", "PollResult", "Target", "close_engines", "poll"]
