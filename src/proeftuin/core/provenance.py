"""Provenance and cache keys: what produced a result, as a hash and as a readable record.

A task's cache key hashes everything its output depends on: the notebook template with
outputs stripped, the parameters, the ``proeftuin`` source code, the checksums of its input
data and the lock file. The same parts, with code version, package versions and timings,
form the provenance record written beside each result.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from proeftuin.core import settings

RECORDED_PACKAGES = (
    "proeftuin",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "pyfixest",
    "matplotlib",
    "papermill",
    "nbclient",
    "ipykernel",
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each named file in ``folder``."""
    return {name: sha256_file(folder / name) for name in names}


def sha256_json(payload: Any) -> str:
    return sha256_bytes(json.dumps(payload, sort_keys=True, default=str).encode())


def notebook_hash(path: Path) -> str:
    """Hash of a notebook's cells (type, source, tags) with outputs and counts stripped."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [
        {
            "type": cell.get("cell_type"),
            "source": "".join(cell.get("source", [])),
            "tags": cell.get("metadata", {}).get("tags", []),
        }
        for cell in notebook.get("cells", [])
    ]
    return sha256_json(cells)


#: Sub-packages and modules no notebook imports: the command line, the report generator and
#: the placebo study's calibration (run by ``proeftuin placebo-study`` after its notebooks).
NOT_IN_NOTEBOOKS = ("cli", "report", "synthesis/calibration.py")


@cache
def source_hash() -> str:
    """Hash of the ``proeftuin`` code the notebooks run (path and content of each file).

    The code of ``NOT_IN_NOTEBOOKS`` is left out: it never runs inside a notebook, so
    changing it must not invalidate executed results.
    """
    package = Path(__file__).resolve().parents[1]  # the proeftuin package
    digest = hashlib.sha256()
    files = (
        p
        for p in package.rglob("*.py")
        if not {p.relative_to(package).parts[0], p.relative_to(package).as_posix()}
        & set(NOT_IN_NOTEBOOKS)
    )
    for path in sorted(files):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def source_checksums(manifest: Path | None = None) -> dict[str, str]:
    """SHA-256 of every source file used by the last panel build (from its manifest.json).

    Lives here rather than in ``panel`` so that cache checks stay free of heavy imports.
    """
    from proeftuin.core.errors import DataError

    manifest = manifest or settings.processed_dir() / "manifest.json"
    if not manifest.is_file():
        raise DataError(f"{manifest}: manifest not found (run `proeftuin data`)")
    try:
        return dict(json.loads(manifest.read_text(encoding="utf-8"))["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(
            f"{manifest}: unreadable or incomplete build manifest: run `proeftuin data`"
        ) from None


#: The built files a notebook reads (``data.processed``): their own hashes enter every site
#: task's cache key, so a panel changed after its build can never pass for the built one.
PROCESSED_INPUTS = ("panel.parquet", "covariates.parquet")


def processed_hashes() -> dict[str, str]:
    """SHA-256 of each built file the notebooks read, as ``processed/<name>`` (missing files
    as ``missing``); hashed once per file version (path, size, modification time)."""
    folder = settings.processed_dir()
    return {f"processed/{name}": _file_hash(folder / name) for name in PROCESSED_INPUTS}


def _file_hash(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return _hash_version(path, stat.st_size, stat.st_mtime_ns, stat.st_ino)


@cache
def _hash_version(path: Path, size: int, mtime_ns: int, inode: int) -> str:
    return sha256_file(path)


def lock_hash() -> str:
    lock = settings.project_root() / "requirements.lock"
    return sha256_file(lock) if lock.is_file() else "no-lock-file"


def curated_data_hashes() -> dict[str, str]:
    """Checksums of the curated facts we maintain (registry, crosswalks, checksums)."""
    root = settings.project_root()
    files = sorted(
        p
        for folder in (settings.sites_dir(), settings.reference_dir())
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.is_file()
    )
    return {str(p.relative_to(root)): sha256_file(p) for p in files}


@cache
def code_version() -> str:
    """``git describe`` of the checkout, with ``-dirty`` for uncommitted changes."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=settings.project_root(),
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return out.stdout.strip()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
