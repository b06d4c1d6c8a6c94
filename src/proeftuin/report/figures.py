"""Figures for pages: a Quarto embed of a labelled notebook cell, or a note why it is missing."""

from __future__ import annotations

import os
from pathlib import Path

from proeftuin.report.notebooks import notebook_labels
from proeftuin.report.tables import missing_note

RUN_HINT = "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."


def embed(page_dir: Path, notebook: Path, label: str) -> str:
    target = Path(os.path.relpath(notebook, page_dir)).as_posix()
    return f"{{{{< embed {target}#{label} >}}}}\n"


def figure_block(page_dir: Path, notebook: Path, label: str, why_missing: str = RUN_HINT) -> str:
    """An embed shortcode for a labelled figure, or a note saying why it is missing."""
    if label in notebook_labels(notebook):
        return embed(page_dir, notebook, label)
    return missing_note(f"Figure `{label}` from `{notebook.name}` is not available.", why_missing)


def why_missing(notebook: str, errors: dict[str, str]) -> str:
    """The failed task's error, else how to produce the missing output."""
    if notebook in errors:
        return f"The task failed: {errors[notebook]}"
    return RUN_HINT
