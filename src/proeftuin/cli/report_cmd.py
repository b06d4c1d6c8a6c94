"""``proeftuin report``: render the Quarto report (or HTML previews without Quarto)."""

from __future__ import annotations


def report() -> None:
    """Render the evaluation report."""
    raise NotImplementedError
