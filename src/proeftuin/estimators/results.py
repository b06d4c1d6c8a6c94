"""Result objects of the estimators: tidy tables, JSON-safe dictionaries and plots.

Pure containers: they hold what an estimator computed and know how to show it; they
compute no statistics of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proeftuin.jsonable import json_safe


@dataclass
class InferenceResult:
    """One inference method's answer for the headline estimate."""

    method: str
    p_value: float
    se: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    draws: int | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


@dataclass
class DidResult:
    """A difference-in-differences estimate with inference by several methods."""

    estimate: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    inference: dict[str, InferenceResult]
    n_units: int
    n_treated_units: int
    n_periods: int
    method: str
    event_study: pd.DataFrame | None = None
    pretrend: dict[str, float] | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    att_gt: pd.DataFrame | None = None
    aggregations: dict[str, Any] | None = None
    headline_method: str | None = None  # the inference method se, ci_low, ci_high come from

    def tidy(self) -> pd.DataFrame:
        """One row per inference method."""
        rows = [
            {
                "method": r.method,
                "estimate": self.estimate,
                "se": r.se,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "note": r.note,
            }
            for r in self.inference.values()
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; the same keys as the command line's JSON."""
        out: dict[str, Any] = {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "headline_method": self.headline_method,
            "inference": {k: v.to_dict() for k, v in self.inference.items()},
            "n_units": self.n_units,
            "n_treated_units": self.n_treated_units,
            "n_periods": self.n_periods,
            "method": self.method,
            "event_study": self.event_study,
            "pretrend": self.pretrend,
            "diagnostics": self.diagnostics,
        }
        if self.att_gt is not None:
            out["att_gt"] = self.att_gt[["group", "time", "estimate", "se"]]
        if self.aggregations is not None:
            out["aggregations"] = self.aggregations
        return json_safe(out)

    def plot(self, ax: Any = None) -> Any:
        """Event-study plot: estimates with a confidence band, zero line, treatment start."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        es = self.event_study
        if es is None or es.empty:
            ax.errorbar(
                [0],
                [self.estimate],
                yerr=[[self.estimate - (self.ci_low or 0)], [(self.ci_high or 0) - self.estimate]],
                fmt="o",
            )
        else:
            ax.fill_between(es["event_time"], es["ci_low"], es["ci_high"], alpha=0.25)
            ax.plot(es["event_time"], es["estimate"], marker="o")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(-0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel("periods relative to treatment start")
        ax.set_ylabel("estimate")
        ax.set_title(f"Event study ({self.method})")
        return ax


@dataclass
class Effect:
    """One interrupted-time-series effect (level or slope change)."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    ratio: float | None = None
    ratio_ci_low: float | None = None
    ratio_ci_high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


@dataclass
class ItsResult:
    """A segmented-regression fit: effects, counterfactual and diagnostics."""

    level_change: Effect
    slope_change: Effect | None
    counterfactual: pd.DataFrame
    diagnostics: dict[str, Any]
    family: str
    start: Any

    def tidy(self) -> pd.DataFrame:
        rows = []
        for name, eff in (("level_change", self.level_change), ("slope_change", self.slope_change)):
            if eff is not None:
                rows.append({"term": name, **eff.__dict__})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "level_change": self.level_change.to_dict(),
                "slope_change": None if self.slope_change is None else self.slope_change.to_dict(),
                "family": self.family,
                "start": self.start,
                "diagnostics": self.diagnostics,
                "counterfactual": self.counterfactual,
            }
        )

    def plot(self, ax: Any = None) -> Any:
        """Observed series, fitted line, and the counterfactual with its band."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        cf = self.counterfactual
        ax.scatter(cf["time"], cf["observed"], s=12, color="black", label="observed")
        ax.plot(cf["time"], cf["fitted"], label="fitted")
        post = cf["post"].astype(bool)
        ax.plot(
            cf["time"][post], cf["counterfactual"][post], linestyle="--", label="counterfactual"
        )
        ax.fill_between(cf["time"][post], cf["cf_low"][post], cf["cf_high"][post], alpha=0.2)
        ax.axvline(self.start, color="grey", linestyle=":")
        ax.legend()
        return ax
