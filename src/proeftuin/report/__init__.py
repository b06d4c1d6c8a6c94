"""The evaluation report: pages generated from the plan, rendered by Quarto (or previewed).

How numbers and figures reach the report (the report never computes; it formats):

* **Figures** come from the executed notebooks. Website pages use Quarto's
  ``{{< embed notebook.ipynb#label >}}`` shortcode on the labelled cells
  (``fig-trends``, ``fig-event-study``, ``fig-its``, ``fig-forest``, ``fig-robustness``,
  ``fig-placebo``, ``fig-validation``); Quarto links each figure to a rendered copy of its
  notebook. The single PDF (``reports/full-report.qmd``, Typst) holds every page; because
  the sites share cell labels, the PDF uses the same figures extracted from the same
  notebook outputs under site-prefixed labels (``fig-<site>-event-study``) so that every
  cross-reference in it stays unique.
* **Tables and numbers** come from the results files (``reports/results``): they are read
  and formatted for readers (outcome labels and units, rounding by precision, one compact
  table per Triple Aim group) into generated include files ``reports/_generated/*.md``
  (gitignored) and into the generated region pages ``reports/regions/<site>.qmd``. Static
  pages (``reports/*.qmd``, committed) pull them in with ``{{< include >}}``. The CSV files
  themselves stay machine-readable and untouched.
* ``_quarto.yml`` disables execution (``execute: enabled: false``): Quarto never re-runs an
  analysis. Where a notebook or a result is missing, the page says so in a callout instead
  of failing the render.

Without Quarto, :func:`write_previews` converts each executed notebook to HTML (nbconvert,
no third-party scripts) under ``reports/previews/`` with an index linking every preview and
showing the results tables.

Modules, one job each:

========================  =====================================================
``paths``                 where sources, generated files and outputs live
``facts``                 the plan, the site registry, the outcome catalogue
``results``               reading results CSV/JSON and provenance records
``notebooks``             reading executed notebooks: labelled cells, images
``tables``                number formatting; tables as Markdown or HTML
``estimates``             reader-facing tables from the results files
``prose``                 pooled findings in plain words (English, Dutch)
``figures``               embed shortcodes, or notes for missing figures
``includes``              the generated include files of the static pages
``pages``                 the region pages; :func:`generate_pages`
``pdf``                   the single-document PDF source
``checks``                embeds, includes and cross-references validated
``previews``              nbconvert previews and their index
``render``                finding and running Quarto
``build``                 :func:`build_report`, tying it together
========================  =====================================================
"""

from __future__ import annotations

from proeftuin.report.build import (
    QUARTO_HELP,
    REQUIRE_ENV,
    QuartoRequiredError,
    ReportOutcome,
    build_report,
)
from proeftuin.report.checks import EMBED_RE, INCLUDE_RE, page_problems, validate_pages
from proeftuin.report.pages import STATIC_PAGES, generate_pages
from proeftuin.report.pdf import PDF_NAME, PDF_PAGES, split_front_matter
from proeftuin.report.previews import write_previews
from proeftuin.report.render import find_quarto

__all__ = [
    "EMBED_RE",
    "INCLUDE_RE",
    "PDF_NAME",
    "PDF_PAGES",
    "QUARTO_HELP",
    "REQUIRE_ENV",
    "STATIC_PAGES",
    "QuartoRequiredError",
    "ReportOutcome",
    "build_report",
    "find_quarto",
    "generate_pages",
    "page_problems",
    "split_front_matter",
    "validate_pages",
    "write_previews",
]
