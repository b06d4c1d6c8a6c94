"""Acquire a source file from the mirror or its official URL, verify it, and cache it.

The expected SHA-256 of every file lives in ``data/reference/checksums.csv`` (source,
file, sha256, url). Files are read from ``<mirror>/<source>/<file>`` when a mirror is set,
else downloaded once into ``data/raw/<source>/<file>``.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from proeftuin.core import settings
from proeftuin.core.errors import ChecksumMismatch, DataError
from proeftuin.core.provenance import sha256_file

CHECKSUMS_FILE = "checksums.csv"


@dataclass(frozen=True)
class SourceFile:
    """One recorded source file: where it comes from and its expected checksum."""

    source: str
    file: str
    sha256: str
    url: str


def checksum_table(path: Path | None = None) -> dict[tuple[str, str], SourceFile]:
    """The project's record of source files, keyed by (source, file)."""
    path = path or settings.reference_dir() / CHECKSUMS_FILE
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [SourceFile(**row) for row in csv.DictReader(fh)]
    return {(r.source, r.file): r for r in rows}


def verify(path: Path, record: SourceFile) -> str:
    """Return the file's sum, or raise ChecksumMismatch naming file, expected and actual."""
    actual = sha256_file(path)
    if actual != record.sha256:
        note = ""
        if record.source == "vektis":
            note = "Vektis may have re-published this file; check it and record the new sum"
        raise ChecksumMismatch(str(path), record.sha256, actual, note)
    return actual


def _download(record: SourceFile, target: Path, progress: bool) -> None:
    import requests
    from rich.progress import Progress

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with requests.get(record.url, stream=True, timeout=60) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("content-length", 0)) or None
            with Progress(disable=not progress) as bar, tmp.open("wb") as fh:
                task = bar.add_task(f"{record.source}/{record.file}", total=total)
                for chunk in resp.iter_content(1 << 16):
                    fh.write(chunk)
                    bar.advance(task, len(chunk))
    except requests.RequestException as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"{record.file}: download from {record.url} failed ({type(exc).__name__}); "
            f"without network, set {settings.MIRROR_ENV} to a local mirror folder"
        ) from exc
    os.replace(tmp, target)


def acquire(
    source: str,
    file: str,
    mirror: Path | None = None,
    *,
    progress: bool = False,
    table: dict[tuple[str, str], SourceFile] | None = None,
) -> tuple[Path, str]:
    """Path of a verified copy of ``source/file`` and its SHA-256."""
    table = table if table is not None else checksum_table()
    record = table.get((source, file))
    if record is None:
        raise DataError(f"{CHECKSUMS_FILE}: no recorded checksum for key {source}/{file}")
    mirror = mirror if mirror is not None else settings.data_mirror()
    if mirror is not None:
        if not Path(mirror).is_dir():
            raise DataError(
                f"data mirror {mirror} is not a folder: point {settings.MIRROR_ENV} (or "
                "--mirror) at the folder holding vektis/, cbs/ and reference/"
            )
        path = Path(mirror) / source / file
        if not path.is_file():
            raise DataError(f"{path}: not found in mirror (expected {source}/{file})")
    else:
        path = settings.raw_dir() / source / file
        if not path.is_file():
            _download(record, path, progress)
    return path, verify(path, record)
