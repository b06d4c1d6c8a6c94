"""``proeftuin run``: execute the plan's notebooks with papermill."""

from __future__ import annotations

from typing import Annotated

import typer

JobsOption = Annotated[
    int | None, typer.Option("--jobs", "-j", help="Parallel processes (default: all cores).")
]


def run(jobs: JobsOption = None, exit_on_failure: bool = True) -> None:
    """Execute every task of the analysis plan."""
    raise NotImplementedError


def exit_if_failed() -> None:
    """Exit non-zero if the last run had failing tasks."""
