"""``build_report``: generate the pages and the PDF source, check them (embeds, includes,
cross-references), then render them with Quarto (website, then the PDF into it) or, without
Quarto, write HTML previews: an index that answers the question first (key findings,
samenvatting) and shows the generated pages, and the executed notebooks without their code.

The single PDF (Typst) is ``reports/full-report.qmd``: every website page a chapter (its
title a level-1 heading, its headings below it, levels consecutive), site chapters rendered
for print and the include files as their print texts, figures as the files the notebooks
saved, under labels unique in the whole document (``fig-<site>-event-study``).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from html import escape
from importlib import util as import_util
from pathlib import Path
from typing import Any

import yaml

from proeftuin.core import settings
from proeftuin.core.errors import QuartoRequiredError
from proeftuin.report import inputs
from proeftuin.report import pages as pg
from proeftuin.report.estimates import render, word
from proeftuin.report.inputs import notebook_labels

LABEL_DEF_RE = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)")
XREF_RE = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")
FRONT_MATTER_RE = re.compile(r"^---\n(.*?)\n---\n", flags=re.DOTALL)
QMD_LINK_RE = re.compile(r"(?<!!)\[([^\]]+)\]\([^)\s]*\.qmd(?:#[^)\s]*)?\)")
HEADING_RE = re.compile(r"^(#{1,6}) ", flags=re.MULTILINE)
#: A Markdown figure; the previews inline one with alt text (the scorecard), leave out others.
FIGURE_RE = re.compile(r'!\[([^\]]*)\]\(([^)]*)\)(?:\{#([\w-]+) fig-alt="([^"]*)"\}|\{[^}]*\})?')
#: A script from another host (Quarto's notebook previews load jQuery and require.js for
#: widgets, which these notebooks have none of): removed with the inline jQuery shim that
#: calls require.js's ``define`` (a ReferenceError without it), so the site works offline.
FOREIGN_SCRIPT_RE = re.compile(r'<script[^>]*\bsrc="(?:https?:)?//[^"]*"[^>]*>\s*</script>\s*'
                               r"|<script[^>]*>define\('jquery', ?\[\], ?function\(\) ?\{return "
                               r"window\.jQuery;\}\)</script>\s*")  # fmt: skip
REQUIRE_ENV = "REQUIRE_QUARTO"
QUARTO_HELP = (
    "Install Quarto from https://quarto.org/docs/get-started/ (puts `quarto` on PATH), "
    "or `pip install proeftuin[quarto]` (the quarto-cli package; needs network access)."
)
PDF_PAGES = ("index", "synthesis", "methods", "data")
#: Pages printed after the body and the sites in detail, as appendices: technical material.
PDF_APPENDICES = ("robustness", "calibration", "glossary", "protocol", "reproducibility")
PDF_NAME = "proeftuin-report.pdf"


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


def generate_pages() -> list[Path]:
    """Write the include files, one page per site and the PDF source; list the pages.
    Everything is read from ``reports/results`` and ``reports/executed``."""
    runs, out = inputs.read_runs(), inputs.reports_dir("_generated")
    out.mkdir(parents=True, exist_ok=True)
    for name, text in pg.include_texts(runs).items():  # the website's include files
        (out / name).write_text(text, encoding="utf-8")
    static = [inputs.reports_dir() / f"{name}.qmd" for name in pg.STATIC_PAGES]
    pages = [p for p in static if p.is_file()] + pg.write_site_pages(runs)
    texts = pg.include_texts(runs, pdf=True)
    chapters = [static_chapter(inputs.reports_dir() / f"{p}.qmd", texts) for p in PDF_PAGES]
    chapters += [chapter(pg.site_page(s, runs, pdf=True), "Appendix: ")
                 for s in inputs.facts().sites]  # fmt: skip
    chapters += [static_chapter(inputs.reports_dir() / f"{p}.qmd", texts, "Appendix: ")
                 for p in PDF_APPENDICES]  # fmt: skip
    source = render("full-report.qmd.j2") + "\n\n".join(chapters)
    (inputs.reports_dir() / "full-report.qmd").write_text(source, encoding="utf-8")
    return pages


def build_report(*, require_quarto: bool | None = None, warning: str = "") -> ReportOutcome:
    """Generate the pages, then render with Quarto if found, else write HTML previews.

    With ``require_quarto`` (default: ``$REQUIRE_QUARTO=1``) a missing Quarto or a page
    problem raises :class:`QuartoRequiredError` after the previews are written. ``warning``
    (incomplete results) heads the previews index.
    """
    pages = generate_pages()
    problems = validate_pages(pages) + page_problems(inputs.reports_dir() / "full-report.qmd")
    quarto = find_quarto()
    if quarto is not None and not problems:
        site, pdf = render_quarto(quarto)
        made = f" and the PDF {pdf}" if pdf else "; the PDF was not produced (see Quarto's output)"
        return ReportOutcome(
            True, f"Rendered the website to {site}{made}", pages, quarto, site, pdf
        )
    reason = "Quarto was not found" if quarto is None else "the pages have problems"
    index = write_previews(warning, quarto is None)
    message = (f"The Quarto report was NOT rendered: {reason}. HTML previews of the executed "
               f"notebooks are in {index.parent}. {QUARTO_HELP}")  # fmt: skip
    outcome = ReportOutcome(False, message, pages, quarto, previews_index=index, problems=problems)
    if require_quarto is None:
        require_quarto = os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")
    if require_quarto:
        raise QuartoRequiredError(f"{outcome.message} ({REQUIRE_ENV}=1 makes this an error)")
    return outcome


def page_problems(page: Path) -> list[str]:
    """Embeds whose target is missing, includes not found, cross-references not defined."""
    raw, folder = page.read_text(encoding="utf-8"), page.parent  # one level of includes
    problems = [f"{page.name}: include {name} not found" for name in pg.INCLUDE_RE.findall(raw)
                if not (folder / name).is_file()]  # fmt: skip
    text = pg.INCLUDE_RE.sub(lambda m: (folder / m.group(1)).read_text(encoding="utf-8")
                             if (folder / m.group(1)).is_file() else "", raw)  # fmt: skip
    labels = set(LABEL_DEF_RE.findall(text))
    for target, label in pg.EMBED_RE.findall(text):
        found = notebook_labels(page.parent / target)
        labels |= set(found)
        if label not in found:
            problems.append(f"{page.name}: embed {target}#{label} not in an executed notebook")
    body = FRONT_MATTER_RE.sub("", text, count=1)
    for ref in XREF_RE.findall(re.sub(r"`[^`]*`", "", body)):
        if ref not in labels:
            problems.append(f"{page.name}: cross-reference @{ref} does not resolve")
    return problems


def validate_pages(pages: list[Path]) -> list[str]:
    """Every problem that would break the render, and sites of the snapshot without a page."""
    problems = [p for page in pages for p in page_problems(page)]
    names = {page.stem for page in pages if page.parent == inputs.reports_dir("sites")}
    return problems + [f"no page for site {s}" for s in inputs.sites() if s not in names]


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and body of a page."""
    found = FRONT_MATTER_RE.match(text)
    return (yaml.safe_load(found.group(1)) or {}, text[found.end() :]) if found else ({}, text)


