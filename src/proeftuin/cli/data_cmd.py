"""``proeftuin data``: acquire the sources (download or mirror) and build the panel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

MirrorOption = Annotated[
    Path | None,
    typer.Option(
        "--mirror",
        envvar="PROEFTUIN_DATA_MIRROR",
        help="Local mirror folder holding the source files (else download them).",
    ),
]


def data(mirror: MirrorOption = None) -> None:
    """Acquire every source, verify checksums, and build the harmonised panel."""
    raise NotImplementedError
