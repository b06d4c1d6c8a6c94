"""Acquire the reference data sets with published analyses (mpdta, sicily, california_prop99)."""

from __future__ import annotations

from pathlib import Path

from proeftuin.sources.fetch import acquire

REFERENCE_FILES = ("mpdta.csv", "sicily.csv", "california_prop99.csv")


def reference_path(name: str, mirror: Path | None = None) -> Path:
    """Verified local path of a reference data set (mirror or download cache)."""
    if name not in REFERENCE_FILES:
        raise KeyError(f"unknown reference data set {name!r}; expected one of {REFERENCE_FILES}")
    path, _ = acquire("reference", name, mirror)
    return path
