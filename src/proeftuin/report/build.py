"""``build_report``: generate the pages, check them (embeds, includes, cross-references),
then render them with Quarto (website, then the PDF into it) or, without Quarto, write HTML
previews of the executed notebooks and an index showing the generated pages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import util as import_util
from pathlib import Path

import jinja2

from proeftuin import settings
from proeftuin.errors import QuartoRequiredError
from proeftuin.report import inputs
from proeftuin.report.inputs import notebook_labels, site_name
from proeftuin.report.pages import (
    EMBED_RE,
    INCLUDE_RE,
    STATIC_PAGES,
    preview_figures,
    write_includes,
    write_site_pages,
)
from proeftuin.report.pdf import PDF_NAME, write_pdf_source

LABEL_DEF_RE = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)")
XREF_RE = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")
FRONT_MATTER_RE = re.compile(r"^---\n.*?\n---\n", flags=re.DOTALL)
QMD_LINK_RE = re.compile(r"(?<!!)\[([^\]]+)\]\([^)\s]*\.qmd(?:#[^)\s]*)?\)")
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


def generate_pages() -> list[Path]:
    """Write the include files, one page per site and the PDF source; list the pages.
    Everything is read from ``reports/results`` and ``reports/executed``."""
    runs = inputs.read_runs()
    write_includes(runs)
    static = [inputs.reports_dir() / f"{name}.qmd" for name in STATIC_PAGES]
    pages = [p for p in static if p.is_file()] + write_site_pages(runs)
    write_pdf_source(runs)
    return pages


def not_rendered_message(reason: str, previews: Path) -> str:
    return (
        f"The Quarto report was NOT rendered: {reason}. "
        f"HTML previews of the executed notebooks are in {previews}. {QUARTO_HELP}"
    )


def build_report(*, require_quarto: bool | None = None, warning: str = "") -> ReportOutcome:
    """Generate the pages, then render with Quarto if found, else write HTML previews.

    With ``require_quarto`` (default: ``$REQUIRE_QUARTO=1``) a missing Quarto or a page
    problem raises :class:`QuartoRequiredError` after the previews are written. ``warning``
    (incomplete results) heads the previews index.
    """
    pages = generate_pages()
    problems = validate_pages(pages)
    problems += page_problems(inputs.reports_dir() / "full-report.qmd")
    quarto = find_quarto()
    if quarto is not None and not problems:
        site, pdf = render_quarto(quarto)
        message = f"Rendered the website to {site}" + (f" and the PDF {pdf}" if pdf else "")
        if pdf is None:
            message += "; the PDF was not produced (see Quarto's output)"
        return ReportOutcome(True, message, pages, quarto, site, pdf)
    reason = "Quarto was not found" if quarto is None else "the pages have problems"
    notice = not_rendered_message(reason, inputs.reports_dir() / "previews")
    index = write_previews(f"{warning} {notice}" if warning else notice)
    message = not_rendered_message(reason, index.parent)
    outcome = ReportOutcome(False, message, pages, quarto, previews_index=index, problems=problems)
    if require_quarto is None:
        require_quarto = os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")
    if require_quarto:
        raise QuartoRequiredError(f"{outcome.message} ({REQUIRE_ENV}=1 makes this an error)")
    return outcome


# ----------------------------------------------------------------------------- checks


def page_problems(page: Path) -> list[str]:
    """Embeds whose target is missing, includes not found, cross-references not defined."""
    problems: list[str] = []

    def inline(match: re.Match[str]) -> str:  # one level of includes
        included = page.parent / match.group(1)
        if included.is_file():
            return included.read_text(encoding="utf-8")
        problems.append(f"{page.name}: include {match.group(1)} not found")
        return ""

    text = INCLUDE_RE.sub(inline, page.read_text(encoding="utf-8"))
    labels = set(LABEL_DEF_RE.findall(text))
    for target, label in EMBED_RE.findall(text):
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


# ----------------------------------------------------------------------------- Quarto


def find_quarto() -> Path | None:
    """``quarto`` on PATH, beside this Python, or inside the quarto-cli package."""
    name = "quarto.exe" if os.name == "nt" else "quarto"
    beside = Path(sys.executable).parent / name
    if shutil.which("quarto") or (beside.is_file() and os.access(beside, os.X_OK)):
        return Path(shutil.which("quarto") or beside)
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
    """Render the website, then the PDF into it; the site folder and the PDF."""
    run_quarto(quarto, "render", "--to", "html")
    run_quarto(quarto, "render", "reports/full-report.qmd", "--to", "typst")
    site = settings.project_root() / "_site"
    pdf = collect_pdf(site)
    ensure_site_index(site)
    return site, pdf


def collect_pdf(site: Path) -> Path | None:
    """Move the Typst PDF (wherever Quarto put it) to ``_site/proeftuin-report.pdf``."""
    for candidate in (site / "reports", inputs.reports_dir()):
        if (candidate / "full-report.pdf").is_file():
            site.mkdir(parents=True, exist_ok=True)
            return Path(shutil.move(candidate / "full-report.pdf", site / PDF_NAME))
    return None


def ensure_site_index(site: Path) -> None:
    """A root ``index.html`` that forwards to the report's home page (``reports/index.html``)."""
    index = site / "index.html"
    if site.is_dir() and not index.exists() and (site / "reports" / "index.html").is_file():
        index.write_text(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>proeftuin</title>"
            "<meta http-equiv='refresh' content='0; url=reports/index.html'></head><body>"
            "<a href='reports/index.html'>Open the report</a></body></html>",
            encoding="utf-8",
        )


