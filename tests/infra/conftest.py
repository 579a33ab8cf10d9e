"""Fixtures of the infrastructure checks: the parsed Bicep files and one checkov report, each made once per session.

Both need the infra checks' virtualenv (``make infra-venv``: checkov and the pycep parser it pins); without it the
tests are skipped with that hint rather than failing on a machine that only has the app's venv.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, ROOT, infra_python, load_bicep


@pytest.fixture(scope="session")
def infra_py() -> Path:
    python = infra_python()
    if python is None:
        pytest.skip("the infra checks' venv is missing: run `make infra-venv` (or set AETHERV_INFRA_PYTHON)")
    return python


@pytest.fixture(scope="session")
def bicep(infra_py: Path) -> dict[str, Any]:
    return load_bicep(infra_py)


@pytest.fixture(scope="session")
def checkov_report(infra_py: Path) -> dict[str, Any]:
    checkov = infra_py.with_name("checkov")
    result = subprocess.run(
        [str(checkov), "-d", str(INFRA), "--framework", "bicep", "--output", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    if not result.stdout.strip():
        raise AssertionError(f"checkov produced no report (exit {result.returncode}):\n{result.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report
