"""NETCONF I/O: ncclient over SSH in a worker thread, bounded by the switch's timeout.

The only module here that talks to the network; it asks what ``parse.plan_for`` chooses from
the server's hello and hands every reply to ``parse.parse_reply``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.cli.names import Ports
from collectors.errors import SourceError
from collectors.netconf.common import ReplyError, parse_xml
from collectors.netconf.parse import Plan, parse_reply, plan_for
from collectors.tables import Tables

log = logging.getLogger("collectors.netconf")


@dataclass(frozen=True)
class NetconfTarget:
    host: str
    port: int = 830
    username: str = ""
    password: str | None = None
    key_file: str | None = None
    host_key_file: str | None = None
    insecure_no_host_key_check: bool = False
    timeout: float = 30.0


def rpc_error_text(e: Exception) -> str:
    """One line for an <rpc-error> (ncclient's str() of one without a message is a dict repr)."""
    tag, message = getattr(e, "tag", None), getattr(e, "message", None)
    info = getattr(e, "info", None)
    detail = (message or "").strip()
    if not detail and isinstance(info, str):
        try:
            detail = " ".join(t.strip() for t in parse_xml(info).itertext() if t.strip())
        except ReplyError:
            detail = ""
    text = f"rpc-error {tag}" if tag else "rpc-error"
    return f"{text}: {detail}" if detail else text


def _poll_blocking(switch: str, target: NetconfTarget) -> tuple[Tables, Plan]:
    from ncclient.operations.errors import OperationError, TimeoutExpiredError
    from ncclient.operations.rpc import RPCError
    from ncclient.transport.errors import AuthenticationError, SSHError, TransportError
    from ncclient.xml_ import to_ele

    if target.insecure_no_host_key_check:
        log.warning("%s: NETCONF host key NOT checked (insecure_no_host_key_check = true)", switch)
    kwargs: dict[str, Any] = dict(
        host=target.host, port=target.port, username=target.username, timeout=target.timeout,
        hostkey_verify=not target.insecure_no_host_key_check, allow_agent=False, look_for_keys=False,
        manager_params={"timeout": target.timeout})
    if target.password is not None:
        kwargs["password"] = target.password
    if target.key_file:
        kwargs["key_filename"] = target.key_file
    if target.host_key_file and not target.insecure_no_host_key_check:
        kwargs["known_hosts"] = target.host_key_file
    t = Tables(switch=switch, ports=Ports("iosxr"))
    try:
        with _connect(kwargs) as m:
            plan = plan_for(list(m.server_capabilities))
            if plan.family == "iosxr":
                t.ports.platform = "iosxr"
            elif plan.family == "sros":
                t.ports.platform = "sros"
            elif plan.family == "junos":
                t.ports.platform = "juniper_junos"
            else:
                t.ports.platform = "linux"  # model names are used verbatim
            for tables_, flt in plan.gets:
                try:
                    reply = m.get(filter=("subtree", flt))
                    parse_reply(reply.data_xml, t)
                except RPCError as e:
                    t.fail(tables_.split(","), "refused", rpc_error_text(e))
                except TimeoutExpiredError as e:
                    t.fail(tables_.split(","), "timeout", f"{type(e).__name__}: {e}")
                except (ReplyError, OperationError) as e:
                    t.fail(tables_.split(","), "other", f"{type(e).__name__}: {e}")
            for table, rpc in plan.rpcs:
                try:
                    reply = m.dispatch(to_ele(rpc))
                    parse_reply(reply.xml, t)
                except RPCError as e:
                    t.fail([table], "refused", rpc_error_text(e))
                except TimeoutExpiredError as e:
                    t.fail([table], "timeout", f"{type(e).__name__}: {e}")
                except (ReplyError, OperationError) as e:
                    t.fail([table], "other", f"{type(e).__name__}: {e}")
            return t, plan
    except AuthenticationError as e:
        raise SourceError(f"{target.host}:{target.port}: NETCONF authentication failed for "
                          f"{target.username}: {e}", kind="auth") from None
    except SSHError as e:  # also an unknown or changed host key (SSHUnknownHostError)
        raise SourceError(f"{target.host}:{target.port}: NETCONF over SSH failed: {e} (an unknown or "
                          "changed host key is refused: check host_key_file)") from None
    except TransportError as e:  # the session closed under us
        raise SourceError(f"{target.host}:{target.port}: NETCONF session lost: {e}") from None
    except OSError as e:
        raise SourceError(f"{target.host}:{target.port}: cannot connect: {e}") from None


def _connect(kwargs: dict[str, Any]) -> Any:
    """ncclient's connect, with host keys read only from the switch's own known-hosts file."""
    from ncclient import manager
    from ncclient.transport import ssh as nc_ssh

    known_hosts = kwargs.pop("known_hosts", None)
    kwargs.pop("ssh_config", None)
    manager_params = kwargs.pop("manager_params", {})

    class Session(nc_ssh.SSHSession):  # type: ignore[misc]
        def load_known_hosts(self, filename: str | None = None) -> None:
            if known_hosts:  # never ~/.ssh/known_hosts implicitly
                try:
                    self._host_keys.load(known_hosts)
                except OSError as e:
                    raise SourceError(f"host_key_file {known_hosts}: {e.strerror or e}") from None

    handler = manager.make_device_handler({"name": "default"})
    session = Session(handler)
    try:
        session.connect(**kwargs)
    except Exception:
        if session.transport:
            session.close()
        raise
    return manager.Manager(session, handler, **manager_params)


async def poll(switch: str, target: NetconfTarget, *, clock: Callable[[], float] = time.time
               ) -> tuple[Tables, float]:
    """One NETCONF poll of one switch in a worker thread (the event loop never blocks)."""
    taken_at = clock()
    tables, _plan = await asyncio.to_thread(_poll_blocking, switch, target)
    return tables, taken_at
