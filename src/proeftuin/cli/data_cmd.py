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
ForceOption = Annotated[
    bool, typer.Option("--force", help="Rebuild even if sources and code are unchanged.")
]


def data(mirror: MirrorOption = None, force: ForceOption = False) -> None:
    """Acquire every source, verify checksums, and build the harmonised panel."""
    from rich.console import Console

    from proeftuin.panel import build_panel
    from proeftuin.sources import DataError

    console = Console()
    try:
        build = build_panel(mirror, force=force, progress=True)
    except DataError as exc:
        console.print(f"[bold red]data error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=2) from exc
    if not build.rebuilt:
        console.print("[green]panel up to date[/] (sources and code unchanged; --force rebuilds)")
    console.print(build.summary())
    console.print(f"panel: {build.panel_path}")
