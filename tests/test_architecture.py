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
    panel = tmp_path / "src" / "proeftuin" / "data" / "panel.py"
    panel.write_text(panel.read_text() + "\nimport proeftuin.report  # planted: panel -> report\n")
    estimators = tmp_path / "src" / "proeftuin" / "estimators" / "its" / "estimate.py"
    estimators.write_text(estimators.read_text() + "\nimport proeftuin.core.fileio  # planted\n")
    result = _lint(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode != 0
    assert "proeftuin.data is not allowed to import proeftuin.report" in result.stdout
    assert "proeftuin.data.panel -> proeftuin.report" in result.stdout
    assert "proeftuin.estimators.its.estimate -> proeftuin.core.fileio" in result.stdout


def test_a_new_module_belongs_to_the_layer_of_its_folder(tmp_path):
    """A module created in ``data/`` that imports a design breaks the layers contract by its
    folder alone: the contracts name packages, not lists of modules."""
    shutil.copytree(ROOT / "src" / "proeftuin", tmp_path / "src" / "proeftuin")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = tmp_path / "src" / "proeftuin" / "data" / "planted.py"
    planted.write_text(
        '"""Planted."""\n\nfrom proeftuin.designs import did  # planted: data -> designs\n'
    )
    result = _lint(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode != 0
    assert "proeftuin.data.planted -> proeftuin.designs.did (l.3)" in result.stdout


def test_src_holds_packages_of_a_dozen_modules_at_most():
    """The tree shows the layers: only packages below ``src/proeftuin`` (besides its
    ``__init__``), none holding more than about a dozen modules."""
    package = ROOT / "src" / "proeftuin"
    loose = {p.name for p in package.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert not loose, loose
    for folder in (p.parent for p in package.rglob("__init__.py")):
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 12, (folder.relative_to(package), len(modules))


def test_the_report_may_not_read_the_plan_or_the_registry(tmp_path):
    shutil.copytree(ROOT / "src" / "proeftuin", tmp_path / "src" / "proeftuin")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    pages = tmp_path / "src" / "proeftuin" / "report" / "pages.py"
    planted = "\nfrom proeftuin.data.sites import load_registry  # planted: report -> registry\n"
    pages.write_text(pages.read_text() + planted)
    result = _lint(tmp_path / "pyproject.toml", tmp_path / "src")
    assert result.returncode != 0
    assert "proeftuin.report is not allowed to import proeftuin.data" in result.stdout
    assert "proeftuin.report.pages -> proeftuin.data.sites" in result.stdout
