"""edge-sensor: a touch-free inventory of connected medical devices, from what the switches know."""

__version__ = "0.1.0"
