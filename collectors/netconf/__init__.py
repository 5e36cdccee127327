"""NETCONF collector (being split into parsing per model family and a thin I/O module)."""

from collectors.netconf.client import (
    NetconfTarget,
    Plan,
    ReplyError,
    parse_reply,
    parse_xml,
    plan_for,
    poll,
    rpc_error_text,
    sros_fdb_text,
    text_output,
)

__all__ = ["NetconfTarget", "Plan", "ReplyError", "parse_reply", "parse_xml", "plan_for", "poll",
           "rpc_error_text", "sros_fdb_text", "text_output"]
