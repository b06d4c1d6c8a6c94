"""The architecture, kept by a machine: import-linter's contracts (pyproject.toml) hold, and
they would catch a backwards import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        check=False,
    )


def test_import_contracts_are_kept():
    result = _lint(ROOT / "pyproject.toml", ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_backwards_import_breaks_the_contracts(tmp_path):
    shutil.copytree(ROOT / "src" / "proeftuin", tmp_path / "src" / "proeftuin")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    panel = tmp_path / "src" / "proeftuin" / "panel.py"
    panel.write_text(panel.read_text() + "\nimport proeftuin.report  # planted: panel -> report\n")
    estimators = tmp_path / "src" / "proeftuin" / "estimators" / "its.py"
    estimators.write_text(estimators.read_text() + "\nimport proeftuin.fileio  # planted\n")
    result = _lint(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode != 0
    assert "proeftuin.panel is not allowed to import proeftuin.report" in result.stdout
    assert "proeftuin.estimators.its -> proeftuin.fileio" in result.stdout


def test_the_report_may_not_read_the_plan_or_the_registry(tmp_path):
    shutil.copytree(ROOT / "src" / "proeftuin", tmp_path / "src" / "proeftuin")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    pages = tmp_path / "src" / "proeftuin" / "report" / "pages.py"
    planted = "\nfrom proeftuin.sites import load_registry  # planted: report -> registry\n"
    pages.write_text(pages.read_text() + planted)
    result = _lint(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode != 0
    assert "proeftuin.report is not allowed to import proeftuin.sites" in result.stdout
