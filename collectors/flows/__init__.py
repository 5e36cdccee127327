"""Flow collector: NetFlow v5, v9 and IPFIX over UDP.

``decode`` and ``templates`` are pure (bytes -> batches of records, with the
template cache); ``table`` sums one window of records per 5-tuple; ``records``
renders records with IANA names or as FlowRecord facts; ``listener`` is the thin
asyncio UDP I/O. Nothing here knows about devices.
"""

from collectors.flows.decode import Batch, Decoded, Decoder
from collectors.flows.listener import FlowCollector, FlowListener, parse_listen
from collectors.flows.records import batch_dicts, flow_records, ip_text, mac_text
from collectors.flows.table import FlowKey, FlowTable
from collectors.flows.templates import Field, Template

__all__ = [
    "Batch",
    "Decoded",
    "Decoder",
    "Field",
    "FlowCollector",
    "FlowKey",
    "FlowListener",
    "FlowTable",
    "Template",
    "batch_dicts",
    "flow_records",
    "ip_text",
    "mac_text",
    "parse_listen",
]
