"""Switch polling: the per-switch source, the per-table method fallback and the targets.

``targets`` turns a configured switch into what a collector polls (secrets read),
``methods`` polls one switch over its methods in order of preference and merges their
tables, ``source`` is the per-switch source the supervisor schedules. The collectors
themselves (``collectors.snmp``, ``collectors.cli``, ``collectors.netconf``) know
nothing about the configuration.
"""
