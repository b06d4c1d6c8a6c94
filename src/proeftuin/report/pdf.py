"""The single PDF (Typst): every website page as a chapter of ``reports/full-report.qmd``.

Site chapters are the site template rendered for print, and the include files are their
print texts: figures are the files the notebooks saved beside their results, under labels
unique in the whole document (``fig-<site>-event-study``). A static page's own embed (a
figure of the synthesis or validation, unique already) becomes its saved file, same label.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from proeftuin.report import inputs
from proeftuin.report.estimates import render
from proeftuin.report.inputs import Runs
from proeftuin.report.pages import EMBED_RE, INCLUDE_RE, figure, robustness, site_page, validation

PDF_PAGES = ("index", "synthesis", "robustness", "methods", "data", "reproducibility")
PDF_NAME = "proeftuin-report.pdf"
QMD_LINK_RE = re.compile(r"\[([^\]]+)\]\((?:\.\./)?[\w/-]+\.qmd(?:#[\w-]+)?\)")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and body of a page."""
    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end() :]


def chapter(text: str) -> str:
    """A page as a chapter: its title a level-1 heading, every heading one level down
    (outside code fences), links to other pages reduced to their text."""
    meta, body = split_front_matter(text)
    out, fenced = [], False
    for line in QMD_LINK_RE.sub(r"\1", body).splitlines():
        fenced = not fenced if line.startswith("```") else fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return f"# {meta.get('title', '')}\n\n" + "\n".join(out) + "\n"


def static_chapter(page: Path, texts: dict[str, str]) -> str:
    """A static page for print: the includes with figures inlined as their print texts (the
    others left to Quarto), embeds as saved figure files."""

    def embed(match: re.Match[str]) -> str:
        notebook = Path(match.group(1))
        return figure(notebook.parent.name, notebook.stem, match.group(2),
                      page_dir=inputs.reports_dir(), pdf=True)  # fmt: skip

    text = INCLUDE_RE.sub(
        lambda m: texts.get(Path(m.group(1)).name, m.group(0)), page.read_text(encoding="utf-8")
    )
    return chapter(EMBED_RE.sub(embed, text))


def write_pdf_source(runs: Runs) -> Path:
    """``reports/full-report.qmd``: every page as one Typst document (gitignored)."""
    reports = inputs.reports_dir()
    texts = {"robustness.md": robustness(pdf=True), "validation.md": validation(pdf=True)}
    chapters = [static_chapter(reports / "index.qmd", texts)]
    chapters += [chapter(site_page(s, runs, pdf=True)) for s in inputs.sites()]
    chapters += [static_chapter(reports / f"{name}.qmd", texts) for name in PDF_PAGES[1:]]
    target = reports / "full-report.qmd"
    header = render("full-report.qmd.j2")
    target.write_text(header + "\n\n".join(chapters), encoding="utf-8")
    return target
