"""Panel preparation for the difference-in-differences estimators.

``prepare_panel`` validates a long unit x period frame and returns a :class:`Panel` in
standard columns; the small helpers below (fixed-effect codes, the residual maker,
counts) are shared by every estimator and inference method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import (
    DesignError,
    InsufficientPrePeriod,
    require_columns,
    require_numeric,
    require_unique_rows,
    require_varying,
)
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import InferenceResult


@dataclass
class Panel:
    """A validated panel with standard column names: unit, time, y, g, d, cl, w, x0..xk."""

    df: pd.DataFrame
    covariates: list[str]
    has_weights: bool
    diagnostics: dict = field(default_factory=dict)
    placebo_group: str | None = None  # source column name; codes in df["pgrp"] (-1 = none)

    @property
    def times(self) -> np.ndarray:
        return np.sort(self.df["time"].unique())

    def unit_table(self) -> pd.DataFrame:
        return self.df.groupby("unit", sort=True).agg(g=("g", "first"), cl=("cl", "first"))


def _first_treated_from_indicator(df: pd.DataFrame, col: str) -> pd.Series:
    d = df["_d_in"]
    bad = ~d.isin([0.0, 1.0])
    if bad.any():
        raise DesignError(f"treatment column '{col}' must be 0/1 (found {d[bad].iloc[0]!r})")
    if d.nunique() == 1:
        raise DesignError(
            f"treatment never changes: column '{col}' is {int(d.iloc[0])} in every row"
        )
    start = df.loc[d == 1].groupby("unit")["time"].min()
    g = df["unit"].map(start).fillna(0.0)
    if not np.array_equal((df["time"] >= g) & (g > 0), d == 1):
        raise DesignError(
            f"treatment column '{col}' switches off again; only absorbing "
            "(staggered) treatment is supported"
        )
    return g


def _first_treated_from_column(df: pd.DataFrame, col: str) -> pd.Series:
    g = require_numeric(df, col, "first-treated").fillna(0.0)
    if (g.groupby(df["unit"]).nunique() > 1).any():
        raise DesignError(f"first-treated column '{col}' varies within a unit")
    if not (g > 0).any():
        raise DesignError(f"no treated units: column '{col}' is 0 or missing for every unit")
    return g


def _check_timing(df: pd.DataFrame, col: str, diagnostics: dict) -> pd.DataFrame:
    tmin, tmax = df["time"].min(), df["time"].max()
    late = df["g"] > tmax
    if late.any():
        diagnostics["treated_after_panel"] = int(df.loc[late, "unit"].nunique())
        df.loc[late, "g"] = 0.0
    if not (df["g"] > 0).any():
        raise DesignError(f"no treated units: nobody in '{col}' is treated within the panel")
    always = (df["g"] > 0) & (df["g"] <= tmin)
    if always.all() or (always | (df["g"] == 0)).all() and always.any():
        raise InsufficientPrePeriod(
            f"no pre-period: every treated unit is treated from the first period ({tmin:g})"
        )
    if always.any():
        diagnostics["dropped_always_treated"] = int(df.loc[always, "unit"].nunique())
        df = df.loc[~always].copy()
    if not (df["g"] == 0).any() and df.loc[df["g"] > 0, "g"].nunique() == 1:
        raise DesignError("no comparison units: every unit is treated at the same time")
    return df


def _missing_by_column(
    df: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    cluster: str | None,
    weights: str | None,
    covariates: Sequence[str],
    treated: str | None,
) -> dict[str, int]:
    """Missing values per source column, by the user's column names (first-treated
    values that are missing mean never treated and are not counted)."""
    names = {"unit": unit, "time": time, "y": outcome, "cl": cluster, "w": weights}
    names.update({f"x{i}": c for i, c in enumerate(covariates)})
    if treated:
        names["_d_in"] = treated
    counts = {}
    for col, name in names.items():
        if col in df and name and (n := int(df[col].isna().sum())):
            counts[name] = counts.get(name, 0) + n
    return counts


def prepare_panel(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None,
    first_treated: str | None,
    cluster: str | None,
    weights: str | None,
    covariates: Sequence[str],
    placebo_group: str | None = None,
) -> Panel:
    """Validate the input and return the panel in standard columns (see :class:`Panel`)."""
    if (treated is None) == (first_treated is None):
        raise DesignError(
            "give exactly one of --treated (0/1 indicator) or --first-treated (start period)"
        )
    require_columns(
        data,
        [unit, time, outcome, treated, first_treated, cluster, weights, placebo_group, *covariates],
    )
    require_unique_rows(data, [unit, time])
    df = pd.DataFrame(
        {"unit": data[unit].to_numpy(), "time": require_numeric(data, time, "time").to_numpy()}
    )
    df["y"] = require_numeric(data, outcome, "outcome").to_numpy()
    require_varying(df["y"], outcome)
    df["cl"] = data[cluster if cluster else unit].to_numpy()
    df["w"] = require_numeric(data, weights, "weights").to_numpy() if weights else 1.0
    for i, c in enumerate(covariates):
        df[f"x{i}"] = require_numeric(data, c, "covariate").to_numpy()
    if placebo_group:
        df["pgrp"] = pd.factorize(data[placebo_group])[0]
        if (df.groupby("unit")["pgrp"].nunique() > 1).any():
            raise DesignError(f"placebo group column '{placebo_group}' varies within a unit")
    if treated:
        df["_d_in"] = require_numeric(data, treated, "treatment").to_numpy()
    else:
        df["g"] = _first_treated_from_column(
            data.assign(unit=df["unit"].to_numpy()), first_treated
        ).to_numpy()
    n0 = len(df)
    missing = _missing_by_column(df, unit, time, outcome, cluster, weights, covariates, treated)
    df = df.dropna().reset_index(drop=True)
    diagnostics: dict = {"dropped_missing_rows": n0 - len(df)}
    if missing:
        diagnostics["missing_by_column"] = missing
    if df.empty:
        raise DesignError(f"no complete rows: outcome '{outcome}' or another column is all missing")
    if (df["w"] < 0).any():
        raise DesignError(f"weights column '{weights}' has negative values")
    zero = df["w"] == 0
    if zero.any():
        diagnostics["dropped_zero_weight_rows"] = int(zero.sum())
        df = df.loc[~zero].reset_index(drop=True)
        treated_left = df["_d_in"].eq(1).any() if treated else df["g"].gt(0).any()
        if df.empty or not treated_left:
            raise DesignError(f"weights column '{weights}' is zero for every treated unit")
    if treated:
        df["g"] = _first_treated_from_indicator(df, treated).to_numpy()
        df = df.drop(columns="_d_in")
    df = _check_timing(df, treated or first_treated or "", diagnostics)
    df["d"] = ((df["g"] > 0) & (df["time"] >= df["g"])).astype(float)
    xs = [f"x{i}" for i in range(len(covariates))]
    return Panel(
        df.sort_values(["unit", "time"]).reset_index(drop=True),
        xs,
        weights is not None,
        diagnostics,
        placebo_group,
    )


def fe_codes(df: pd.DataFrame, fe: Sequence[str]) -> np.ndarray:
    return np.column_stack([pd.factorize(df[c])[0] for c in fe]).astype(np.uint64)


def residualizer(panel: Panel) -> inf.Residualizer:
    xs = panel.df[panel.covariates].to_numpy(dtype=float) if panel.covariates else None
    return inf.Residualizer(fe_codes(panel.df, ["unit", "time"]), panel.df["w"].to_numpy(), xs)


def treated_clusters(panel: Panel) -> int:
    return int(panel.df.loc[panel.df["g"] > 0, "cl"].nunique())


def panel_counts(panel: Panel) -> dict:
    df = panel.df
    return {
        "n_units": int(df["unit"].nunique()),
        "n_treated_units": int(df.loc[df["g"] > 0, "unit"].nunique()),
        "n_periods": int(df["time"].nunique()),
    }


# --- what an estimator hands to the inference methods ------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """What every estimator and inference method needs besides the panel."""

    method: str
    control_group: str
    inference: list[str]  # normalised inference methods
    draws: int
    seed: int | np.random.SeedSequence  # each method draws from its own stream of it
    event_study: bool
    ref_period: int
    alpha: float


@dataclass
class Fit:
    """A point estimate and what the inference methods and the result object need of it.

    ``panel`` is the panel the estimate comes from (collapsed for the 2x2); ``point``
    re-estimates under a placebo first-treated value per row (RI by re-estimation); ``psi``
    and ``unit_clusters`` are the influence function and cluster of each unit
    (Callaway-Sant'Anna); ``cache`` holds what methods share (the wild bootstrap's
    projection, the RI placebo draws). ``result`` holds the extra fields of the result
    object; ``finish`` completes them once the inference methods have run (the RI pre-trend
    test reuses the RI draws).
    """

    panel: Panel
    estimate: float
    se: float
    n_clusters: int
    n_treated_clusters: int
    diagnostics: dict
    point: Callable[[np.ndarray], float] | None = None
    psi: np.ndarray | None = None
    unit_clusters: np.ndarray | None = None
    result: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    finish: Callable[[dict[str, InferenceResult]], None] | None = None


def crv1(fit: Fit, opts: RunOptions) -> InferenceResult:
    """CRV1 with a t(G-1) reference, flagged with few treated clusters."""
    return inf.crv1_result(fit.estimate, fit.se, fit.n_clusters, fit.n_treated_clusters, opts.alpha)
