"""``sensor watch --hub URL``: subscribe as a hub should, check every message, print it.

The subscription is the one the README's "For the hub" section documents: MQTT v5,
QoS 1, a stable client id, clean start false with a session expiry, so the broker
keeps what arrives while the watcher is away. Every message is validated against the
shipped schemas and its topic; seq is followed per (sensor, epoch), and gaps, late
and duplicate messages and new epochs are shown. ``--state FILE`` keeps the seq
positions across restarts of the watcher (its session keeps the messages).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sensor.config import read_secret
from sensor.errors import HubError, SecretError, UsageError
from sensor.statefiles import write_atomic
from sensor.watch import Checker, as_json, describe, schema_validator


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", required=True, metavar="URL",
                        help="the broker: mqtt://[user@]host[:port] or mqtts://... (TLS)")
    parser.add_argument("--topic", action="append", metavar="FILTER",
                        help="topic filter to subscribe to (repeatable); default edge-sensor/v1/#")
    parser.add_argument("--json", action="store_true", help="one JSON object per message (with the checks)")
    parser.add_argument("--client-id", metavar="ID", help="stable client id (default edge-sensor-watch-HOSTNAME)")
    parser.add_argument("--session-expiry", type=int, default=86400, metavar="S",
                        help="seconds the broker keeps the session (and queues messages) while away; default 86400")
    parser.add_argument("--clean", action="store_true", help="start with a fresh session (drop what was queued)")
    parser.add_argument("--password-file", metavar="FILE", help="file holding the password for the URL's user")
    parser.add_argument("--ca-file", metavar="FILE", help="CA certificate for mqtts://")
    parser.add_argument("--state", metavar="FILE", help="keep the seq positions here across restarts")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N messages")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--idle", type=float, metavar="S", help="stop when nothing arrived for S seconds")


def run(args: argparse.Namespace) -> int:
    return _watch(args)


def _target(args: argparse.Namespace) -> tuple[str, int, str | None, str | None, ssl.SSLContext | None]:
    url = urlsplit(args.hub if "://" in args.hub else f"mqtt://{args.hub}")
    if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
        raise UsageError(f"--hub {args.hub!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    tls = url.scheme == "mqtts"
    password = url.password
    if args.password_file:
        try:
            password = read_secret(args.password_file)
        except SecretError as e:
            raise UsageError(f"--password-file: {e}") from None
    ctx = None
    if tls:
        try:
            ctx = ssl.create_default_context(cafile=args.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise UsageError(f"--ca-file: {e}") from None
    try:
        port = url.port or (8883 if tls else 1883)
    except ValueError as e:
        raise UsageError(f"--hub {args.hub!r}: {e}") from None
    return url.hostname, port, url.username, password, ctx


def _watch(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    host, port, user, password, ctx = _target(args)
    validate, how = schema_validator()
    checker = Checker(validate)
    state = Path(args.state) if args.state else None
    if state is not None and state.exists():
        try:
            checker.load_state(state.read_bytes())
        except (OSError, ValueError) as e:
            print(f"sensor watch: --state {state}: unreadable ({e}); starting without it", file=sys.stderr)
    client_id = args.client_id or f"edge-sensor-watch-{socket.gethostname()}"
    topics = args.topic or ["edge-sensor/v1/#"]
    print(f"sensor watch: {host}:{port} as {client_id} (session {args.session_expiry}s), topics {topics}; "
          f"validating with {how}", file=sys.stderr)
    stop = threading.Event()
    lock = threading.Lock()
    seen = [0, time.monotonic()]  # messages, monotonic time of the last one
    failure: list[str] = []

    def on_connect(client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None) -> None:
        if getattr(rc, "is_failure", False):
            failure.append(f"hub {host}:{port} refused the connection: {rc}")
            stop.set()
            return
        # Subscribing again on every connect is harmless and covers a broker that lost the session.
        client.subscribe([(t, 1) for t in topics])

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            c = checker.check(msg.topic, bytes(msg.payload), bool(msg.retain))
            print(as_json(c) if args.json else describe(c), flush=True)
            seen[0] += 1
            seen[1] = time.monotonic()
        # Acknowledged only once handled: a watcher killed before this gets it again (never loses it).
        client.ack(msg.mid, msg.qos)
        if args.count and seen[0] >= args.count:
            stop.set()

    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                         manual_ack=True)
    client.on_connect = on_connect
    client.on_message = on_message
    if user is not None:
        client.username_pw_set(user, password)
    if ctx is not None:
        client.tls_set_context(ctx)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = args.session_expiry
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        client.connect(host, port, keepalive=30, clean_start=bool(args.clean), properties=props)
    except OSError as e:
        raise HubError(f"hub {host}:{port} not reachable ({e})") from None
    client.loop_start()
    deadline = time.monotonic() + args.duration if args.duration else None
    try:
        while not stop.wait(0.1):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if args.idle and now - seen[1] >= args.idle:
                break
    finally:
        client.disconnect()
        client.loop_stop()
        if state is not None:
            with lock:
                write_atomic(state, checker.dump_state())
    if failure:
        raise HubError(failure[0])
    summary = checker.summary()
    print(f"sensor watch: summary {json.dumps(summary, sort_keys=True)}", file=sys.stderr)
    return 1 if checker.invalid or checker.missing() else 0
