"""CLI collector: netmiko over SSH (``ssh``), ntc-templates/JSON/XML parsing to facts (``parse``, pure)."""

from collectors.cli.names import Ports, canonical_name
from collectors.cli.parse import ParseError, parse

__all__ = ["ParseError", "Ports", "canonical_name", "parse"]
