"""Read the built panel and covariates (``data/processed/``), nothing more: what a notebook
needs, without the build's imports (sources, geography, pandera validation)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proeftuin.core import settings
from proeftuin.core.errors import DataError


def load_panel(path: Path | None = None) -> pd.DataFrame:
    """The long panel (municipality, name, year, outcome, value, weight, ci_low, ci_high)."""
    path = path or settings.processed_dir() / "panel.parquet"
    if not path.is_file():
        raise DataError(f"{path}: panel not built yet (run `proeftuin data`)")
    return pd.read_parquet(path)


def load_covariates(path: Path | None = None) -> pd.DataFrame:
    """One row per 2023 municipality with baseline covariates and region codes."""
    path = path or settings.processed_dir() / "covariates.parquet"
    if not path.is_file():
        raise DataError(f"{path}: covariates not built yet (run `proeftuin data`)")
    return pd.read_parquet(path)
