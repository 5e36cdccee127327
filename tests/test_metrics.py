"""CPU per stage: callbacks are charged to the STAGE of their context, sockets' callbacks included."""

from __future__ import annotations

import asyncio
import socket
import time

from sensor.metrics import STAGE, Metrics, fold_loop_cpu, meter_event_loop


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


async def test_cpu_is_charged_to_the_stage_of_the_task_and_of_its_socket() -> None:
    metrics = Metrics()
    meter_event_loop(metrics)
    loop = asyncio.get_running_loop()
    got = asyncio.Event()

    class Spinning(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            _spin(0.3)  # like pysnmp decoding an answer: outside any task
            got.set()

    async def poller() -> None:
        STAGE.set("poll")
        transport, _ = await loop.create_datagram_endpoint(Spinning, local_addr=("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x", transport.get_extra_info("sockname"))
        await got.wait()
        transport.close()

    async def correlator() -> None:
        STAGE.set("correlation")
        _spin(0.2)

    fold_loop_cpu()
    before = dict(metrics.cpu)
    await asyncio.gather(asyncio.create_task(poller()), asyncio.create_task(correlator()))
    fold_loop_cpu()
    spent = {k: v - before.get(k, 0.0) for k, v in metrics.cpu.items()}
    assert 0.25 < spent["poll"] < 0.45, spent
    assert 0.15 < spent["correlation"] < 0.3, spent
    assert spent.get("other", 0.0) < 0.1, spent
    assert metrics.snapshot()["cpu_seconds.poll"] == round(metrics.cpu["poll"], 3)


def test_work_on_a_thread_is_charged_by_its_submitter() -> None:
    metrics = Metrics()
    assert metrics.charge("outbox", _spin, 0.1) is None
    assert 0.08 < metrics.cpu["outbox"] < 0.2