def shift_headings(text: str, top: int) -> str:
    """Headings (outside code fences) moved so that the highest becomes level ``top`` and
    none is more than one level below the one before it."""
    lines, fenced, levels = text.splitlines(), False, {}
    for i, line in enumerate(lines):
        fenced = not fenced if line.startswith("```") else fenced
        if not fenced and (match := HEADING_RE.match(line)):
            levels[i] = len(match.group(1))
    lift, previous = min(levels.values(), default=top) - top, top - 1
    for i, level in levels.items():
        previous = max(top, min(level - lift, previous + 1))
        lines[i] = "#" * previous + lines[i][level:]
    return "\n".join(lines) + "\n"


def chapter(text: str, prefix: str = "") -> str:
    """A page as a chapter: its title a level-1 heading, its headings from level 2, links to
    other pages reduced to their text."""
    meta, body = split_front_matter(text)
    title = prefix + str(meta.get("title", "")).removesuffix(" appendix")
    return f"# {title}\n\n" + shift_headings(QMD_LINK_RE.sub(r"\1", body), 2)


def static_chapter(page: Path, texts: dict[str, str], prefix: str = "") -> str:
    """A static page for print: the includes as their print texts, embeds as saved files."""
    text = pg.INCLUDE_RE.sub(lambda m: texts.get(Path(m.group(1)).name, m.group(0)),
                             page.read_text(encoding="utf-8"))  # fmt: skip
    return chapter(pg.EMBED_RE.sub(lambda m: pg.figure(
        Path(m.group(1)).parent.name, Path(m.group(1)).stem, m.group(2),
        page_dir=inputs.reports_dir(), pdf=True), text), prefix)  # fmt: skip


def find_quarto() -> Path | None:
    """``quarto`` on PATH, beside this Python, or inside the quarto-cli package."""
    beside = str(Path(sys.executable).parent)
    if found := shutil.which("quarto") or shutil.which("quarto", path=beside):
        return Path(found)
    spec = import_util.find_spec("quarto_cli")  # the binary in quarto_cli/bin/
    folders = (spec.submodule_search_locations or []) if spec else []
    found = [Path(f) / "bin" / n for f in folders for n in ("quarto", "quarto.exe")]
    return next((c for c in found if c.is_file()), None)


