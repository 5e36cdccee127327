"""Flows on the sensor side: per-device conversations, baselines and anomaly events.

``conversations`` and ``baseline`` are pure; ``source`` is the continuous source
the supervisor runs (the UDP listener from ``collectors.flows``, one window per
cycle). The correlator plugs in through :class:`DeviceDirectory`.
"""

from sensor.flows.conversations import Conversation, DeviceConversations, DeviceDirectory, StaticDirectory

__all__ = ["Conversation", "DeviceConversations", "DeviceDirectory", "StaticDirectory"]
