"""Public data sources: acquisition (download or mirror), checksum verification, parsing.

Every parser raises :class:`DataError` naming the file, the line or key, and what was
expected; a file whose SHA-256 differs from the project's record raises
:class:`ChecksumMismatch` and nothing downstream runs on it.
"""

from __future__ import annotations

from proeftuin.core.errors import ChecksumMismatch, DataError

__all__ = ["ChecksumMismatch", "DataError"]
