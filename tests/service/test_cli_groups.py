"""``fangxin`` is composed of the domains' own click groups, and still lists every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from certificates.cli import certificates
from scoring.credit.cli import credit
from scoring.satisfaction.cli import score
from service.cli import main
from surveys.cli import survey

FANGXIN = Path(sys.executable).parent / "fangxin"
COMMANDS = [
    "survey",
    "score",
    "credit",
    "certificates",
    "serve",
    "migrate",
    "demo",
    "user",
    "token",
    "import",
    "outbox",
    "worker",
    "audit",
    "backup",
    "restore",
]


def test_help_lists_every_command_group() -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    result = subprocess.run(
        [str(FANGXIN), "--help"], capture_output=True, text=True, env=environ, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Commands:", 1)[1].split()
    assert [c for c in COMMANDS if c not in listed] == []


def test_each_domain_group_is_the_one_its_package_defines() -> None:
    assert main.commands["survey"] is survey
    assert main.commands["score"] is score
    assert main.commands["credit"] is credit
    assert main.commands["certificates"] is certificates
