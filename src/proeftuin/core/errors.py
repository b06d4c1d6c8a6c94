"""The project's one error hierarchy: every error a user can cause derives from
:class:`ProeftuinError`, carries a one-line message naming what and where, and an exit code.

The command line catches :class:`ProeftuinError` once (``proeftuin.cli``) and prints the
message without a traceback. The classes keep their historical built-in bases
(``ValueError``, ``KeyError``, ``RuntimeError``) so that callers catching those still work.
This module imports nothing from the project, so every layer, the estimators included, may
raise these errors.
"""

from __future__ import annotations

import errno
from pathlib import Path


class ProeftuinError(Exception):
    """Root of every error a user can cause; ``exit_code`` is what the CLI exits with."""

    exit_code = 2
    #: Short label the CLI prints before the message.
    kind = "error"


class DataError(ProeftuinError, ValueError):
    """Bad input data: the message names the file, line or key, and what was expected."""

    kind = "data error"


class ChecksumMismatch(DataError):
    """A source file's SHA-256 differs from the sum recorded in the project."""

    def __init__(self, file: str, expected: str, actual: str, note: str = "") -> None:
        self.file, self.expected, self.actual = file, expected, actual
        message = f"{file}: checksum mismatch: expected sha256 {expected}, got {actual}"
        super().__init__(message + (f" ({note})" if note else ""))


class PlanError(ProeftuinError, ValueError):
    """An invalid plan: every problem, each naming its key in the plan file."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid analysis plan {path}:\n{listing}")


class UnknownOutcome(ProeftuinError, KeyError):
    """An outcome name that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DesignError(ProeftuinError, ValueError):
    """A design or input the estimators refuse, with a one-line reason."""


class InsufficientPrePeriod(DesignError):
    """Too few pre-intervention points to identify what the estimator needs."""


class PipelineError(ProeftuinError, RuntimeError):
    """The run cannot start (no panel, no kernel); nothing was executed."""


class ResultsError(ProeftuinError, ValueError):
    """Results that cannot be used as they are: no or an unreadable run manifest, or
    results made under another plan than the one asked for."""

    kind = "results error"


class QuartoRequiredError(ProeftuinError, RuntimeError):
    """Quarto is required (``REQUIRE_QUARTO=1``) but was not found."""

    exit_code = 1


class DiskError(ProeftuinError, OSError):
    """A file could not be written: the disk is full, read-only or not ours to write."""

    kind = "disk error"
    exit_code = 1


#: What to do about each disk or permission error a run or a report can meet.
DISK_ADVICE = {
    errno.ENOSPC: "free disk space (or set PROEFTUIN_ROOT to a copy on another disk), then "
    "run again; finished results were kept",
    errno.EDQUOT: "free space within your disk quota, then run again; finished results were kept",
    errno.EROFS: "the file system is read-only: set PROEFTUIN_ROOT to a writable copy of the "
    "project, then run again",
    errno.EACCES: "make it writable (or set PROEFTUIN_ROOT to a writable copy), then run again",
    errno.EPERM: "make it writable (or set PROEFTUIN_ROOT to a writable copy), then run again",
}


def disk_error(exc: OSError) -> DiskError | None:
    """The one-line error for a disk or permission error (``None`` for any other OSError)."""
    advice = DISK_ADVICE.get(exc.errno or 0)
    if advice is None:
        return None
    what = f" {exc.filename}" if exc.filename else ""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
    return DiskError(f"cannot write{what}: {reason.lower()}; {advice}")
