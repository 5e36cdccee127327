"""IANA IPFIX information elements: names and abstract data types.

NetFlow v9 field types 1-127 are the same numbers as the IPFIX elements (RFC 3954 /
RFC 7012), so one table serves both. Only the element's name and how to render its
value are needed here; unknown elements are shown as ``ie<id>`` (or
``ie<pen>.<id>`` for enterprise-specific ones) with their raw bytes in hex.
"""

from __future__ import annotations

from typing import Final

# data types (RFC 7011/7012 abstract types, simplified to what rendering needs)
U: Final = "unsigned"
S: Final = "signed"
V4: Final = "ipv4Address"
V6: Final = "ipv6Address"
MAC: Final = "macAddress"
STR: Final = "string"
OCT: Final = "octetArray"
SEC: Final = "dateTimeSeconds"
MS: Final = "dateTimeMilliseconds"
US: Final = "dateTimeMicroseconds"
NS: Final = "dateTimeNanoseconds"
F64: Final = "float64"
BOOL: Final = "boolean"

IE: Final[dict[int, tuple[str, str]]] = {
    1: ("octetDeltaCount", U),
    2: ("packetDeltaCount", U),
    3: ("deltaFlowCount", U),
    4: ("protocolIdentifier", U),
    5: ("ipClassOfService", U),
    6: ("tcpControlBits", U),
    7: ("sourceTransportPort", U),
    8: ("sourceIPv4Address", V4),
    9: ("sourceIPv4PrefixLength", U),
    10: ("ingressInterface", U),
    11: ("destinationTransportPort", U),
    12: ("destinationIPv4Address", V4),
    13: ("destinationIPv4PrefixLength", U),
    14: ("egressInterface", U),
    15: ("ipNextHopIPv4Address", V4),
    16: ("bgpSourceAsNumber", U),
    17: ("bgpDestinationAsNumber", U),
    18: ("bgpNextHopIPv4Address", V4),
    19: ("postMCastPacketDeltaCount", U),
    20: ("postMCastOctetDeltaCount", U),
    21: ("flowEndSysUpTime", U),
    22: ("flowStartSysUpTime", U),
    23: ("postOctetDeltaCount", U),
    24: ("postPacketDeltaCount", U),
    25: ("minimumIpTotalLength", U),
    26: ("maximumIpTotalLength", U),
    27: ("sourceIPv6Address", V6),
    28: ("destinationIPv6Address", V6),
    29: ("sourceIPv6PrefixLength", U),
    30: ("destinationIPv6PrefixLength", U),
    31: ("flowLabelIPv6", U),
    32: ("icmpTypeCodeIPv4", U),
    33: ("igmpType", U),
    34: ("samplingInterval", U),
    35: ("samplingAlgorithm", U),
    36: ("flowActiveTimeout", U),
    37: ("flowIdleTimeout", U),
    38: ("engineType", U),
    39: ("engineId", U),
    40: ("exportedOctetTotalCount", U),
    41: ("exportedMessageTotalCount", U),
    42: ("exportedFlowRecordTotalCount", U),
    43: ("ipv4RouterSc", V4),
    44: ("sourceIPv4Prefix", V4),
    45: ("destinationIPv4Prefix", V4),
    46: ("mplsTopLabelType", U),
    47: ("mplsTopLabelIPv4Address", V4),
    48: ("samplerId", U),
    49: ("samplerMode", U),
    50: ("samplerRandomInterval", U),
    51: ("classId", U),
    52: ("minimumTTL", U),
    53: ("maximumTTL", U),
    54: ("fragmentIdentification", U),
    55: ("postIpClassOfService", U),
    56: ("sourceMacAddress", MAC),
    57: ("postDestinationMacAddress", MAC),
    58: ("vlanId", U),
    59: ("postVlanId", U),
    60: ("ipVersion", U),
    61: ("flowDirection", U),
    62: ("ipNextHopIPv6Address", V6),
    63: ("bgpNextHopIPv6Address", V6),
    64: ("ipv6ExtensionHeaders", U),
    70: ("mplsTopLabelStackSection", OCT),
    80: ("destinationMacAddress", MAC),
    81: ("postSourceMacAddress", MAC),
    82: ("interfaceName", STR),
    83: ("interfaceDescription", STR),
    84: ("samplerName", STR),
    85: ("octetTotalCount", U),
    86: ("packetTotalCount", U),
    88: ("fragmentOffset", U),
    89: ("forwardingStatus", U),
    90: ("mplsVpnRouteDistinguisher", OCT),
    94: ("applicationDescription", STR),
    95: ("applicationId", OCT),
    96: ("applicationName", STR),
    98: ("postIpDiffServCodePoint", U),
    99: ("multicastReplicationFactor", U),
    128: ("bgpNextAdjacentAsNumber", U),
    129: ("bgpPrevAdjacentAsNumber", U),
    130: ("exporterIPv4Address", V4),
    131: ("exporterIPv6Address", V6),
    132: ("droppedOctetDeltaCount", U),
    133: ("droppedPacketDeltaCount", U),
    136: ("flowEndReason", U),
    137: ("commonPropertiesId", U),
    138: ("observationPointId", U),
    139: ("icmpTypeCodeIPv6", U),
    140: ("mplsTopLabelIPv6Address", V6),
    141: ("lineCardId", U),
    142: ("portId", U),
    143: ("meteringProcessId", U),
    144: ("exportingProcessId", U),
    145: ("templateId", U),
    148: ("flowId", U),
    149: ("observationDomainId", U),
    150: ("flowStartSeconds", SEC),
    151: ("flowEndSeconds", SEC),
    152: ("flowStartMilliseconds", MS),
    153: ("flowEndMilliseconds", MS),
    154: ("flowStartMicroseconds", US),
    155: ("flowEndMicroseconds", US),
    156: ("flowStartNanoseconds", NS),
    157: ("flowEndNanoseconds", NS),
    158: ("flowStartDeltaMicroseconds", U),
    159: ("flowEndDeltaMicroseconds", U),
    160: ("systemInitTimeMilliseconds", MS),
    161: ("flowDurationMilliseconds", U),
    162: ("flowDurationMicroseconds", U),
    163: ("observedFlowTotalCount", U),
    164: ("ignoredPacketTotalCount", U),
    165: ("ignoredOctetTotalCount", U),
    166: ("notSentFlowTotalCount", U),
    167: ("notSentPacketTotalCount", U),
    168: ("notSentOctetTotalCount", U),
    176: ("icmpTypeIPv4", U),
    177: ("icmpCodeIPv4", U),
    178: ("icmpTypeIPv6", U),
    179: ("icmpCodeIPv6", U),
    180: ("udpSourcePort", U),
    181: ("udpDestinationPort", U),
    182: ("tcpSourcePort", U),
    183: ("tcpDestinationPort", U),
    184: ("tcpSequenceNumber", U),
    185: ("tcpAcknowledgementNumber", U),
    186: ("tcpWindowSize", U),
    192: ("ipTTL", U),
    193: ("nextHeaderIPv6", U),
    195: ("ipDiffServCodePoint", U),
    196: ("ipPrecedence", U),
    197: ("fragmentFlags", U),
    198: ("octetDeltaSumOfSquares", U),
    199: ("octetTotalSumOfSquares", U),
    205: ("udpMessageLength", U),
    206: ("isMulticast", U),
    210: ("paddingOctets", OCT),
    224: ("ipTotalLength", U),
    225: ("postNATSourceIPv4Address", V4),
    226: ("postNATDestinationIPv4Address", V4),
    227: ("postNAPTSourceTransportPort", U),
    228: ("postNAPTDestinationTransportPort", U),
    230: ("natEvent", U),
    231: ("initiatorOctets", U),
    232: ("responderOctets", U),
    233: ("firewallEvent", U),
    234: ("ingressVRFID", U),
    235: ("egressVRFID", U),
    236: ("VRFname", STR),
    239: ("biflowDirection", U),
    243: ("dot1qVlanId", U),
    244: ("dot1qPriority", U),
    245: ("dot1qCustomerVlanId", U),
    246: ("dot1qCustomerPriority", U),
    252: ("ingressPhysicalInterface", U),
    253: ("egressPhysicalInterface", U),
    254: ("postDot1qVlanId", U),
    255: ("postDot1qCustomerVlanId", U),
    256: ("ethernetType", U),
    298: ("initiatorPackets", U),
    299: ("responderPackets", U),
    302: ("selectorId", U),
    304: ("selectorAlgorithm", U),
    305: ("samplingPacketInterval", U),
    306: ("samplingPacketSpace", U),
    307: ("samplingTimeInterval", U),
    308: ("samplingTimeSpace", U),
    309: ("samplingSize", U),
    310: ("samplingPopulation", U),
    311: ("samplingProbability", F64),
    322: ("observationTimeSeconds", SEC),
    323: ("observationTimeMilliseconds", MS),
    324: ("observationTimeMicroseconds", US),
    325: ("observationTimeNanoseconds", NS),
}


def name_of(ie: int, pen: int = 0) -> str:
    if pen:
        return f"ie{pen}.{ie}"
    entry = IE.get(ie)
    return entry[0] if entry else f"ie{ie}"


def type_of(ie: int, pen: int = 0) -> str:
    if pen:
        return OCT
    entry = IE.get(ie)
    return entry[1] if entry else OCT
