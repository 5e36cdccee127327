"""A hub stand-in: a paho subscriber in its own thread with a persistent session.

Its session survives broker restarts (clean_session=False, QoS 1), so messages
published while it reconnects are queued by the broker, as a real hub would
configure itself.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt


class Subscriber:
    def __init__(self, port: int, topic: str = "edge-sensor/#", *, host: str = "127.0.0.1") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.topic = topic
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hub-{uuid.uuid4().hex[:8]}",
                                  clean_session=False, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(host, port, keepalive=5)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise TimeoutError("subscriber could not connect")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def envelopes(self, suffix: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            msgs = list(self.messages)
        out = []
        for topic, payload, _ in msgs:
            if suffix is not None and not topic.endswith(suffix):
                continue
            if payload:
                out.append(json.loads(payload))
        return out

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.envelopes() if e.get("seq") is not None]

    def wait_for(self, cond: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return True
            time.sleep(0.05)
        return cond()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
