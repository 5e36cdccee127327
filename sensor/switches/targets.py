"""What each collector polls, built from a configured switch; secrets are read here (SecretError)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensor.config import SwitchSection, check_secret_file, read_secret
from sensor.errors import SourceError

if TYPE_CHECKING:
    from collectors.cli.ssh import CliTarget
    from collectors.netconf import NetconfTarget
    from collectors.snmp import Credentials, Target


def snmp_target(sw: SwitchSection) -> tuple[Target, Credentials]:
    """The SNMP target and credentials of a configured switch."""
    from collectors.snmp import Credentials, Target

    s = sw.snmp
    if s is None:
        raise SourceError(f"switch {sw.name} has no [switch.snmp] table")
    target = Target(host=sw.host, port=s.port, timeout=float(s.timeout), retries=s.retries,
                    max_repetitions=s.max_repetitions, bulk=s.bulk, max_rows=s.max_rows)
    if s.version in ("1", "2c"):
        creds = Credentials(version=s.version, community=read_secret(s.community_file or ""), context=s.context)
    else:
        creds = Credentials(
            version="3",
            user=s.user or "",
            auth_protocol=s.auth_protocol,
            auth_key=read_secret(s.auth_key_file) if s.auth_key_file else None,
            priv_protocol=s.priv_protocol,
            priv_key=read_secret(s.priv_key_file) if s.priv_key_file else None,
            context=s.context,
        )
    return target, creds


def cli_target(sw: SwitchSection) -> CliTarget:
    """The CLI target of a configured switch."""
    from collectors.cli.ssh import CliTarget

    c = sw.cli
    if c is None:
        raise SourceError(f"switch {sw.name} has no [switch.cli] table")
    if c.key_file:
        check_secret_file(c.key_file)
    return CliTarget(
        host=sw.host, platform=c.platform, username=c.username, port=c.port,
        password=read_secret(c.password_file) if c.password_file else None, key_file=c.key_file,
        host_key_file=c.host_key_file, insecure_no_host_key_check=c.insecure_no_host_key_check,
        timeout=float(c.timeout),
        enable_password=read_secret(c.enable_password_file) if c.enable_password_file else None)


def netconf_target(sw: SwitchSection) -> NetconfTarget:
    """The NETCONF target of a configured switch."""
    from collectors.netconf import NetconfTarget

    n = sw.netconf
    if n is None:
        raise SourceError(f"switch {sw.name} has no [switch.netconf] table")
    if n.key_file:
        check_secret_file(n.key_file)
    return NetconfTarget(
        host=sw.host, port=n.port, username=n.username,
        password=read_secret(n.password_file) if n.password_file else None, key_file=n.key_file,
        host_key_file=n.host_key_file, insecure_no_host_key_check=n.insecure_no_host_key_check,
        timeout=float(n.timeout))
