"""The data layer's error types."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input: the message names the file, line or key, and what was expected."""


class ChecksumMismatch(DataError):
    """A source file's SHA-256 differs from the sum recorded in the project."""

    def __init__(self, file: str, expected: str, actual: str, note: str = "") -> None:
        self.file, self.expected, self.actual = file, expected, actual
        message = f"{file}: checksum mismatch: expected sha256 {expected}, got {actual}"
        super().__init__(message + (f" ({note})" if note else ""))
