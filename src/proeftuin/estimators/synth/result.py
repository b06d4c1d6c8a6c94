"""The result object of synthetic control and synthetic DiD: tables, a JSON-safe dictionary
and the two figures notebooks show (the treated path against its synthetic counterpart with
the time weights, and the placebo distribution with the observed estimate marked).

A container: it holds what :mod:`synth_inference` computed and computes no statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from proeftuin.core.jsonable import json_safe
from proeftuin.estimators.results import PRECISION_COLUMNS, InferenceResult


@dataclass
class SynthResult:
    """A synthetic DiD / synthetic control / DiD estimate with its weights and inference.

    ``unit_weights`` (cohort, unit, weight) and ``time_weights`` (cohort, time, weight) hold
    every control unit and pre-period; ``path`` per cohort and period the treated mean,
    the synthetic control (omega-weighted controls), the synthetic shifted by the
    intercept (what the estimate compares with) and the gap; ``cohorts`` each adoption
    date's estimate and weight in the average. ``placebo_estimates`` are the
    randomization-inference draws, or the placebo-variance replications when RI was not
    asked for (``diagnostics["placebo_source"]`` says which); their spread is what a
    minimum detectable effect can be read from.
    """

    estimate: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    inference: dict[str, InferenceResult]
    method: str
    n_units: int
    n_treated_units: int
    n_control_units: int
    n_periods: int
    unit_weights: pd.DataFrame
    time_weights: pd.DataFrame
    path: pd.DataFrame
    cohorts: pd.DataFrame
    placebo_estimates: np.ndarray | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """One row per inference method."""
        return pd.DataFrame(
            [{"estimator": self.method, **r.row(self.estimate)} for r in self.inference.values()],
            columns=[
                "estimator",
                "method",
                "estimate",
                "se",
                "ci_low",
                "ci_high",
                "p_value",
                "note",
                *PRECISION_COLUMNS,
            ],
        )

    def top_donors(self, n: int = 10) -> pd.DataFrame:
        """The control units with the largest weights (per cohort)."""
        uw = self.unit_weights.sort_values(["cohort", "weight"], ascending=[True, False])
        return uw.groupby("cohort", sort=True).head(n).reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary; the same keys as ``proeftuin estimate synth --json``."""
        nonzero = self.unit_weights[self.unit_weights["weight"] > 0]
        return json_safe(
            {
                "estimate": self.estimate,
                "se": self.se,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "inference": {k: v.to_dict() for k, v in self.inference.items()},
                "method": self.method,
                "n_units": self.n_units,
                "n_treated_units": self.n_treated_units,
                "n_control_units": self.n_control_units,
                "n_periods": self.n_periods,
                "cohorts": self.cohorts,
                "unit_weights": nonzero.sort_values(["cohort", "weight"], ascending=[True, False]),
                "time_weights": self.time_weights,
                "path": self.path,
                "diagnostics": self.diagnostics,
            }
        )

    def plot(self, ax: Any = None, cohort: Any = None) -> Any:
        """Treated mean path against its synthetic counterpart (shifted by the intercept),
        the adoption date, and the time weights as bars along the bottom (one cohort)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        first = self.cohorts["start"].iloc[0] if cohort is None else cohort
        p = self.path[self.path["cohort"] == first]
        ax.plot(p["time"], p["treated"], color="black", marker="o", ms=3, label="treated")
        label = {"sc": "synthetic control", "did": "control mean + intercept"}.get(
            self.method, "synthetic control + intercept"
        )
        ax.plot(p["time"], p["synthetic_shifted"], color="tab:blue", linestyle="--", label=label)
        ax.axvline(first, color="grey", linestyle=":", linewidth=1)
        tw = self.time_weights[
            (self.time_weights["cohort"] == first) & (self.time_weights["weight"] > 0)
        ]
        if len(tw) and self.method == "sdid":
            low, high = ax.get_ylim()
            ax.bar(
                tw["time"], tw["weight"] * 0.25 * (high - low), bottom=low, width=0.8,
                color="tab:orange", alpha=0.5, label="time weights (scaled)",
            )  # fmt: skip
            ax.set_ylim(low, high)
        ax.set_xlabel(self.diagnostics.get("time_name") or "period")
        ax.set_ylabel(self.diagnostics.get("outcome_name") or "outcome")
        ax.set_title(f"{self.method}: estimate {self.estimate:.3g}")
        ax.legend(fontsize=8)
        return ax

    def plot_placebo(self, ax: Any = None, bins: int = 30) -> Any:
        """Histogram of the placebo estimates with the observed estimate marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        draws = self.placebo_estimates
        if draws is None or not len(draws):
            ax.text(0.5, 0.5, "no placebo estimates", ha="center", transform=ax.transAxes)
            return ax
        ax.hist(draws[np.isfinite(draws)], bins=bins, color="lightgrey", edgecolor="grey")
        ax.axvline(self.estimate, color="tab:red", linewidth=2, label="observed")
        ax.axvline(-self.estimate, color="tab:red", linewidth=1, linestyle=":")
        p = next((r.p_value for r in self.inference.values() if r.method == "ri"), None)
        title = f"placebo estimates ({len(draws)})"
        ax.set_title(title if p is None else f"{title}, RI p = {p:.3f}")
        ax.set_xlabel("estimate")
        ax.legend(fontsize=8)
        return ax
