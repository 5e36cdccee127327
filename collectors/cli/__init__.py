"""CLI collector: netmiko over SSH (``ssh``), ntc-templates/JSON/XML parsing to facts (``parse``, pure),
the platform table (``platforms``) and the tolerant fallback parser (``tolerant``).

Import the modules themselves: this package's ``__init`` imports nothing, so that importing
``collectors.cli.names`` (as ``collectors.tables`` does) never runs the parser's imports.
"""