def run_quarto(quarto: Path, *args: str) -> None:
    """Run Quarto in the project root; its last output lines in the error when it fails."""
    root = settings.project_root()
    result = subprocess.run([str(quarto), *args], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise RuntimeError(f"quarto {' '.join(args)} failed ({result.returncode}):\n{tail}")


def render_quarto(quarto: Path) -> tuple[Path, Path | None]:
    """Render the website, then the PDF into it (moved to ``_site/proeftuin-report.pdf``,
    wherever Quarto put it); a root ``index.html`` forwards to ``reports/index.html``."""
    run_quarto(quarto, "render", "--to", "html")
    run_quarto(quarto, "render", "reports/full-report.qmd", "--to", "typst")
    site, pdf = settings.project_root() / "_site", None
    for candidate in (site / "reports", inputs.reports_dir()):
        if (candidate / "full-report.pdf").is_file() and pdf is None:
            site.mkdir(parents=True, exist_ok=True)
            pdf = Path(shutil.move(candidate / "full-report.pdf", site / PDF_NAME))
    for page in site.rglob("*.html"):
        if (text := page.read_text("utf-8")) != (kept := FOREIGN_SCRIPT_RE.sub("", text)):
            page.write_text(kept, "utf-8")
    index = site / "index.html"
    if site.is_dir() and not index.exists() and (site / "reports" / "index.html").is_file():
        index.write_text(render("previews.html.j2", forward=True), encoding="utf-8")
    return site, pdf


def write_previews(warning: str = "", no_quarto: bool = True) -> Path:
    """HTML previews of every executed notebook (outputs only), and an index that answers
    the question first (key findings, samenvatting), then shows the generated pages."""
    out = inputs.reports_dir("previews")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    from nbconvert import HTMLExporter  # self-contained pages, no third-party scripts
    from nbformat import ValidationError as NbformatError

    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            template_file=str(inputs.reports_dir("templates", "preview.html.j2")),
                            exclude_output_prompt=True)  # fmt: skip
    notebooks: dict[str, list[tuple[str, str, str]]] = {}  # folder -> (href, title, file)
    found = settings.executed_dir().glob("*/*.ipynb")  # not hidden, partial or failed copies
    for notebook in sorted(p for p in found if not p.name.startswith((".", "_"))
                           and ".failed" not in p.name):  # fmt: skip
        href = f"{notebook.parent.name}/{notebook.stem}.html"
        try:
            (out / notebook.parent.name).mkdir(exist_ok=True)
            page = exporter.from_filename(str(notebook))[0]  # without internal staging paths:
            page = re.sub(r"<pre>[^<]*/\.staging/[^<]*</pre>", "<pre>(results written)</pre>", page)
            (out / href).write_text(page, encoding="utf-8")
        except (OSError, ValueError, NbformatError):  # being replaced by a run, or truncated
            continue  # (`report` says so: its SHA-256 is not the manifest's)
        title = word("notebooks", notebook.stem)
        notebooks.setdefault(notebook.parent.name, []).append((href, title, notebook.name))
    html = {p.stem: preview_html(p.read_text("utf-8")) for part in ("_generated", "sites")
            for p in inputs.reports_dir(part).glob("*.*md")}  # fmt: skip
    sites = sorted(set(notebooks) - set(inputs.GLOBAL_FOLDERS) | set(inputs.sites()))
    names = inputs.read_facts().site_names()  # as written: the template escapes them for HTML
    shown = [(s, names.get(s, s), names.get(s, s), html.get(s, "")) for s in sites]  # fmt: skip
    index = out / "index.html"
    index.write_text(render("previews.html.j2", forward=False, warning=warning, html=html,
                            no_quarto=no_quarto, notebooks=notebooks, sites=shown))  # fmt: skip
    return index


def preview_html(markdown: str) -> str:
    """A generated page's Markdown as HTML without Quarto: figures with alt text inlined, other
    figures (in the notebook previews) and Quarto's labels and fenced divs left out, headings
    from level 3 (under the section)."""
    from nbconvert.filters.markdown import markdown2html

    text = pg.EMBED_RE.sub("", FRONT_MATTER_RE.sub("", markdown, count=1))
    text = re.sub(r" ?\{#[^}]*\}|^:::.*$", "", FIGURE_RE.sub(preview_figure, text), flags=re.M)
    text = QMD_LINK_RE.sub(r"\1", text)  # pages Quarto did not render: keep the words only
    text = re.sub(r"^: (.+)$", r"*\1*", shift_headings(text, 3), flags=re.M)
    html = markdown2html(text).replace("<table>", "<div class='table-wrap'><table>")
    return html.replace("</table>", "</table></div>")


def preview_figure(match: re.Match[str]) -> str:
    """A figure with alt text as an HTML figure, its image inlined (the previews folder is
    served without the results beside it); ``""`` for any other figure or a missing file."""
    caption, src, label, alt = match.groups()
    path = inputs.reports_dir() / src
    if alt is None or not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure id='{label}'><img src='data:image/png;base64,{data}' "
            f"alt='{escape(alt, quote=True)}' style='max-width:100%'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>\n")  # fmt: skip
