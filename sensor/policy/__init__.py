"""Segmentation by clinical function: zones, the observed matrix, the reviewed policy, export and watch.

``zones``, ``matrix``, ``document``, ``propose``, ``match`` and ``export`` are pure (or take
their I/O as arguments); the commands and the flow source do the reading and writing.
"""
