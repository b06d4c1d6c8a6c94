"""``build_report``: generate and check the pages, then render with Quarto or write previews."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from proeftuin.errors import QuartoRequiredError
from proeftuin.report import facts, paths, render
from proeftuin.report.checks import page_problems, validate_pages
from proeftuin.report.pages import generate_pages
from proeftuin.report.previews import write_previews

REQUIRE_ENV = "REQUIRE_QUARTO"
QUARTO_HELP = (
    "Install Quarto from https://quarto.org/docs/get-started/ (puts `quarto` on PATH), "
    "or `pip install proeftuin[quarto]` (the quarto-cli package; needs network access)."
)


@dataclass
class ReportOutcome:
    """What :func:`build_report` produced."""

    rendered: bool
    message: str
    pages: list[Path] = field(default_factory=list)
    quarto: Path | None = None
    site_dir: Path | None = None
    pdf: Path | None = None
    previews_index: Path | None = None
    problems: list[str] = field(default_factory=list)


def quarto_required(value: bool | None) -> bool:
    """The explicit choice, else ``$REQUIRE_QUARTO``."""
    if value is not None:
        return value
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def not_rendered_message(reason: str, previews: Path) -> str:
    return (
        f"The Quarto report was NOT rendered: {reason}. "
        f"HTML previews of the executed notebooks are in {previews}. {QUARTO_HELP}"
    )


def build_report(*, require_quarto: bool | None = None) -> ReportOutcome:
    """Generate the pages, then render with Quarto if found, else write HTML previews.

    With ``require_quarto`` (default: ``$REQUIRE_QUARTO=1``) a missing Quarto or a page
    problem raises :class:`QuartoRequiredError` after the previews are written.
    """
    plan = facts.load_plan()
    pages = generate_pages(plan)
    problems = validate_pages(plan, pages)
    problems += page_problems(paths.reports_dir() / "full-report.qmd")
    quarto = render.find_quarto()
    if quarto is not None and not problems:
        site, pdf = render.render_quarto(quarto)
        message = f"Rendered the website to {site}" + (f" and the PDF {pdf}" if pdf else "")
        if pdf is None:
            message += "; the PDF was not produced (see Quarto's output)"
        return ReportOutcome(True, message, pages, quarto, site, pdf)
    reason = "Quarto was not found" if quarto is None else "the pages have problems"
    index = write_previews(not_rendered_message(reason, paths.previews_dir()))
    outcome = ReportOutcome(
        rendered=False,
        message=not_rendered_message(reason, index.parent),
        pages=pages,
        quarto=quarto,
        previews_index=index,
        problems=problems,
    )
    if quarto_required(require_quarto):
        raise QuartoRequiredError(f"{outcome.message} ({REQUIRE_ENV}=1 makes this an error)")
    return outcome
