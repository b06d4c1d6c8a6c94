"""Where the report's sources, generated files and outputs live (all under the project root)."""

from __future__ import annotations

from pathlib import Path

from proeftuin import settings

SYNTHESIS = "synthesis"
VALIDATION = "validation"
ROBUSTNESS_NOTEBOOK = "robustness_region"
GLOBAL_FOLDERS = (SYNTHESIS, VALIDATION)


def reports_dir() -> Path:
    return settings.project_root() / "reports"


def generated_dir() -> Path:
    return reports_dir() / "_generated"


def region_pages_dir() -> Path:
    return reports_dir() / "regions"


def previews_dir() -> Path:
    return reports_dir() / "previews"


def site_dir() -> Path:
    return settings.project_root() / "_site"


def templates_dir() -> Path:
    return reports_dir() / "templates"


def results_dir(folder: str = "") -> Path:
    """``reports/results`` or one task folder in it."""
    return settings.results_dir() / folder if folder else settings.results_dir()


def executed_notebook(folder: str, name: str) -> Path:
    return settings.executed_dir() / folder / f"{name}.ipynb"


def synthesis_notebook() -> Path:
    return executed_notebook(SYNTHESIS, SYNTHESIS)


def validation_notebook() -> Path:
    return executed_notebook(VALIDATION, VALIDATION)


def robustness_notebook(region: str) -> Path:
    return executed_notebook(region, ROBUSTNESS_NOTEBOOK)


def rel_root(path: Path) -> str:
    """A path relative to the project root (as given when it lies elsewhere)."""
    try:
        return path.relative_to(settings.project_root()).as_posix()
    except ValueError:
        return path.as_posix()
