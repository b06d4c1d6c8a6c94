"""The report without Quarto: HTML previews of the executed notebooks (nbconvert, no
third-party scripts) and an index linking them, with the results as readable tables."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from proeftuin import settings
from proeftuin.report import inputs
from proeftuin.report.estimates import (
    did_tables,
    its_tables,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.inputs import read_csv, rows, site_name

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
    links: dict[str, list[str]] = {}
    for notebook in executed_notebooks():
        folder = notebook.parent.name
        rel = f"{folder}/{notebook.stem}.html"
        try:
            notebook_to_html(notebook, out / rel)
        except FileNotFoundError:  # replaced by a run in progress: leave it out
            continue
        links.setdefault(folder, []).append(notebook_link(rel, notebook))
    index = out / "index.html"
    index.write_text(preview_index(links, message), encoding="utf-8")
    return index


def notebook_link(rel: str, notebook: Path) -> str:
    title = NOTEBOOK_TITLES.get(notebook.stem, notebook.stem)
    return (
        f'<li><a href="{html.escape(rel)}">{html.escape(title)}</a> '
        f"<code>{html.escape(notebook.name)}</code></li>"
    )


# ----------------------------------------------------------------------------- the index


def preview_index(links: dict[str, list[str]], message: str) -> str:
    """The index page: notice, contents, the synthesis, each site, the validation."""
    sites = sorted(set(links) - set(inputs.GLOBAL_FOLDERS))
    sections = [
        _section(inputs.SYNTHESIS, "Synthesis across the sites", links, _synthesis_tables()),
        *[_section(s, site_name(s), links, _site_tables(s), s) for s in sites],
        _section(inputs.VALIDATION, "Validation", links, _validation_tables()),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>proeftuin: notebook previews</title><link rel='icon' href='data:,'>",
        f"<style>{(inputs.templates_dir() / 'previews.css').read_text()}</style></head><body>",
        "<h1>Pioneer sites evaluation: notebook previews</h1>",
        f"<p class='notice'>{html.escape(message)}</p>" if message else "",
        "<p>Costs: Bron: Vektis. CBS data: CC BY 4.0.</p>",
    ]
    if not links:
        parts.append("<p>No executed notebooks yet: run <code>proeftuin run</code>.</p>")
    parts.append(_contents([inputs.SYNTHESIS, *sites, inputs.VALIDATION], links))
    parts += [s for s in sections if s]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _contents(folders: list[str], links: dict[str, list[str]]) -> str:
    names = {inputs.SYNTHESIS: "Synthesis", inputs.VALIDATION: "Validation"}
    items = [
        f"<a href='#{html.escape(f)}'>{html.escape(names.get(f) or site_name(f))}</a>"
        for f in folders
        if f in links or f in names
    ]
    return f"<nav class='contents'><strong>Contents:</strong> {' '.join(items)}</nav>"


def _section(folder: str, title: str, links: dict[str, list[str]], body: str, sid: str = "") -> str:
    """A heading, the notebook links and the tables of one folder (empty if nothing)."""
    notebooks = links.get(folder, [])
    if not notebooks and not body:
        body = "<p class='empty'>Not available yet: run <code>proeftuin run</code>.</p>"
    small = f" <small>{html.escape(sid)}</small>" if sid and sid != title else ""
    parts = [f"<h2 id='{html.escape(folder)}'>{html.escape(title)}{small}</h2>"]
    if notebooks:
        parts.append(f"<p>Executed notebooks:</p><ul>{''.join(notebooks)}</ul>")
    parts.append(body)
    return "\n".join(p for p in parts if p)


def _site_tables(region: str) -> str:
    parts = []
    for heading, tables in (
        ("Difference-in-differences", did_tables(rows(region, "did_estimates.csv"), "")),
        ("Interrupted time series", its_tables(rows(region, "its_estimates.csv"), "")),
        ("Robustness", robustness_tables(rows(region, "robustness.csv"), region)),
    ):
        if tables:
            parts.append(f"<h3>{heading}</h3>" + tables.html())
    return "\n".join(parts)


def _synthesis_tables() -> str:
    pooled = pooled_table(rows(inputs.SYNTHESIS, "pooled.csv")).html()
    scorecard = scorecard_table(rows(inputs.SYNTHESIS, "scorecard.csv")).html()
    return pooled + scorecard


def _validation_tables() -> str:
    path = inputs.results_dir(inputs.VALIDATION) / "validation.csv"
    return validation_table(read_csv(path)).html()
