"""The conda / repo2docker (Binder) environment installs exactly the lock file: Python at the
lock's version, pip and Quarto from conda-forge, every Python package through
``-r requirements.lock`` (hash-checked), and ``postBuild`` adds the package without
dependencies and the kernel the notebooks name."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_environment_installs_the_lock_itself() -> None:
    env = _environment()
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    [pip] = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert {d.split("=")[0] for d in conda} == {"python", "pip", "quarto"}
    assert pip == ["-r requirements.lock"]  # every package at its locked version, nothing else
    locked_for = re.search(r"--python-version (\S+)", (ROOT / "requirements.lock").read_text())
    assert locked_for and f"python={locked_for[1]}" in conda


def test_every_locked_package_has_hashes_so_pip_checks_them() -> None:
    text = (ROOT / "requirements.lock").read_text()
    pins = re.findall(r"^[A-Za-z0-9_.-]+==\S+", text, re.M)
    assert pins and len(pins) == len(re.findall(r"^[A-Za-z0-9_.-]+==\S+ \\\n\s+--hash", text, re.M))


def test_post_build_installs_the_package_and_the_notebooks_kernel() -> None:
    post = ROOT / "postBuild"
    assert os.access(post, os.X_OK) and post.read_text().startswith("#!/bin/bash")
    script = post.read_text()
    assert "pip install --no-deps -e ." in script
    kernel = json.loads((ROOT / "notebooks" / "did_site.ipynb").read_text())["metadata"]
    assert f"--name {kernel['kernelspec']['name']}" in script
