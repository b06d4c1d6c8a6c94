"""``proeftuin data``: acquire the sources (download or mirror) and build the panel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Group

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

    from proeftuin.core.errors import PipelineError
    from proeftuin.data.panel import build_panel
    from proeftuin.pipeline.guard import RunInProgress, RunLock

    console = Console()
    try:  # never rebuild the panel under a running `run` (or another `data`)
        with RunLock():
            build = build_panel(mirror, force=force, progress=True)  # errors: one line
    except RunInProgress as exc:
        raise PipelineError(str(exc)) from None
    if not build.rebuilt:  # one line: a no-op says so and nothing more
        console.print(
            f"[green]panel up to date:[/] {build.panel_path} "
            "(sources, code and files unchanged; --force rebuilds)",
            soft_wrap=True,
        )
        return
    console.print(render_summary(build.manifest))
    console.print(f"panel: {build.panel_path}")


def render_summary(manifest: dict) -> Group:
    """Sources with checksums, periods, municipalities, outcomes with missingness."""
    from rich.console import Group
    from rich.table import Table

    src = Table(title="Sources (SHA-256 verified)")
    src.add_column("file")
    src.add_column("sha256")
    for file, sha in manifest["sources"].items():
        src.add_row(file, sha[:16] + "…")
    cov = Table(
        title=f"Panel: {manifest['municipalities']} municipalities (2023 boundaries), "
        f"years {manifest['years'][0]}-{manifest['years'][-1]}, "
        f"{manifest['rows']['panel']} rows"
    )
    longest = max((len(r["outcome"]) for r in manifest["coverage"]), default=7)
    cov.add_column("outcome", no_wrap=True, min_width=longest)  # full names, never cut
    for col in ("years", "municipalities", "missing cells"):
        cov.add_column(col)
    for row in manifest["coverage"]:
        years = row["years"]
        span = ", ".join(map(str, years)) if len(years) <= 4 else f"{years[0]}-{years[-1]}"
        cov.add_row(row["outcome"], span, str(row["municipalities"]), str(row["missing"]))
    foot = (
        f"built {manifest['built_at']} in {manifest['build_seconds']} s, "
        f"peak RSS {manifest['peak_rss_mb']} MB"
    )
    return Group(src, cov, foot)
