"""Input checks shared by the estimators: every bad design fails early with one clear line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from proeftuin.core.errors import DesignError, InsufficientPrePeriod

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
    """The column as finite floats (or missing), else a DesignError naming the first bad
    value; an empty frame (a header-only file) is refused as such."""
    if data.empty:
        raise DesignError("the data have no rows (a header only?): nothing to estimate")
    series = data[column]
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return _finite(series.astype(float), column, role)
    converted = pd.to_numeric(series, errors="coerce")
    bad = series[converted.isna() & series.notna()]
    if len(bad):
        raise DesignError(
            f"{role} column '{column}' is not numeric (e.g. value {bad.iloc[0]!r} "
            f"in row {bad.index[0]})"
        )
    return _finite(converted.astype(float), column, role)


#: Larger values overflow the estimators' sums of squares (1e308 squared is infinite).
MAX_ABS = 1e150


def _finite(values: pd.Series, column: str, role: str) -> pd.Series:
    infinite = values[np.isinf(values.to_numpy())]
    if len(infinite):
        raise DesignError(
            f"{role} column '{column}' has {len(infinite)} infinite values (e.g. "
            f"{infinite.iloc[0]} in row {infinite.index[0]}): remove or recode them"
        )
    huge = values[values.abs() > MAX_ABS]
    if len(huge):
        raise DesignError(
            f"{role} column '{column}' has {len(huge)} values beyond ±{MAX_ABS:g} (e.g. "
            f"{huge.iloc[0]:g} in row {huge.index[0]}), too large to estimate with: rescale it"
        )
    return values


def require_varying(values: pd.Series, column: str) -> None:
    """Fail when the outcome takes one value only: no estimator can say anything then
    (a standard error of 0 and an interval [0, 0] are not a result)."""
    present = values.dropna()
    if len(present) and present.nunique() == 1:
        raise DesignError(
            f"outcome column '{column}' is {present.iloc[0]:g} in every row: nothing to estimate"
        )


def require_unique_rows(data: pd.DataFrame, keys: list[str]) -> None:
    """Fail when a key combination (unit-period, or period) occurs more than once."""
    dup = data.duplicated(subset=keys, keep=False)
    if dup.any():
        first = data.loc[dup, keys].iloc[0].to_dict()
        raise DesignError(
            f"duplicated rows: {int(dup.sum())} rows share their {' x '.join(keys)} "
            f"(first: {first})"
        )
