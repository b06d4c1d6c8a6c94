"""``proeftuin estimate``: run one estimator on any long-format CSV panel, print JSON."""

from __future__ import annotations

import typer

app = typer.Typer(help="Estimate DiD or ITS on a CSV panel and print JSON.", no_args_is_help=True)
