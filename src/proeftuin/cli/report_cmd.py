"""``proeftuin report``: render the Quarto report (or HTML previews without Quarto)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

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
        console.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False)
        raise typer.Exit(code=1) from None
    for problem in outcome.problems:
        console.print(Text("problem: ", style="yellow") + Text(problem), highlight=False)
    style = "green" if outcome.rendered else "bold yellow"
    console.print(Text("report: ", style=style) + Text(outcome.message), highlight=False)
    console.print(Text(f"{len(outcome.pages)} pages generated."), highlight=False)
