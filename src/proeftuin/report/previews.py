"""The report without Quarto: HTML previews of the executed notebooks (nbconvert, no
third-party scripts) and an index linking them, with the results as readable tables."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from proeftuin import settings
from proeftuin.report import facts, paths
from proeftuin.report.estimates import (
    did_tables,
    its_tables,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.results import read_csv, region_rows

NOTEBOOK_TITLES = {
    "did_region": "Difference-in-differences",
    "its_region": "Interrupted time series",
    paths.ROBUSTNESS_NOTEBOOK: "Robustness checks",
    paths.SYNTHESIS: "Synthesis across the sites",
    paths.VALIDATION: "Validation against published results",
}
PREVIEW_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,sans-serif;max-width:78rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.5;overflow-wrap:break-word}
h2{margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
h2 small{font-weight:normal;color:#555;font-size:.9rem}
h3{margin-bottom:.3rem}
.table-wrap{max-width:100%;overflow-x:auto;margin:.6rem 0 1.2rem}
table{border-collapse:collapse;font-size:.85rem;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-size:.85rem;color:#333;padding:.2rem 0;
font-style:italic}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#eef2f7;font-weight:600}
td.num{text-align:right;white-space:nowrap}
th.num{text-align:right}
td:first-child{min-width:12rem}
tbody tr:nth-child(even){background:#fafafa}
.table-notes{font-size:.8rem;color:#444;margin:.2rem 0}
.notice{border-left:.3rem solid #b35900;background:#fff4e5;padding:.5rem 1rem}
.empty{color:#555;font-style:italic}
nav.contents{background:#f5f7fa;padding:.5rem 1rem;border-radius:.3rem}
nav.contents a{margin-right:1rem;white-space:nowrap}
code{background:#f3f3f3;padding:0 .2rem}
a{color:#0072B2}
"""


def notebook_to_html(notebook: Path, target: Path) -> None:
    """One executed notebook as a self-contained HTML page."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", template_file=str(paths.templates_dir() / "preview.html.j2")
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
    out = paths.previews_dir()
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
    sites = sorted(set(links) - set(paths.GLOBAL_FOLDERS))
    sections = [
        _section(paths.SYNTHESIS, "Synthesis across the sites", links, _synthesis_tables()),
        *[_section(s, facts.site_name(s), links, _site_tables(s), s) for s in sites],
        _section(paths.VALIDATION, "Validation", links, _validation_tables()),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        "<title>proeftuin: notebook previews</title><link rel='icon' href='data:,'>",
        f"<style>{PREVIEW_CSS}</style></head><body>",
        "<h1>Pioneer sites evaluation: notebook previews</h1>",
        f"<p class='notice'>{html.escape(message)}</p>" if message else "",
        "<p>Costs: Bron: Vektis. CBS data: CC BY 4.0.</p>",
    ]
    if not links:
        parts.append("<p>No executed notebooks yet: run <code>proeftuin run</code>.</p>")
    parts.append(_contents([paths.SYNTHESIS, *sites, paths.VALIDATION], links))
    parts += [s for s in sections if s]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _contents(folders: list[str], links: dict[str, list[str]]) -> str:
    names = {paths.SYNTHESIS: "Synthesis", paths.VALIDATION: "Validation"}
    items = [
        f"<a href='#{html.escape(f)}'>{html.escape(names.get(f) or facts.site_name(f))}</a>"
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
        ("Difference-in-differences", did_tables(region_rows(region, "did_estimates.csv"), "")),
        ("Interrupted time series", its_tables(region_rows(region, "its_estimates.csv"), "")),
        ("Robustness", robustness_tables(region_rows(region, "robustness.csv"), region)),
    ):
        if tables:
            parts.append(f"<h3>{heading}</h3>" + tables.html())
    return "\n".join(parts)


def _synthesis_tables() -> str:
    pooled = pooled_table(region_rows(paths.SYNTHESIS, "pooled.csv")).html()
    scorecard = scorecard_table(region_rows(paths.SYNTHESIS, "scorecard.csv")).html()
    return pooled + scorecard


def _validation_tables() -> str:
    path = paths.results_dir(paths.VALIDATION) / "validation.csv"
    return validation_table(read_csv(path)).html()
