"""The alert rules are valid (`promtool check rules`) and fire on the series they should, quiet
on healthy ones (`promtool test rules`, deploy/prometheus/alerts_test.yml). promtool is Debian's
prometheus package, which the setup step installs: its absence fails these tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: bash scripts/setup.sh installs it"
    done = subprocess.run(
        [binary, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_alert_rules_are_valid() -> None:
    assert "SUCCESS: 8 rules found" in promtool("check", "rules", "alerts.yml")


def test_each_alert_fires_when_it_should() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")
