"""The evaluation report: Quarto pages generated from a results folder, rendered by Quarto
(website and a Typst PDF) or previewed as HTML without it.

The report reads, never computes: it needs only ``reports/results`` (the facts snapshot
``facts.json``, the results tables, the provenance records, the saved figures) and
``reports/executed`` (the executed notebooks), never the plan, the registry, the outcome
catalogue or the panel. Static pages (``reports/*.qmd``) pull generated include files
(``reports/_generated/*.md``) in; each site gets a generated page (``reports/sites/``).
``_quarto.yml`` disables execution: Quarto never re-runs an analysis.
Modules, bottom up: ``inputs``, ``tables``, ``estimates``, ``pages``, ``build``.
"""

from __future__ import annotations

from proeftuin.report.build import (
    PDF_APPENDICES,
    PDF_NAME,
    PDF_PAGES,
    REQUIRE_ENV,
    QuartoRequiredError,
    build_report,
    find_quarto,
    generate_pages,
    page_problems,
    split_front_matter,
    validate_pages,
)
from proeftuin.report.pages import EMBED_RE, INCLUDE_RE, STATIC_PAGES

__all__ = [
    "EMBED_RE", "INCLUDE_RE", "PDF_APPENDICES", "PDF_NAME", "PDF_PAGES", "REQUIRE_ENV",
    "STATIC_PAGES", "QuartoRequiredError", "build_report", "find_quarto", "generate_pages",
    "page_problems", "split_front_matter", "validate_pages",
]  # fmt: skip
