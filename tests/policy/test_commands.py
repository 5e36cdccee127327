"""``sensor policy`` end to end through the command line, and every export format compiled.

The matrix is filled by the flow source's own code from decoded IPFIX, the device
records are in the real local store; the commands run as subprocesses. nftables
output is checked by ``nft -c -f`` (the kernel's own parser; skipped with a reason when
nft is not installed), the others are compiled by Aerleon, and Aerleon's aclcheck
confirms that each observed flow is permitted and an unobserved one denied.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensor.policy.document import load_policy
from sensor.policy.export import FORMATS, aerleon_inputs
from sensor.policy.matrix import Matrix, save_matrix
from tests.policy import scenario as sc

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "sensor.cli", *args], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


@pytest.fixture
def site(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    m = Matrix()
    for end, convs in sc.windows(6, time.time() - 6 * sc.WINDOW):
        m.add_window(convs, end)
    save_matrix(m, state)
    sc.store_devices(state)
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\nid = "t"\nstate_dir = "{state}"\n'
                   '[flows]\nallowed_exporters = ["127.0.0.1"]\ninternal = ["10.0.0.0/8"]\n'
                   f'[policy]\nfile = "{tmp_path / "approved.toml"}"\n')
    return cfg


def approve_all(src: Path, dst: Path) -> None:
    """What biomed does in an editor: approve every rule to allow, with who and a ticket."""
    out, kind = [], None
    for line in src.read_text().splitlines():
        if line.startswith("kind = "):
            kind = line
        if line == 'state = "proposed"' and kind == 'kind = "allow"':
            line = 'state = "approved"'
        elif line == 'by = ""' and kind == 'kind = "allow"':
            line = 'by = "biomed"'
        elif line == 'ticket = ""' and kind == 'kind = "allow"':
            line = 'ticket = "CHG-7"'
        out.append(line)
    dst.write_text("\n".join(out) + "\n")


def test_propose_diff_simulate_export(site: Path, tmp_path: Path) -> None:
    r = run("policy", "matrix", "-c", str(site))
    assert r.returncode == 0 and "medication_delivery: 3 device(s)" in r.stdout
    assert "58:42:e4:00:00:21 -> 10.50.0.5 (clinical_servers) tcp/2575 (HL7 MLLP)" in r.stdout
    r = run("policy", "simulate", "-c", str(site))
    assert r.returncode == 2 and "no such policy file: run `sensor policy propose`" in r.stderr
    r = run("policy", "propose", "-c", str(site))
    assert r.returncode == 0, r.stderr
    assert "4 rule(s) to allow, 1 listed for review, 5 new, 0 stale" in r.stdout
    proposed = tmp_path / "state" / "policy" / "proposed.toml"
    assert proposed.read_text().count("\n[[rule]]\n") == 5
    approved = tmp_path / "approved.toml"
    r = run("policy", "approve", "-c", str(site), "--all", "--by", "biomed", "--ticket", "CHG-7", "--to",
            str(approved))
    assert r.returncode == 0 and "4 rule(s) approved by biomed" in r.stdout, r.stderr
    review_id = f"host:10.30.0.21/32>host:{sc.OUTSIDE}/32:tcp/443"
    r = run("policy", "approve", "-c", str(site), "--id", review_id, "--by", "biomed", "--file", str(approved))
    assert r.returncode == 1 and "listed for review" in r.stderr and "--comment" in r.stderr
    r = run("policy", "approve", "-c", str(site), "--id", "nope", "--by", "biomed")
    assert r.returncode == 1 and "no rule with id nope" in r.stderr
    r = run("check-config", str(site))
    assert r.returncode == 0, r.stderr
    r = run("policy", "diff", "-c", str(site))
    assert r.returncode == 1 and "4 change(s)" in r.stdout and "state 'approved' -> 'proposed'" in r.stdout
    r = run("policy", "propose", "-c", str(site))  # decisions come back from the approved file
    assert "0 new" in r.stdout
    r = run("policy", "diff", "-c", str(site))
    assert r.returncode == 0 and "0 change(s)" in r.stdout
    r = run("policy", "simulate", "-c", str(site), "--json")
    sim = json.loads(r.stdout)
    assert (sim["in_scope"], sim["allowed"]) == (10, 9)
    assert [(b["client"], b["server"], b["port"]) for b in sim["blocked"]] == [("10.30.0.21", sc.OUTSIDE, 443)]
    r = run("policy", "simulate", "-c", str(site))
    assert "BLOCKED 58:42:e4:00:00:21 (medication_delivery) -> 203.0.113.7 (external) tcp/443 (https)" in r.stdout
    for fmt in FORMATS:
        out = tmp_path / f"out.{fmt}"
        r = run("policy", "export", "-c", str(site), "--format", fmt, "-o", str(out))
        assert r.returncode == 0, (fmt, r.stderr)
        assert out.exists()
    assert "permit tcp host 10.30.0.21 host 10.50.0.5 eq 2575" in (tmp_path / "out.cisco").read_text()
    assert "<member>hl7</member>" in (tmp_path / "out.paloalto").read_text()
    assert "type filter hook forward priority 0; policy drop;" in (tmp_path / "out.nftables").read_text()
    assert "CHG-7" in (tmp_path / "out.csv").read_text()
    mud = json.loads((tmp_path / "out.mud" / "infusion_pump.json").read_text())
    aces = mud["ietf-access-control-list:acls"]["acl"][0]["aces"]["ace"]
    assert {"operator": "eq", "port": 2575} in [a["matches"].get("tcp", {}).get("destination-port") for a in aces]
    if shutil.which("nft") is None:
        pytest.skip("nft not installed (Debian package nftables): the ruleset was not checked by nft -c")
    r2 = subprocess.run(["nft", "-c", "-f", str(tmp_path / "out.nftables")], capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr
    # Loaded for real, twice (a re-export replaces the table), in a network namespace of our own.
    nft = tmp_path / "out.nftables"
    r3 = subprocess.run(["unshare", "--net", "sh", "-c", f"nft -f {nft} && nft -f {nft} && nft list ruleset"],
                        capture_output=True, text=True)
    if r3.returncode != 0 and "Operation not permitted" in r3.stderr:
        pytest.skip(f"cannot create a network namespace here: {r3.stderr.strip()}")
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout.count("chain root0") == 1 and "hook forward priority filter; policy drop;" in r3.stdout
    assert "tcp dport 2575 ct state new accept" in r3.stdout


def test_check_config_reports_policy_file_errors(site: Path, tmp_path: Path) -> None:
    assert run("policy", "propose", "-c", str(site)).returncode == 0
    text = (tmp_path / "state" / "policy" / "proposed.toml").read_text()
    (tmp_path / "approved.toml").write_text(text.replace('proto = "tcp"', 'proto = "tpc"', 1))
    r = run("check-config", str(site))
    assert r.returncode == 2
    line = text.splitlines().index('proto = "tcp"') + 1
    assert f'{tmp_path / "approved.toml"}:{line}: rule[1].proto: expected one of "tcp"' in r.stderr


def test_aclcheck_permits_observed_and_denies_unobserved(site: Path, tmp_path: Path) -> None:
    from aerleon.lib import aclcheck, naming

    assert run("policy", "propose", "-c", str(site)).returncode == 0
    approve_all(tmp_path / "state" / "policy" / "proposed.toml", tmp_path / "approved.toml")
    doc = load_policy(tmp_path / "approved.toml")
    pols, defs = aerleon_inputs(doc, "cisco")
    d = naming.Naming()
    d.ParseDefinitionsObject(defs, "")

    def action(src: str, dst: str, port: int, proto: str) -> str:
        check = aclcheck.AclCheck.FromPolicyDict(pols[0], d, src, dst, "any", port, proto)
        return str(check.ExactMatches()[0].action)

    observed = [(p, sc.PHARMACY, 2575, "tcp") for p in sc.PUMPS] + [(p, sc.DNS, 53, "udp") for p in sc.PUMPS] + \
        [(m, sc.CENTRAL, 24005, "tcp") for m in sc.MONITORS] + [("10.40.0.10", "10.30.0.31", 443, "tcp")]
    assert [action(*f) for f in observed] == ["accept"] * len(observed)
    assert action("10.40.0.11", "10.30.0.21", 443, "tcp") == "deny"  # workstation to pump: never seen
    assert action("10.30.0.21", "198.51.100.9", 443, "tcp") == "deny"  # pump to the outside
    assert action("10.30.0.21", sc.OUTSIDE, 443, "tcp") == "deny"  # the one-off was for review, not approved
    assert action("10.40.0.11", sc.FILES, 445, "tcp") == "accept"  # outside the policy's scope


def test_empty_state_and_unapproved_policy_explain_themselves(tmp_path: Path) -> None:
    cfg = tmp_path / "sensor.toml"
    cfg.write_text(f'[sensor]\nsite = "lab"\nstate_dir = "{tmp_path / "state"}"\n')
    r = run("policy", "matrix", "-c", str(cfg))
    assert r.returncode == 0 and "no conversations observed yet" in r.stdout
    r = run("policy", "propose", "-c", str(cfg))
    assert r.returncode == 1 and "run the sensor with [flows] for a while first" in r.stderr
    r = run("policy", "simulate", "-c", str(cfg))
    assert r.returncode == 1 and "no approved policy: set [policy] file" in r.stderr
    # a proposal nobody approved yet cannot be exported
    m = Matrix()
    for end, convs in sc.windows(3, time.time() - 900):
        m.add_window(convs, end)
    save_matrix(m, tmp_path / "state")
    assert run("policy", "propose", "-c", str(cfg)).returncode == 0
    proposed = tmp_path / "state" / "policy" / "proposed.toml"
    r = run("policy", "export", "-c", str(cfg), "--policy", str(proposed), "--format", "cisco")
    assert r.returncode == 1 and "no approved rule: review it" in r.stderr
