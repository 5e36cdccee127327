"""A small SSH server (paramiko) that behaves like a Cisco IOS switch for netmiko.

Real prompt (``sw-fake>`` / ``sw-fake#``), ``enable`` with a password, paging with
``--More--`` until ``terminal length 0``, and recorded outputs from the corpus as the
answers to commands. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import paramiko

from tests.cli.corpus import CLI

IOS = CLI / "napalm" / "ios"

PAGE = 24


def corpus_outputs() -> dict[str, str]:
    """Answers from the CLI corpus's IOS recordings (NAPALM's mocks, ntc-templates' raw files)."""
    read = lambda p: (IOS / p).read_text()  # noqa: E731
    return {
        "show mac address-table": read("get_mac_address_table/normal/show_mac_address_table.txt"),
        "show interfaces": read("get_interfaces/normal/show_interfaces.txt"),
        "show ip arp": read("get_arp_table/normal/show_arp___exclude_Incomplete.txt"),
        "show lldp neighbors detail": read("get_lldp_neighbors_detail/older_ios/show_lldp_neighbors_detail.txt"),
        "show lldp neighbors": read("get_lldp_neighbors_detail/older_ios/show_lldp_neighbors.txt"),
        "show cdp neighbors detail": (CLI / "ntc/cisco_ios/show_cdp_neighbors_detail/"
                                      "cisco_ios_show_cdp_neighbors_detail.raw").read_text(),
    }


class _Auth(paramiko.ServerInterface):
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == self.username and password == self.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: object) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return True


class FakeIOS:
    def __init__(self, outputs: dict[str, str], *, hostname: str = "sw-fake", username: str = "sensor",
                 password: str = "pw", enable: str = "en") -> None:
        self.outputs = outputs
        self.hostname, self.username, self.password, self.enable_secret = hostname, username, password, enable
        self.host_key = paramiko.RSAKey.generate(2048)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.commands: list[str] = []
        self.paged = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def known_hosts(self, path: Path) -> Path:
        path.write_text(f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n")
        return path

    def __enter__(self) -> FakeIOS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    def _session(self, client: socket.socket) -> None:
        transport = paramiko.Transport(client)
        transport.add_server_key(self.host_key)
        transport.start_server(server=_Auth(self.username, self.password))
        chan = transport.accept(10)
        if chan is None:
            return
        try:
            self._shell(chan)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            # A client that hung up (a refused host key, say) makes the
            # channel's close message fail to send: nothing left to tell it.
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                chan.close()
            transport.close()

    def _readline(self, chan: paramiko.Channel, echo: bool = True) -> str:
        buf = b""
        while True:
            c = chan.recv(1)
            if not c:
                raise EOFError
            if c in (b"\r", b"\n"):
                if echo:
                    chan.sendall(b"\r\n")
                return buf.decode(errors="replace")
            buf += c
            if echo:
                chan.sendall(c)

    def _shell(self, chan: paramiko.Channel) -> None:
        privileged, length = False, PAGE
        chan.sendall(b"\r\n" + self.hostname.encode() + b">")
        while True:
            line = self._readline(chan).strip()
            if line:
                self.commands.append(line)
            if line in ("exit", "logout", "quit"):
                return
            if line == "enable":
                chan.sendall(b"Password: ")
                secret = self._readline(chan, echo=False)
                if secret == self.enable_secret:
                    privileged = True
                else:
                    chan.sendall(b"% Access denied\r\n")
            elif line.startswith("terminal length"):
                length = int(line.split()[-1])
            elif line.startswith("terminal width") or not line:
                pass
            elif line in self.outputs:
                self._send_paged(chan, self.outputs[line], length)
            else:
                chan.sendall(b"                ^\r\n% Invalid input detected at '^' marker.\r\n\r\n")
            chan.sendall(self.hostname.encode() + (b"#" if privileged else b">"))

    def _send_paged(self, chan: paramiko.Channel, text: str, length: int) -> None:
        lines = text.splitlines()
        for i, ln in enumerate(lines):
            chan.sendall(ln.encode() + b"\r\n")
            if length and (i + 1) % length == 0 and i + 1 < len(lines):
                self.paged += 1
                chan.sendall(b" --More-- ")
                while chan.recv(1) not in (b" ", b"\r", b"\n", b""):
                    pass
                chan.sendall(b"\r          \r")
