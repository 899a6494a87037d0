"""`fangxin survey load|invite|screen` as an operator runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from surveys.questionnaire import default_files
from surveys.submit import hash_invite

FANGXIN = str(Path(sys.executable).parent / "fangxin")


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env["FANGXIN_DATA_DIR"] = str(tmp)
    return subprocess.run(
        [FANGXIN, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_load_publishes_versions_and_invite_prints_codes_kept_as_hashes(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    merchant = next(p for p in default_files() if p.name == "merchant.toml")
    first = _run(tmp_path, "survey", "load", str(merchant))
    assert first.returncode == 0, first.stderr
    assert "version 1 published" in first.stdout
    assert "unchanged (version 1)" in _run(tmp_path, "survey", "load", str(merchant)).stdout
    edited = tmp_path / "merchant.toml"
    edited.write_text(
        merchant.read_text(encoding="utf-8").replace("Rate this shop", "Rate this shop, please"),
        encoding="utf-8",
    )
    # The title is not part of a version: only questions and dimensions are.
    assert "unchanged" in _run(tmp_path, "survey", "load", str(edited)).stdout
    edited.write_text(
        merchant.read_text(encoding="utf-8").replace(
            "How was the service?", "How was the service today?"
        ),
        encoding="utf-8",
    )
    assert "version 2 published" in _run(tmp_path, "survey", "load", str(edited)).stdout

    invite = _run(tmp_path, "survey", "invite", "merchant", "--count", "5")
    assert invite.returncode == 0, invite.stderr
    codes = invite.stdout.split()
    assert len(codes) == len(set(codes)) == 5
    with sqlite3.connect(tmp_path / "fangxin.sqlite3") as db:
        stored = {r[0] for r in db.execute("SELECT code_hash FROM invite_code")}
    assert stored == {hash_invite(c) for c in codes}

    screen = _run(tmp_path, "survey", "screen")
    assert screen.returncode == 0 and "0 responses screened" in screen.stdout


def test_a_bad_questionnaire_is_refused_with_each_problem(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    merchant = next(p for p in default_files() if p.name == "merchant.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        merchant.read_text(encoding="utf-8")
        .replace('type = "nps"', 'type = "stars"')
        .replace("weight = 0.5", "weight = 0.6", 1),
        encoding="utf-8",
    )
    result = _run(tmp_path, "survey", "load", str(bad))
    assert result.returncode == 1
    assert "unknown type 'stars'" in result.stderr
    assert "dimensions.supply: question weights sum to 1.1, not 1" in result.stderr
