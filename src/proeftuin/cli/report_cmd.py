"""``proeftuin report``: render the Quarto report (or HTML previews without Quarto)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

RequireOption = Annotated[
    bool | None,
    typer.Option(
        "--require-quarto/--allow-previews",
        envvar="REQUIRE_QUARTO",
        help="Fail when Quarto is not found (default: $REQUIRE_QUARTO, else previews).",
        show_default=False,
    ),
]


def report(require_quarto: RequireOption = None) -> None:
    """Render the evaluation report: website and PDF with Quarto, else notebook previews."""
    from proeftuin.report import QuartoRequiredError, build_report

    console = Console()
    try:
        outcome = build_report(require_quarto=require_quarto)
    except QuartoRequiredError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    for problem in outcome.problems:
        console.print(f"[yellow]problem:[/] {problem}", highlight=False)
    if outcome.rendered:
        console.print(f"[green]report:[/] {outcome.message}", highlight=False)
    else:
        console.print(f"[bold yellow]report:[/] {outcome.message}", highlight=False)
    console.print(f"{len(outcome.pages)} pages generated.", highlight=False)
