"""A real Mosquitto broker for tests: own config, free loopback port, always stopped.

Runs as root with ``user root`` in its config, so that its password and key files
(created by the test with mode 0600) stay readable after it would drop privileges.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class Mosquitto:
    """One broker process; ``start``/``stop``/``restart`` keep port and persistence."""

    def __init__(self, workdir: Path, *, port: int | None = None, password: tuple[str, str] | None = None,
                 tls: dict[str, str | bool] | None = None, persistence: bool = True,
                 settings: dict[str, str] | None = None) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run `make test` (it installs it) or apt-get install mosquitto")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.tls = tls
        self.persistence = persistence
        self.settings = dict(settings or {})  # broker options that replace the defaults below (e.g. the README's)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "mosquitto.log"
        self.conf_path = workdir / "mosquitto.conf"
        self._write_conf()

    def _write_conf(self) -> None:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "user root",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_inflight_messages 0",
            "max_queued_messages 100000",
            f"log_dest file {self.log_path}",
            "log_type all",
        ]
        ours = {"listener", "persistence_location", "log_dest", "log_type", "user"}
        keep = {k: v for k, v in self.settings.items() if k not in ours}
        lines = [ln for ln in lines if ln.split()[0] not in keep] + [f"{k} {v}" for k, v in keep.items()]
        if self.password:
            pw = self.workdir / "passwd"
            pw.write_text("")
            os.chmod(pw, 0o600)
            subprocess.run(["mosquitto_passwd", "-b", str(pw), *self.password], check=True,
                           capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += [f"cafile {self.tls['ca']}", f"certfile {self.tls['cert']}", f"keyfile {self.tls['key']}"]
            if self.tls.get("require_certificate"):
                lines += ["require_certificate true", "use_identity_as_username true"]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        assert self.proc is None, "broker already running"
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {self.log_path.read_text() if self.log_path.exists() else ''}") from None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def make_tls_files(workdir: Path) -> dict[str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl CLI)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_key, ca = workdir / "ca.key", workdir / "ca.pem"
    key, csr, cert = workdir / "server.key", workdir / "server.csr", workdir / "server.pem"
    ext = workdir / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
         "-days", "2", "-subj", "/CN=edge-sensor test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    ossl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "2", "-extfile", str(ext))
    # A client certificate too, for brokers that require one.
    ckey, ccsr, ccert = workdir / "client.key", workdir / "client.csr", workdir / "client.pem"
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ckey), "-out", str(ccsr), "-subj", "/CN=closet-2b")
    ossl("x509", "-req", "-in", str(ccsr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(ccert), "-days", "2")
    for p in (ca_key, key, ckey):
        os.chmod(p, 0o600)
    return {"ca": str(ca), "cert": str(cert), "key": str(key), "client_cert": str(ccert), "client_key": str(ckey)}
