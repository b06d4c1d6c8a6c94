"""Atomic file writes: a file either holds its complete new content or its old one.

Every generated artefact (panel, results, executed notebooks, provenance) is written to a
temporary file in the same folder and renamed into place, so that an interrupted run never
leaves a half-written file that looks finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from proeftuin.core.jsonable import json_safe

__all__ = ["atomic_write", "atomic_write_json", "atomic_write_text", "json_safe", "write_table"]


def _file_mode() -> int:
    """The mode a plain ``open()`` gives a new file (0666 less the umask), read once."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it into place
    with the mode any other new file gets (``mkstemp`` makes it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_json(path: Path, payload: Any) -> Path:
    """Write JSON (sorted keys); NaN and infinities become ``null``, as JSON has neither."""
    text = json.dumps(json_safe(payload), indent=2, sort_keys=True, default=str, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def write_table(frame_or_text: pd.DataFrame | str, path: Path) -> None:
    """Write a frame (Parquet or CSV by suffix) or text atomically."""
    if isinstance(frame_or_text, str):
        atomic_write_text(path, frame_or_text)
    elif path.suffix == ".parquet":
        atomic_write(path, lambda tmp: frame_or_text.to_parquet(tmp, index=False))
    else:
        atomic_write(path, lambda tmp: frame_or_text.to_csv(tmp, index=False))
