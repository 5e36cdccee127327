"""The CLI collector's I/O: one netmiko SSH session per switch per poll, in a worker thread.

Host keys are checked by default against the switch's own ``host_key_file`` (known_hosts
format); ``insecure_no_host_key_check`` accepts any key and logs a warning on every
connect. Paging is disabled and enable mode entered by netmiko's platform drivers; every
command has a read timeout, and the caller bounds the whole poll with its deadline. A
command that fails leaves its table marked failed (``Tables.failed``) so another method
can provide it; parsing is :mod:`collectors.cli.parse` (pure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.cli.guess import clean_prompt, platform_mismatch
from collectors.cli.names import Ports
from collectors.cli.parse import ParseError, parse
from collectors.cli.platforms import CLI
from collectors.errors import SourceError
from collectors.facts import SwitchInfo
from collectors.tables import Tables

log = logging.getLogger("collectors.cli")

# (table, command) in the order they run, per platform: collectors.cli.platforms is the one list.
COMMANDS: dict[str, list[tuple[str, str]]] = {p.name: list(p.commands) for p in CLI.values()}
ENABLE_PLATFORMS = frozenset(p.name for p in CLI.values() if p.enable)


@dataclass(frozen=True)
class CliTarget:
    host: str
    platform: str
    username: str
    port: int = 22
    password: str | None = None
    key_file: str | None = None
    host_key_file: str | None = None
    insecure_no_host_key_check: bool = False
    timeout: float = 30.0
    enable_password: str | None = None


def connect_params(switch: str, target: CliTarget) -> dict[str, Any]:
    """netmiko ConnectHandler arguments (pure; logs the insecure opt-out)."""
    params: dict[str, Any] = dict(
        device_type=target.platform, host=target.host, port=target.port, username=target.username,
        timeout=target.timeout, conn_timeout=min(target.timeout, 15.0), auth_timeout=target.timeout,
        banner_timeout=min(target.timeout, 15.0), read_timeout_override=None, fast_cli=False,
        allow_agent=False, system_host_keys=False)
    if target.password is not None:
        params["password"] = target.password
    if target.key_file:
        params.update(use_keys=True, key_file=target.key_file)
    else:
        params["use_keys"] = False
    if target.enable_password is not None:
        params["secret"] = target.enable_password
    if target.insecure_no_host_key_check:
        log.warning("%s: SSH host key NOT checked (insecure_no_host_key_check = true)", switch)
        params["ssh_strict"] = False
    else:
        params.update(ssh_strict=True, alt_host_keys=True, alt_key_file=target.host_key_file or "")
    return params


def _poll_blocking(switch: str, target: CliTarget) -> Tables:
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
    from paramiko.ssh_exception import SSHException

    t = Tables(switch=switch, ports=Ports(target.platform))
    commands = COMMANDS[target.platform]
    try:
        conn = ConnectHandler(**connect_params(switch, target))
    except NetmikoAuthenticationException as e:
        raise SourceError(f"{target.host}:{target.port}: SSH authentication failed for {target.username}: "
                          f"{str(e).splitlines()[0]}", kind="auth") from None
    except NetmikoTimeoutException as e:
        raise SourceError(f"{target.host}:{target.port}: SSH connection failed or timed out "
                          f"({str(e).splitlines()[0] if str(e) else 'no detail'}); an unknown host key is "
                          "refused too: check host_key_file", kind="timeout") from None
    except (SSHException, OSError, ValueError) as e:
        raise SourceError(f"{target.host}:{target.port}: SSH failed: {e} (an unknown or changed host key "
                          "is refused: check host_key_file)") from None
    try:
        if target.enable_password is not None and target.platform in ENABLE_PLATFORMS:
            conn.enable()
        raw_prompt = conn.find_prompt()
        if target.platform != "linux":
            prompt = clean_prompt(raw_prompt).rstrip("#>").strip()
            t.system = SwitchInfo(switch=switch, sys_name=prompt)
        outputs: list[str] = []
        for table, command in commands:
            try:
                output = conn.send_command(command, read_timeout=target.timeout)
                outputs.append(str(output))
                parse(target.platform, command, str(output), tables=t)
            except ParseError as e:
                t.fail([table], "parse", str(e), source=command)
            except NetmikoTimeoutException as e:
                t.fail([table], "timeout", f"{type(e).__name__}: {_first_line(e)}", source=command)
            except (OSError, SSHException) as e:
                t.fail([table], "other", f"{type(e).__name__}: {_first_line(e)}", source=command)
        # Nothing read: say what the switch looks like rather than report empty tables.
        wrong = platform_mismatch(target.platform, raw_prompt, outputs)
        if wrong and not any(getattr(t, name) for name in ("interfaces", "fdb", "arp", "lldp", "cdp")):
            raise SourceError(f"{target.host}:{target.port}: {wrong}", kind="refused")
    finally:
        with contextlib.suppress(Exception):  # the session may already be gone
            conn.disconnect()
    return t


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else ""


async def poll(switch: str, target: CliTarget, *, clock: Callable[[], float] = time.time) -> tuple[Tables, float]:
    """One CLI poll in a worker thread; the caller's asyncio.timeout bounds it."""
    if target.platform not in COMMANDS:
        raise SourceError(f"unsupported CLI platform {target.platform}")
    taken_at = clock()
    tables = await asyncio.to_thread(_poll_blocking, switch, target)
    return tables, taken_at
