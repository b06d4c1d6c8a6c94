"""The single PDF (Typst): every website page as a chapter of ``reports/full-report.qmd``.

Embeds become the same notebook figures, extracted to ``_generated/figures`` under labels
that are unique in the whole document (``fig-<site>-event-study``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import jinja2

from proeftuin.report import paths
from proeftuin.report.checks import EMBED_RE, INCLUDE_RE
from proeftuin.report.notebooks import cell_image, cell_options, notebook_labels
from proeftuin.report.tables import missing_note

PDF_PAGES = ("index", "synthesis", "robustness", "methods", "data", "reproducibility")
PDF_NAME = "proeftuin-report.pdf"
QMD_LINK_RE = re.compile(r"\[([^\]]+)\]\((?:\.\./)?[\w/-]+\.qmd(?:#[\w-]+)?\)")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and body of a page."""
    import yaml

    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end() :]


def demote(body: str) -> str:
    """Headings one level down, outside code fences (pages become chapters of the PDF)."""
    out, fenced = [], False
    for line in body.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(out) + "\n"


def pdf_label(prefix: str, notebook: Path, label: str) -> str:
    """A document-wide unique label: by page prefix, else by the notebook's site folder."""
    owner = prefix or ("" if notebook.parent.name in paths.GLOBAL_FOLDERS else notebook.parent.name)
    return f"fig-{owner}-{label.removeprefix('fig-')}" if owner else label


def pdf_body(page: Path, prefix: str) -> str:
    """A page as a PDF chapter: embeds become the same notebook figures under unique labels."""
    meta, body = split_front_matter(page.read_text(encoding="utf-8"))
    body = INCLUDE_RE.sub(lambda m: _include(page, m.group(1)), body)
    renamed: dict[str, str] = {}

    def embed(match: re.Match[str]) -> str:
        notebook = (page.parent / match.group(1)).resolve()
        label = match.group(2)
        renamed[label] = pdf_label(prefix, notebook, label)
        return extracted_figure(notebook, label, renamed[label])

    body = EMBED_RE.sub(embed, body)
    for old, new in renamed.items():
        body = re.sub(rf"@{re.escape(old)}\b(?!-)", f"@{new}", body)
    body = QMD_LINK_RE.sub(r"\1", body)
    title = str(meta.get("title", page.stem))
    return f"# {title}\n\n{demote(body)}"


def _include(page: Path, target: str) -> str:
    """Includes holding figure embeds are inlined (their figures need PDF labels);
    others stay includes, rebased to the PDF source's folder."""
    included = (page.parent / target).resolve()
    if included.is_file():
        text = included.read_text(encoding="utf-8")
        if EMBED_RE.search(text):
            return text
    path = os.path.relpath(included, paths.reports_dir().resolve())
    return f"{{{{< include {Path(path).as_posix()} >}}}}"


def extracted_figure(notebook: Path, label: str, new_label: str) -> str:
    """A notebook figure's image written to ``_generated/figures``, as a Markdown figure."""
    cell = notebook_labels(notebook).get(label)
    image = cell_image(cell) if cell else None
    if cell is None or image is None:
        return missing_note(f"Figure `{label}` from `{notebook.name}` is not available.", "")
    data, ext = image
    target = paths.generated_dir() / "figures" / f"{new_label}.{ext}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    caption = cell_options(cell).get("fig-cap", label)
    source = paths.rel_root(notebook)
    rel = target.relative_to(paths.reports_dir()).as_posix()
    return f"![{caption} (Source: `{source}`)]({rel}){{#{new_label}}}\n"


def write_pdf_source(plan: Any, env: jinja2.Environment) -> Path:
    """``reports/full-report.qmd``: every page as one Typst document (gitignored)."""
    reports = paths.reports_dir()
    chapters = [pdf_body(reports / "index.qmd", "")]
    chapters += [pdf_body(paths.region_pages_dir() / f"{r}.qmd", r) for r in plan.regions]
    chapters += [pdf_body(reports / f"{n}.qmd", "") for n in PDF_PAGES[1:]]
    header = env.get_template("full-report.qmd.j2").render()
    target = reports / "full-report.qmd"
    target.write_text(header + "\n\n".join(chapters), encoding="utf-8")
    return target
