"""Recognise a wrong CLI platform from the prompt and the answers (pure).

A switch configured as ``cisco_ios`` that is really a Linux box answers every command
with ``command not found`` and its prompt is ``root@vm:~#``: without this, the poll
"succeeds" with empty tables and a switch named after the shell prompt. The words an
engineer sees are: "this looks like a Linux shell, not Cisco IOS".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Terminal control sequences a shell sends around its prompt (bracketed paste, colours, titles).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|[\x00-\x08\x0e-\x1f]")

LABELS = {
    "linux": "a Linux shell", "cisco_ios": "Cisco IOS", "cisco_xe": "Cisco IOS XE", "cisco_nxos": "Cisco NX-OS",
    "arista_eos": "Arista EOS", "hp_procurve": "HP ProCurve", "aruba_aoscx": "Aruba AOS-CX",
    "hp_comware": "HPE Comware", "juniper_junos": "Junos",
}
# A guess names a family; the configured platforms that family is compatible with.
FAMILIES = {
    "linux": {"linux"},
    "cisco-like": {"cisco_ios", "cisco_xe", "cisco_nxos", "arista_eos", "aruba_aoscx"},
    "junos": {"juniper_junos"},
    "comware": {"hp_comware"},
    "procurve": {"hp_procurve", "aruba_aoscx"},
}
FAMILY_LABELS = {"linux": "a Linux shell", "cisco-like": "a Cisco-style CLI (IOS, NX-OS, EOS)",
                 "junos": "Junos", "comware": "HPE Comware", "procurve": "HP ProCurve"}

_LINUX_OUTPUT = re.compile(r"command not found|^-?(ba|z|da)?sh: |: not found$|No such file or directory",
                           re.MULTILINE)
_CISCO_OUTPUT = re.compile(r"^\s*% ?Invalid (input|command)|^\s*\^$", re.MULTILINE)
_JUNOS_OUTPUT = re.compile(r"syntax error, expecting <command>|^unknown command\.", re.MULTILINE)
_COMWARE_OUTPUT = re.compile(r"% Unrecognized command found at '\^' position", re.MULTILINE)
_PROCURVE_OUTPUT = re.compile(r"^Invalid input: ", re.MULTILINE)


def clean_prompt(prompt: str) -> str:
    """The prompt without terminal control sequences and surrounding blanks."""
    return _ANSI.sub("", prompt).strip()


def guess_family(prompt: str, outputs: Iterable[str] = ()) -> tuple[str, str] | None:
    """(family, evidence) when the prompt or the answers give the CLI away, else None."""
    p = clean_prompt(prompt)
    if re.fullmatch(r"[\w.-]+@[\w.-]+:[^\s]*\s*[#$]?", p) or re.fullmatch(r"\[[\w.-]+@[\w.-]+ [^\]]*\][#$]?", p):
        return "linux", f"the prompt is {p!r}"
    texts = [_ANSI.sub("", o) for o in outputs]
    for family, rx in (("linux", _LINUX_OUTPUT), ("junos", _JUNOS_OUTPUT), ("comware", _COMWARE_OUTPUT),
                       ("procurve", _PROCURVE_OUTPUT), ("cisco-like", _CISCO_OUTPUT)):
        for t in texts:
            m = rx.search(t)
            if m:
                return family, f"it answered {m.group(0).strip()!r}"
    if re.fullmatch(r"[\w.-]+@[\w.-]+[>#]", p):
        return "junos", f"the prompt is {p!r}"
    if re.fullmatch(r"<[\w.-]+>|\[[\w.-]+\]", p):
        return "comware", f"the prompt is {p!r}"
    return None


def platform_mismatch(platform: str, prompt: str, outputs: Iterable[str] = ()) -> str | None:
    """A sentence for the user when the switch is clearly not ``platform``, else None."""
    guess = guess_family(prompt, outputs)
    if guess is None:
        return None
    family, evidence = guess
    if platform in FAMILIES[family]:
        return None
    fits = sorted(FAMILIES[family])
    return (f"this looks like {FAMILY_LABELS[family]}, not {LABELS.get(platform, platform)} ({evidence}): "
            f"set [switch.cli] platform to {' or '.join(fits)}")
