"""Store-and-forward publishing of the outbox to the MQTT hub (aiomqtt, MQTT v5, QoS 1).

A message leaves the outbox only after its PUBACK. Messages are pipelined: up to
``max_inflight`` wait for their PUBACK at once, and acknowledged ids are deleted in
batches. When the connection drops, everything not yet acknowledged is sent again
from the outbox on the next connection, byte for byte (same ``seq``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import time
from typing import TYPE_CHECKING, Literal

import msgspec
import structlog

from sensor import __version__
from sensor.backoff import Backoff
from sensor.config import MqttSection, read_secret
from sensor.errors import HubAuthError, HubError, SecretError, StoreError
from sensor.metrics import STAGE, Metrics
from sensor.observations import SCHEMA, Envelope, StatusData, topic_base
from sensor.publish.outbox import Outbox, Row, rfc3339
from sensor.publish.republish import LOST, REQUESTED, Republisher

if TYPE_CHECKING:
    import aiomqtt

PUBACK_TIMEOUT = 10.0  # seconds; a PUBACK on a working link takes milliseconds
# After subscribing to its own status topic on connect: how long to wait for the broker's retained
# copy. None within this time means the broker lost the sensor's retained state (or never had it).
RETAINED_PROBE = 2.0

# CONNACK reason codes that mean "your credentials are wrong": retrying quickly cannot help.
_AUTH_CODES = {4, 5, 134, 135, 140}


def build_tls_context(cfg: MqttSection) -> ssl.SSLContext | None:
    if not cfg.tls:
        return None
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.cert_file and cfg.key_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except (OSError, ssl.SSLError) as e:
        raise HubError(f"cannot load the TLS files for the hub (mqtt.ca_file/cert_file/key_file): {e}") from None
    return ctx


def reason_code_value(exc: BaseException) -> int | None:
    rc = getattr(exc, "rc", None)
    if rc is None:
        return None
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def describe_hub_error(exc: BaseException, where: str) -> HubError:
    """Turn an aiomqtt/paho error into one line that says what to check."""
    rc = reason_code_value(exc)
    text = str(exc) or type(exc).__name__
    if rc in _AUTH_CODES:
        return HubAuthError(
            f"hub {where} refused the sensor's credentials ({text}): check mqtt.username and the "
            f"contents of mqtt.password_file (or the client certificate)"
        )
    if isinstance(exc, ssl.SSLError) or "CERTIFICATE" in text.upper():
        return HubError(f"TLS handshake with hub {where} failed ({text}): check mqtt.ca_file and the hub's name")
    return HubError(f"hub {where} not reachable ({text})")


class Publisher:
    """Owns the MQTT connection; drains the outbox whenever it is connected."""

    def __init__(self, cfg: MqttSection, outbox: Outbox, *, site: str, sensor_id: str, metrics: Metrics,
                 republisher: Republisher | None = None, health_interval: float | None = None) -> None:
        self.cfg = cfg
        self.republisher = republisher
        self.health_interval = health_interval
        self.outbox = outbox
        self.metrics = metrics
        self.base = topic_base(cfg.topic_prefix, site, sensor_id)
        self.site = site
        self.sensor_id = sensor_id
        self.started_at = time.time()
        self.where = f"{cfg.host}:{cfg.effective_port}"
        self.log = structlog.get_logger("sensor.publish").bind(hub=self.where)
        self.connected = asyncio.Event()
        self.last_error: HubError | None = None
        self._stopping = False
        self._acked: list[int] = []
        self._in_flight: set[int] = set()
        self._backoff = Backoff(base=1.0, cap=60.0)
        self._status_seen = asyncio.Event()
        self.retained_lost = 0  # connects that found the broker without our retained status

    # -- status -----------------------------------------------------------
    def _status_payload(self, state: Literal["online", "offline"], *, will: bool = False) -> bytes:
        env = Envelope(
            schema=SCHEMA,
            kind="status",
            site=self.site,
            sensor=self.sensor_id,
            epoch=self.outbox.epoch,
            seq=None,
            observed_at=rfc3339(time.time()),
            data=StatusData(state=state, version=__version__, started_at=rfc3339(self.started_at), will=will,
                            health_interval_s=self.health_interval),
        )
        return msgspec.json.encode(env)

    def _client(self) -> aiomqtt.Client:
        import aiomqtt
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        password = None
        if self.cfg.password_file:
            try:
                password = read_secret(self.cfg.password_file)
            except SecretError as e:
                raise HubError(f"mqtt.password_file: {e}") from None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 0
        client = aiomqtt.Client(
            self.cfg.host,
            self.cfg.effective_port,
            username=self.cfg.username,
            password=password,
            identifier=self.cfg.client_id or f"edge-sensor-{self.site}-{self.sensor_id}",
            protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(f"{self.base}/status", self._status_payload("offline", will=True), qos=1,
                             retain=True),
            keepalive=int(self.cfg.keepalive),
            timeout=10,
            tls_context=build_tls_context(self.cfg),
            max_inflight_messages=self.cfg.max_inflight,
            properties=props,
        )
        # aiomqtt warns above 10 pending publishes; our pipeline keeps max_inflight pending on purpose.
        client.pending_calls_threshold = self.cfg.max_inflight + 10
        return client

    # -- main loop --------------------------------------------------------
    async def run(self) -> None:
        """Connect, publish, reconnect with capped jittered backoff; returns only when stopped."""
        import aiomqtt

        STAGE.set("mqtt")  # paho's socket callbacks are opened from here and charged to it too
        streak_logged: type[HubError] | None = None
        while not self._stopping:
            try:
                client = self._client()
                async with client:
                    self._backoff.reset()
                    streak_logged = None
                    self.last_error = None
                    self.metrics.inc("hub_connects")
                    self.metrics.set("hub_connected", 1)
                    self.log.info("connected to hub", topics=self.base)
                    try:
                        await self._pump(client)
                    finally:
                        self.connected.clear()
                        self.metrics.set("hub_connected", 0)
                        # Acknowledged before the drop: delete now, or they would be sent twice.
                        await self.flush_acks()
                        if self._stopping:
                            with contextlib.suppress(aiomqtt.MqttError, asyncio.TimeoutError):
                                await client.publish(
                                    f"{self.base}/status", self._status_payload("offline"),
                                    qos=1, retain=True, timeout=2,
                                )
            except (aiomqtt.MqttError, OSError, ssl.SSLError) as e:
                err = describe_hub_error(e, self.where)
            except HubError as e:
                err = e
            else:
                continue
            self._in_flight.clear()
            self.last_error = err
            self.metrics.inc("hub_errors")
            delay = self._backoff.next(cap=300.0 if isinstance(err, HubAuthError) else None)
            if streak_logged is not type(err):
                # One clear line per kind of failure, not one per retry.
                self.log.error(str(err), retry_in_s=round(delay, 1))
                streak_logged = type(err)
            else:
                self.log.debug("hub still failing", error=str(err), retry_in_s=round(delay, 1))
            if self._stopping:
                break
            await asyncio.sleep(delay)

    async def _pump(self, client: aiomqtt.Client) -> None:
        try:
            await self._pump_group(client)
        except BaseExceptionGroup as eg:
            # Unwrap so that run() sees the one error that ended the connection.
            errors = [e for e in eg.exceptions if not isinstance(e, _Stopped)]
            if errors:
                raise errors[0] from None

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Subscribe to our own status (the probe) and the request topic, then say online."""
        from paho.mqtt.subscribeoptions import SubscribeOptions

        self._status_seen.clear()
        if self.republisher is not None:
            await client.subscribe(f"{self.base}/republish", options=SubscribeOptions(qos=1))
            # Once the SUBACK is here the broker has queued its retained copy, if it has one; only that
            # copy comes with the retain flag (our own "online" comes back without it).
            await client.subscribe(f"{self.base}/status", options=SubscribeOptions(qos=1))
        await client.publish(f"{self.base}/status", self._status_payload("online"), qos=1, retain=True)
        self.connected.set()

    async def _probe(self, client: aiomqtt.Client, connected_at_seq: int) -> None:
        """A broker that has no retained status of ours lost our retained state: have it republished."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RETAINED_PROBE):
                await self._status_seen.wait()
        await client.unsubscribe(f"{self.base}/status")
        if self.republisher is not None and not self._status_seen.is_set():
            self.retained_lost += 1
            self.metrics.inc("hub_retained_lost")
            self.log.warning("the broker holds no retained status of this sensor: republishing the retained state",
                             probe_s=RETAINED_PROBE)
            self.republisher.request(LOST, before_seq=connected_at_seq)

    async def _pump_group(self, client: aiomqtt.Client) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._watch_disconnect(client), name="publisher-watch")
            # What was acknowledged before this connection is below the first seq still waiting (except
            # the few a previous connection acknowledged out of order in its last in-flight window).
            connected_at_seq = await self.outbox.first_pending_seq()
            await self._announce(client)
            if self.republisher is not None:
                tg.create_task(self._probe(client, connected_at_seq), name="publisher-probe")
            tg.create_task(self._flush_acks_forever(), name="publisher-acks")
            window = asyncio.Semaphore(self.cfg.max_inflight)
            cursor = 0
            while not self._stopping:
                self.outbox.changed.clear()
                rows = await self.outbox.fetch(cursor, 1000)
                rows = [r for r in rows if r.id not in self._in_flight]
                if not rows:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(1.0):
                            await self.outbox.changed.wait()
                    continue
                for row in rows:
                    await window.acquire()
                    self._in_flight.add(row.id)
                    tg.create_task(self._publish_one(client, row, window))
                    cursor = row.id
            raise _Stopped

    async def _watch_disconnect(self, client: aiomqtt.Client) -> None:
        import aiomqtt

        # aiomqtt fails its message iterator when the connection drops; pending publishes
        # would otherwise only time out. It also brings the probe's answer and the hub's requests.
        async for message in client.messages:
            topic = message.topic.value
            if topic == f"{self.base}/status":
                if message.retain:
                    self._status_seen.set()
            elif topic == f"{self.base}/republish" and self.republisher is not None:
                if message.retain:
                    # It would ask again at every connect: a request is an act, not a state.
                    self.log.warning("ignored a retained republish request: publish it without retain",
                                     topic=topic)
                    continue
                self.log.info("the hub asked for a full republish", retained=bool(message.retain))
                self.republisher.request(REQUESTED)
        raise aiomqtt.MqttError("connection to the hub closed")

    async def _publish_one(self, client: aiomqtt.Client, row: Row, window: asyncio.Semaphore) -> None:
        import aiomqtt

        try:
            try:
                # Our own timeout, not aiomqtt's: its expiry is an MqttError told apart only by its words.
                async with asyncio.timeout(PUBACK_TIMEOUT):
                    await client.publish(f"{self.base}/{row.topic}", row.payload, qos=1, retain=row.retain,
                                         timeout=math.inf)
            except TimeoutError:
                # A hub that stops acknowledging is as good as gone: reconnect and resend.
                raise aiomqtt.MqttError(f"no PUBACK within {PUBACK_TIMEOUT:g}s for seq {row.seq}") from None
            self._acked.append(row.id)
            self.metrics.inc("published")
        finally:
            window.release()

    async def _flush_acks_forever(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            await self.flush_acks()

    async def flush_acks(self) -> None:
        if not self._acked:
            return
        ids, self._acked = self._acked, []
        try:
            await self.outbox.remove(ids)
        except StoreError as e:
            # A full disk can refuse even a delete; keep them and try again (at worst they are
            # sent twice with the same seq, which the hub handles).
            self._acked = ids + self._acked
            self.metrics.inc("outbox_remove_errors")
            self.log.debug("cannot remove acknowledged messages yet", error=str(e))
            return
        self._in_flight.difference_update(ids)

    async def stop(self, grace: float = 3.0) -> None:
        """Give in-flight messages ``grace`` seconds for their PUBACK, then stop."""
        deadline = time.monotonic() + grace
        # Polling is fine here: it runs once, at shutdown, for at most `grace` seconds.
        while (  # noqa: ASYNC110
            self._in_flight.difference(self._acked) and time.monotonic() < deadline and self.connected.is_set()
        ):
            await asyncio.sleep(0.05)
        self._stopping = True
        self.outbox.changed.set()
        await self.flush_acks()

    async def drained(self, within: float) -> bool:
        """Wait until the outbox is empty (everything acknowledged); False after ``within`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.outbox.depth == 0 and not self._acked:
                return True
            await asyncio.sleep(0.05)
        return self.outbox.depth == 0


class _Stopped(Exception):
    """Raised inside the pump's TaskGroup to end it when the publisher stops."""

