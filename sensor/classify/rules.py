"""The classification rules file: its format, the shipped copy, and user extensions.

The shipped ``rules.toml`` (next to this module) documents the format. A user file
given as ``[classification] rules_file`` has the same format and is applied after it.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from sensor.classify.names import normalize_org
from sensor.errors import ConfigError

Weight = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class ClassDef(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    label: str
    function: str | None = None
    medical: bool = False
    criticality: Annotated[int, msgspec.Meta(ge=1, le=5)] = 2


class VendorRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    device_class: str = msgspec.field(name="class")
    weight: Weight
    orgs: list[str] = msgspec.field(default_factory=list)
    org_prefixes: list[str] = msgspec.field(default_factory=list)
    reason: str = ""
    function: str | None = None


class ModuleRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    orgs: list[str] = msgspec.field(default_factory=list)
    org_prefixes: list[str] = msgspec.field(default_factory=list)
    weight: Weight = 0.0
    reason: str = "embedded network module"


class LldpRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    field: Literal["sys_name", "sys_desc", "platform", "capabilities", "med_manufacturer", "med_model",
                   "med_hardware", "med_firmware", "med_software"]
    pattern: str
    device_class: str = msgspec.field(name="class")
    weight: Weight
    reason: str = ""


class PortRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    ports: list[Annotated[int, msgspec.Meta(ge=0, le=65535)]]
    role: Literal["serves", "uses", "any"] = "any"
    device_class: str | None = msgspec.field(default=None, name="class")
    weight: Weight
    reason: str = ""


class Cleartext(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    ports: dict[str, str] = msgspec.field(default_factory=dict)


class RulesFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    version: int = 1
    min_score: Weight | None = None
    flip_margin: Weight | None = None
    flip_min: Weight | None = None
    medical_min: Weight | None = None
    classes: dict[str, ClassDef] = msgspec.field(default_factory=dict)
    vendor: list[VendorRule] = msgspec.field(default_factory=list)
    module: list[ModuleRule] = msgspec.field(default_factory=list)
    lldp: list[LldpRule] = msgspec.field(default_factory=list)
    port: list[PortRule] = msgspec.field(default_factory=list)
    cleartext: Cleartext | None = None


class Rules:
    """Shipped rules plus any user file, checked and compiled."""

    def __init__(self, files: list[tuple[str, RulesFile]]) -> None:
        self.min_score, self.flip_margin, self.flip_min, self.medical_min = 0.3, 0.25, 0.5, 0.5
        self.classes: dict[str, ClassDef] = {}
        self.vendor: list[tuple[frozenset[str], tuple[str, ...], VendorRule]] = []
        self.module: list[tuple[frozenset[str], tuple[str, ...], ModuleRule]] = []
        self.lldp: list[tuple[re.Pattern[str], LldpRule]] = []
        self.port: list[PortRule] = []
        self.cleartext: dict[int, str] = {}
        problems: list[str] = []
        for where, f in files:
            for attr in ("min_score", "flip_margin", "flip_min", "medical_min"):
                if getattr(f, attr) is not None:
                    setattr(self, attr, getattr(f, attr))
            self.classes.update(f.classes)
            for vr in f.vendor:
                self.vendor.append((_names(vr.orgs), _prefixes(vr.org_prefixes), vr))
            for mr in f.module:
                self.module.append((_names(mr.orgs), _prefixes(mr.org_prefixes), mr))
            for i, lr in enumerate(f.lldp):
                try:
                    self.lldp.append((re.compile(lr.pattern), lr))
                except re.error as e:
                    problems.append(f"{where}: lldp[{i + 1}].pattern: not a valid regular expression: {e}")
            self.port.extend(f.port)
            if f.cleartext is not None:
                for k, v in f.cleartext.ports.items():
                    if not k.isdigit():
                        problems.append(f"{where}: cleartext.ports: {k!r} is not a port number")
                    else:
                        self.cleartext[int(k)] = v
        self.classes.setdefault("unknown", ClassDef(label="Unknown"))
        for where, f in files:
            used = [(f"vendor[{i + 1}]", r.device_class) for i, r in enumerate(f.vendor)]
            used += [(f"lldp[{i + 1}]", r.device_class) for i, r in enumerate(f.lldp)]
            used += [(f"port[{i + 1}]", r.device_class) for i, r in enumerate(f.port) if r.device_class]
            for path, cls in used:
                if cls not in self.classes:
                    problems.append(f"{where}: {path}.class: unknown class \"{cls}\" (classes: "
                                    f"{', '.join(sorted(self.classes))})")
        if problems:
            raise ConfigError(problems)

    def known(self, device_class: str) -> bool:
        return device_class in self.classes


def _names(orgs: list[str]) -> frozenset[str]:
    return frozenset(normalize_org(o) for o in orgs)


def _prefixes(orgs: list[str]) -> tuple[str, ...]:
    return tuple(normalize_org(o) for o in orgs)


def parse_rules(text: str, where: str) -> RulesFile:
    try:
        raw = tomllib.loads(text)
        return msgspec.convert(raw, RulesFile)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{where}: not valid TOML: {e}"]) from None
    except msgspec.ValidationError as e:
        raise ConfigError([f"{where}: {e}"]) from None


def shipped_rules_text() -> str:
    return importlib.resources.files("sensor.classify").joinpath("rules.toml").read_text(encoding="utf-8")


def load_rules(extra_file: str | None = None) -> Rules:
    """The shipped rules, then ``extra_file`` (the user's) on top."""
    files = [("sensor/classify/rules.toml", parse_rules(shipped_rules_text(), "sensor/classify/rules.toml"))]
    if extra_file:
        try:
            text = Path(extra_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:  # the file may change after check-config
            raise ConfigError([f"{extra_file}: cannot be read: {e}"]) from None
        files.append((extra_file, parse_rules(text, extra_file)))
    return Rules(files)
