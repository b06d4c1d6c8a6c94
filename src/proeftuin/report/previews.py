"""The report without Quarto: HTML previews of the executed notebooks (nbconvert, no
third-party scripts) and an index linking them, with the results as readable tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2

from proeftuin import settings
from proeftuin.report import inputs
from proeftuin.report.estimates import (
    Tables,
    did_tables,
    its_tables,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.inputs import rows, site_name
from proeftuin.report.tables import Table

NOTEBOOK_TITLES = {
    "did_region": "Difference-in-differences",
    "its_region": "Interrupted time series",
    inputs.ROBUSTNESS: "Robustness checks",
    inputs.SYNTHESIS: "Synthesis across the sites",
    inputs.VALIDATION: "Validation against published results",
}


def notebook_to_html(notebook: Path, target: Path) -> None:
    """One executed notebook as a self-contained HTML page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", template_file=str(inputs.templates_dir() / "preview.html.j2")
    )
    body, _ = exporter.from_filename(str(notebook))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def executed_notebooks() -> list[Path]:
    """Executed notebooks, without the hidden files of a run still in progress."""
    found = settings.executed_dir().glob("*/*.ipynb")
    return sorted(p for p in found if not p.name.startswith((".", "_")))


def write_previews(message: str = "") -> Path:
    """HTML previews of every executed notebook and an index linking them; the index path."""
    out = inputs.reports_dir() / "previews"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    notebooks: dict[str, list[tuple[str, str, str]]] = {}  # folder -> (href, title, file)
    for notebook in executed_notebooks():
        href = f"{notebook.parent.name}/{notebook.stem}.html"
        try:
            notebook_to_html(notebook, out / href)
        except FileNotFoundError:  # replaced by a run in progress: leave it out
            continue
        title = NOTEBOOK_TITLES.get(notebook.stem, notebook.stem)
        notebooks.setdefault(notebook.parent.name, []).append((href, title, notebook.name))
    sites = sorted(set(notebooks) - set(inputs.GLOBAL_FOLDERS))
    pooled = pooled_table(rows(inputs.SYNTHESIS, "pooled.csv"))
    scorecard = scorecard_table(rows(inputs.SYNTHESIS, "scorecard.csv"))
    validation = validation_table(rows(inputs.VALIDATION, "validation.csv"))
    sections = [
        section(inputs.SYNTHESIS, "Synthesis across the sites", "Synthesis",
                ("", pooled), ("", scorecard)),
        *[section(s, site_name(s), site_name(s),
                  ("Difference-in-differences", did_tables(rows(s, "did_estimates.csv"), "")),
                  ("Interrupted time series", its_tables(rows(s, "its_estimates.csv"), "")),
                  ("Robustness", robustness_tables(rows(s, "robustness.csv"), s)))
          for s in sites],
        section(inputs.VALIDATION, "Validation", "Validation", ("", validation)),
    ]  # fmt: skip
    loader = jinja2.FileSystemLoader(inputs.templates_dir())
    page = jinja2.Environment(loader=loader, autoescape=True).get_template("previews.html.j2")
    index = out / "index.html"
    index.write_text(page.render(message=message, notebooks=notebooks, sections=sections))
    return index


def section(folder: str, title: str, short: str, *tables: tuple[str, Table | Tables]) -> dict:
    """One folder of the index: its notebooks' links, then its tables as HTML."""
    shown = [(heading, t.html()) for heading, t in tables if t]
    return {"id": folder, "title": title, "short": short, "tables": shown}
