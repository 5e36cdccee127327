"""The lab lock in tests/lab/labkit.py: a second test run waits for the first, and a run already
under `flock /tmp/edge-lab.lock ...` does not wait for itself. Needs no lab (a lock file in tmp)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab.labkit import REPO, _lock_holders, lab_lock

pytestmark = pytest.mark.skipif(shutil.which("flock") is None, reason="flock(1) (util-linux) is not installed")


def test_waits_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lab.lock"
    lock.touch()
    holder = subprocess.Popen(["flock", str(lock), "sleep", "1.5"])
    try:
        deadline = time.monotonic() + 10
        while holder.poll() is None and not _lock_holders(lock):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        started = time.monotonic()
        with lab_lock(lock):
            waited = time.monotonic() - started
            assert holder.poll() is not None  # inside only once the other run let go
    finally:
        holder.wait(timeout=10)
    assert waited >= 1.0, waited


def test_a_run_under_flock_does_not_wait_for_its_own_lock(tmp_path: Path) -> None:
    lock = tmp_path / "lab.lock"
    code = f"from tests.lab.labkit import lab_lock\nwith lab_lock(__import__('pathlib').Path({str(lock)!r})):\n" \
           "    print('inside')\n"
    r = subprocess.run(["flock", str(lock), sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0 and r.stdout.strip() == "inside", r.stderr
