"""``proeftuin report``: render the Quarto report (or HTML previews without Quarto)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from proeftuin.cli.heartbeat import Heartbeat
from proeftuin.core.errors import ProeftuinError

RequireOption = Annotated[
    bool | None,
    typer.Option(
        "--require-quarto/--allow-previews",
        envvar="REQUIRE_QUARTO",
        help="Fail when Quarto is not found (default: $REQUIRE_QUARTO, else previews).",
        show_default=False,
    ),
]
AllowOption = Annotated[
    bool,
    typer.Option(
        "--allow-incomplete",
        help="Exit 0 even when results failed, are missing, or are from another plan.",
    ),
]


def report(require_quarto: RequireOption = None, allow_incomplete: AllowOption = False) -> None:
    """Render the evaluation report: website and PDF with Quarto, else notebook previews.

    Exits 1, after a warning, when the run manifest has failed or missing tasks or was
    made under another plan than analysis.yml (``--allow-incomplete`` accepts it)."""
    from proeftuin.report import build_report

    console = Console()
    problems = _results_problems()
    warning = "INCOMPLETE RESULTS: " + "; ".join(problems) if problems else ""
    console.print(
        "report: generating the pages; Quarto, when found, renders the website and "
        "the PDF (about a minute)",
        highlight=False,
    )
    beat = Heartbeat("report", "Quarto renders the website, then the PDF").start()
    try:
        outcome = build_report(require_quarto=require_quarto, warning=warning)
    finally:
        beat.stop()
    for problem in outcome.problems:
        console.print(Text("problem: ", style="yellow") + Text(problem), highlight=False)
    style = "green" if outcome.rendered else "bold yellow"
    console.print(Text("report: ", style=style) + Text(outcome.message), highlight=False)
    console.print(Text(f"{len(outcome.pages)} pages generated."), highlight=False)
    console.print(Text("open: ", style="bold") + Text(_to_open(outcome)), highlight=False)
    if answer := _answer():
        console.print(Text("answer: ", style="bold") + Text(answer), highlight=False)
    if problems:
        _warn(console, problems, allow_incomplete)
        if not allow_incomplete:
            raise typer.Exit(code=1)


def _to_open(outcome) -> str:  # noqa: ANN001 - report.ReportOutcome
    """The file a reader opens first."""
    if outcome.rendered and outcome.site_dir is not None:
        pdf = f"; the PDF: {outcome.pdf}" if outcome.pdf else ""
        return (f"{outcome.site_dir / 'index.html'} (for its search and menus serve it: "
                f"python3 -m http.server -d {outcome.site_dir}){pdf}")  # fmt: skip
    return str(outcome.previews_index)


def _answer() -> str:
    """The overview's one-line answer (``**In short.**`` of the generated answer), plain."""
    from proeftuin.report.inputs import reports_dir

    path = reports_dir("_generated", "answer.md")
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    found = next((line for line in lines if line.startswith("**In short.**")), "")
    return found.removeprefix("**In short.**").strip()


def _results_problems() -> list[str]:
    """The run manifest's problems, judged against the current analysis.yml."""
    from proeftuin.pipeline.results import results_problems

    try:  # the current analysis.yml, when there is one (a results folder alone has none)
        from proeftuin.pipeline.plan import load_plan

        plan_hash: str | None = load_plan().hash()
    except (ImportError, ProeftuinError, OSError):
        plan_hash = None
    return results_problems(plan_hash)


def _warn(console: Console, problems: list[str], allowed: bool) -> None:
    from rich.panel import Panel

    what = "accepted (--allow-incomplete)" if allowed else "--allow-incomplete accepts them"
    body = Text("\n").join(Text(f"• {p}") for p in problems)
    console.print(
        Panel(
            body,
            title=f"⚠ the report is built from INCOMPLETE results: {len(problems)} problems",
            subtitle=what,
            border_style="bold red",
            expand=False,
        )
    )
