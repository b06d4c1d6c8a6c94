"""Input checks shared by the estimators: every bad design fails early with one clear line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pandas as pd

from proeftuin.errors import DesignError, InsufficientPrePeriod

__all__ = ["DesignError", "InsufficientPrePeriod"]


def require_columns(data: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Fail on the first missing column, suggesting the closest existing name."""
    available = [str(c) for c in data.columns]
    for col in columns:
        if col is None or col in data.columns:
            continue
        close = difflib.get_close_matches(str(col), available, n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else f"; columns are {available}"
        raise DesignError(f"column '{col}' not found{hint}")


def require_numeric(data: pd.DataFrame, column: str, role: str) -> pd.Series:
    """The column as floats, or a DesignError naming the first non-numeric value."""
    series = data[column]
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series[converted.isna() & series.notna()]
    if len(bad):
        raise DesignError(
            f"{role} column '{column}' is not numeric (e.g. value {bad.iloc[0]!r} "
            f"in row {bad.index[0]})"
        )
    return converted.astype(float)


def require_unique_rows(data: pd.DataFrame, keys: list[str]) -> None:
    """Fail when a key combination (unit-period, or period) occurs more than once."""
    dup = data.duplicated(subset=keys, keep=False)
    if dup.any():
        first = data.loc[dup, keys].iloc[0].to_dict()
        raise DesignError(
            f"duplicated rows: {int(dup.sum())} rows share their {' x '.join(keys)} "
            f"(first: {first})"
        )
