"""The data layer's error types (defined in :mod:`proeftuin.errors`, the one hierarchy)."""

from __future__ import annotations

from proeftuin.errors import ChecksumMismatch, DataError

__all__ = ["ChecksumMismatch", "DataError"]
