"""Finding Quarto and running it: the website, then the PDF into the website's folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import util as import_util
from pathlib import Path

from proeftuin import settings
from proeftuin.report import paths
from proeftuin.report.pdf import PDF_NAME


def find_quarto() -> Path | None:
    """``quarto`` on PATH, beside this Python, or inside the quarto-cli package."""
    found = shutil.which("quarto")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / ("quarto.exe" if os.name == "nt" else "quarto")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    return quarto_cli_binary()


def quarto_cli_binary() -> Path | None:
    """The binary shipped in the quarto-cli Python package (``quarto_cli/bin/quarto``)."""
    spec = import_util.find_spec("quarto_cli")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / "bin" / "quarto", Path(folder) / "bin" / "quarto.exe"):
            if candidate.is_file():
                return candidate
    return None


def run_quarto(quarto: Path, *args: str) -> None:
    """Run Quarto in the project root; its last output lines in the error when it fails."""
    result = subprocess.run(
        [str(quarto), *args],
        cwd=settings.project_root(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise RuntimeError(f"quarto {' '.join(args)} failed ({result.returncode}):\n{tail}")


def render_quarto(quarto: Path) -> tuple[Path, Path | None]:
    """Render the website, then the PDF into it; the site folder and the PDF."""
    run_quarto(quarto, "render", "--to", "html")
    run_quarto(quarto, "render", "reports/full-report.qmd", "--to", "typst")
    site = paths.site_dir()
    pdf = collect_pdf(site)
    ensure_site_index(site)
    return site, pdf


def collect_pdf(site: Path) -> Path | None:
    """Move the Typst PDF (wherever Quarto put it) to ``_site/proeftuin-report.pdf``."""
    for candidate in (
        site / "reports" / "full-report.pdf",
        paths.reports_dir() / "full-report.pdf",
    ):
        if candidate.is_file():
            target = site / PDF_NAME
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(candidate), target)
            return target
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
