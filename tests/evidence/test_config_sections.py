"""[register] and [advisories] in the configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor.config import parse_config, summary_lines
from sensor.errors import ConfigError


def test_sections_parse_and_summarise(tmp_path: Path) -> None:
    reg = tmp_path / "register.csv"
    reg.write_text("asset_tag\n", encoding="utf-8")
    cfg = parse_config(f'[sensor]\nsite = "lab"\n[register]\nfile = "{reg}"\nunseen_after = "14d"\n'
                       '[register.columns]\nasset_tag = "Equipment ID"\n'
                       '[register.locations]\n"ICU 3" = ["icu3-access"]\n'
                       f'[advisories]\ndir = "{tmp_path}"\n')
    assert cfg.register is not None and cfg.register.unseen_after == 14 * 86400
    assert cfg.register.columns == {"asset_tag": "Equipment ID"}
    assert cfg.register.locations == {"ICU 3": ["icu3-access"]}
    assert cfg.advisories is not None and cfg.advisories.dir == str(tmp_path)
    text = "\n".join(summary_lines(cfg))
    assert "asset register" in text and "advisories" in text


def test_every_problem_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config('[sensor]\nsite = "lab"\n'
                     '[register]\nfile = "/nonexistent/register.csv"\nunseen_after = "a week"\n'
                     '[register.columns]\nasset = "Tag"\n'
                     '[advisories]\ndir = "/nonexistent"\nfiles = "x"\n', "s.toml")
    assert e.value.problems == [
        's.toml:4: register.file: /nonexistent/register.csv does not exist or cannot be read: give the '
        "register's CSV export",
        's.toml:5: register.unseen_after: expected a duration like "90s", "5m" or "1h", got "a week"',
        "s.toml:7: register.columns.asset: unknown key (known keys: asset_tag, manufacturer, model, serial, mac, "
        "ip, department, location, owner, high_risk, patchable, end_of_support, firmware)",
        "s.toml:9: advisories.dir: /nonexistent does not exist or cannot be read: give a directory of CSAF JSON files",
        "s.toml:10: advisories.files: unknown key (known keys: dir)",
    ]


def test_files_are_not_checked_when_told_not_to() -> None:
    cfg = parse_config('[sensor]\nsite = "lab"\n[register]\nfile = "/elsewhere.csv"\n', check_files=False)
    assert cfg.register is not None and cfg.register.file == "/elsewhere.csv"
