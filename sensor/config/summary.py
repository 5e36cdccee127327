"""What a configuration asks for, in a few lines (``sensor check-config``)."""

from __future__ import annotations

from collections.abc import Iterable

from sensor.config.schema import Config, format_duration


def summary_lines(cfg: Config) -> Iterable[str]:
    """A short human summary for ``sensor check-config``."""
    yield f"sensor {cfg.sensor.id} at site {cfg.sensor.site}; state in {cfg.sensor.state_dir}"
    if cfg.mqtt is None:
        yield "hub: none configured; observations stay in the local store (sensor inventory reads it)"
    else:
        m = cfg.mqtt
        auth = f" as {m.username}" if m.username else ""
        scheme = "mqtts" if m.tls else "mqtt"
        topics = f"{m.topic_prefix}/{cfg.sensor.site}/{cfg.sensor.id}"
        yield f"hub: {scheme}://{m.host}:{m.effective_port}{auth}, topics under {topics}"
    yield f"switches: {len(cfg.switch)}"
    for sw in cfg.switch:
        how = ", ".join(sw.methods)
        extra = ""
        if sw.snmp is not None:
            extra = f" (SNMP v{sw.snmp.version}{', profile ' + sw.snmp.profile if sw.snmp.profile else ''})"
        yield f"  {sw.name}: {sw.host} via {how}{extra}, every {format_duration(sw.interval)}"
    parts = [f"health every {format_duration(cfg.sensor.health_interval)}"]
    for method in ("snmp", "cli", "netconf"):
        n = sum(method in s.methods for s in cfg.switch)
        if n:
            parts.append(f"{method} on {n} switch{'es' if n != 1 else ''}")
    if cfg.flows is not None:
        f = cfg.flows
        exporters = ", ".join(f.allowed_exporters) or "no exporter allowed yet"
        parts.append(f"flows on {', '.join(f.listen)} from {exporters}, window {format_duration(f.window)}")
    yield "sources: " + "; ".join(parts)
    if cfg.register is not None:
        yield (f"asset register: {cfg.register.file} (unseen after {format_duration(cfg.register.unseen_after)}; "
               "`sensor register check` validates it)")
    if cfg.advisories is not None:
        yield f"advisories: CSAF documents in {cfg.advisories.dir} (`sensor advisories check` reads them)"
    pol = cfg.policy
    yield (f"policy: {len(pol.zone)} zone table(s) configured, matrix window {format_duration(pol.window)}, "
           + (f"approved policy {pol.file}" if pol.file else "no approved policy file yet"))


