"""Flow stages: per-device conversations (``conversations``), baselines and anomalies (``baseline``),
the flow source (``source``). The structs they publish are in ``model``.

Import the modules themselves: this package's ``__init__`` imports nothing, so that the device
directory can name ``sensor.flows.model`` without running the flow stages' imports.
"""