# ----------------------------------------------------------------------------- previews

NOTEBOOK_TITLES = {
    "did_site": "Difference-in-differences",
    "its_site": "Interrupted time series",
    inputs.ROBUSTNESS: "Robustness checks",
    inputs.SYNTHESIS: "Synthesis across the sites",
    inputs.VALIDATION: "Validation against published results",
}


def executed_notebooks() -> list[Path]:
    """Executed notebooks, without the hidden files of a run still in progress and without
    the copies of failed executions (``*.failed.ipynb``), which are not results."""
    found = settings.executed_dir().glob("*/*.ipynb")
    return sorted(p for p in found if not p.name.startswith((".", "_")) and ".failed" not in p.name)


def write_previews(message: str = "") -> Path:
    """HTML previews of every executed notebook, and an index linking them that shows the
    generated pages' Markdown (synthesis, each site's page and robustness, validation)."""
    out = inputs.reports_dir() / "previews"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    from nbconvert import HTMLExporter  # self-contained pages, no third-party scripts

    template = str(inputs.reports_dir("templates") / "preview.html.j2")
    exporter = HTMLExporter(template_name="lab", template_file=template)
    notebooks: dict[str, list[tuple[str, str, str]]] = {}  # folder -> (href, title, file)
    for notebook in executed_notebooks():
        href = f"{notebook.parent.name}/{notebook.stem}.html"
        try:
            (out / notebook.parent.name).mkdir(exist_ok=True)
            (out / href).write_text(exporter.from_filename(str(notebook))[0], encoding="utf-8")
        except FileNotFoundError:  # replaced by a run in progress: leave it out
            continue
        title = NOTEBOOK_TITLES.get(notebook.stem, notebook.stem)
        notebooks.setdefault(notebook.parent.name, []).append((href, title, notebook.name))
    generated, pages_dir = inputs.reports_dir("_generated"), inputs.reports_dir("sites")
    sites = sorted(set(notebooks) - set(inputs.GLOBAL_FOLDERS) | set(inputs.sites()))
    sections = [
        (inputs.SYNTHESIS, "Synthesis across the sites", "Synthesis",
         [generated / "pooled.md", generated / "scorecard.md"]),
        *[(s, site_name(s), site_name(s), [pages_dir / f"{s}.qmd"]) for s in sites],
        ("robustness", "Robustness checks", "Robustness", [generated / "robustness.md"]),
        (inputs.VALIDATION, "Validation", "Validation", [generated / "validation.md"]),
    ]  # fmt: skip
    shown = [
        {"id": folder, "title": title, "short": short,
         "html": "".join(preview_html(p.read_text(encoding="utf-8")) for p in pages if p.is_file())}
        for folder, title, short, pages in sections
    ]  # fmt: skip
    loader = jinja2.FileSystemLoader(inputs.reports_dir("templates"))
    page = jinja2.Environment(loader=loader, autoescape=True).get_template("previews.html.j2")
    index = out / "index.html"
    index.write_text(page.render(message=message, notebooks=notebooks, sections=shown))
    return index


def preview_html(markdown: str) -> str:
    """A generated page's Markdown as HTML without Quarto: figures (in the notebook previews)
    and Quarto's labels and fenced divs left out, headings one level down."""
    from nbconvert.filters.markdown import markdown2html

    text = EMBED_RE.sub("", FRONT_MATTER_RE.sub("", preview_figures(markdown), count=1))
    text = re.sub(r" ?\{#[\w-]+\}|^:::.*$", "", text, flags=re.MULTILINE)
    text = QMD_LINK_RE.sub(r"\1", text)  # pages Quarto did not render: keep the words only
    text = re.sub(
        r"^: (.+)$", r"*\1*", re.sub(r"^(#{1,5}) ", r"#\1 ", text, flags=re.M), flags=re.M
    )
    html = markdown2html(text).replace("<table>", "<div class='table-wrap'><table>")
    return html.replace("</table>", "</table></div>")
