"""The conda environment names the same packages, at the same versions, as the lock file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _lock_versions() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", text, re.M)
    return {name.lower(): version for name, version in pins}


def _direct_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {re.split(r"[<>=\[ ;]", spec)[0].lower() for spec in specs}


def _conda_pins() -> dict[str, str | None]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins: dict[str, str | None] = {}
    for item in env["dependencies"]:
        if isinstance(item, str):
            name, _, version = item.partition("==")
            pins[name.split("=")[0].lower()] = version or None
    return pins


def test_environment_pins_every_direct_dependency_at_the_locked_version() -> None:
    pins, lock = _conda_pins(), _lock_versions()
    for name in _direct_dependencies():
        assert name in pins, f"environment.yml lacks {name}"
        assert pins[name] == lock[name], f"{name}: environment.yml {pins[name]}, lock {lock[name]}"


def test_environment_names_nothing_beyond_the_lock_except_python_pip_and_quarto() -> None:
    extra = set(_conda_pins()) - _direct_dependencies()
    assert extra == {"python", "pip", "quarto"}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
