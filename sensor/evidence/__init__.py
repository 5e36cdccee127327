"""Evidence for the people who own a medical device's risk (issue 16).

- ``register``: the asset register (a CMMS export) and its reconciliation with the network;
- ``csaf``, ``versions``, ``vendors``, ``advisories``: CSAF 2.0 advisories matched to devices;
- ``enrich``: both applied to the device records the correlator builds;
- ``io``: reading the register file and the advisory directory (the only I/O here).
"""
