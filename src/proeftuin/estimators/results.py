"""Result objects of the estimators: tidy tables, JSON-safe dictionaries and plots.

Pure containers: they hold what an estimator computed and know how to show it; they
compute no statistics of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from proeftuin.core.jsonable import json_safe


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
    p_kind: str | None = None  # randomization inference: "exact" or "sampled"
    p_mcse: float | None = None  # Monte Carlo standard error of a sampled p (0 when exact)
    p_mc_low: float | None = None  # 99% Monte Carlo interval of a sampled p
    p_mc_high: float | None = None
    n_areas: int | None = None  # areas holding a placebo site (placebo sites within areas)
    p_resolution: float | None = None  # 1/(n_areas + 1): the finest p the areas support

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)

    def precision(self) -> dict[str, Any]:
        """The randomization p-value's kind, Monte Carlo error and resolution by area."""
        return {k: getattr(self, k) for k in PRECISION_COLUMNS}

    def row(self, estimate: float, **extra: Any) -> dict[str, Any]:
        """This method's row of a tidy table: the estimate with its uncertainty, then
        ``extra`` (the estimator's counts), then how sure the p-value is."""
        return {"method": self.method, "estimate": estimate, "se": self.se,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
                "note": self.note, **extra, **self.precision()}  # fmt: skip


#: Columns that say how sure a randomization p-value is (None for other methods).
PRECISION_COLUMNS = ("p_kind", "p_mcse", "p_mc_low", "p_mc_high", "n_areas", "p_resolution")


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
    #: TWFE event study: CRV1 covariance of its coefficients by event time (reference period
    #: excluded), the sigma of a HonestDiD sensitivity analysis
    event_vcov: pd.DataFrame | None = None

    @property
    def pretrend_p(self) -> float | None:
        """The pre-trend test's p-value: by randomization inference where it was run (the
        CRV1 joint test over-rejects with few treated clusters), else CRV1's."""
        pretrend = self.pretrend or {}
        ri = pretrend.get("ri_p_value")
        return ri if ri is not None else pretrend.get("p_value")

    @property
    def pretrend_p_mcse(self) -> float | None:
        """Monte Carlo error of :attr:`pretrend_p`: 0 when every placebo assignment was
        enumerated, None when the p-value is CRV1's (no draws)."""
        pretrend = self.pretrend or {}
        return pretrend.get("ri_p_mcse") if pretrend.get("ri_p_value") is not None else None

    def tidy(self) -> pd.DataFrame:
        """One row per inference method (``method``), with the counts, the pre-trend
        p-value and the estimator (``estimator``)."""
        counts = {"n_units": self.n_units, "n_treated_units": self.n_treated_units,
                  "n_periods": self.n_periods, "pretrend_p": self.pretrend_p,
                  "pretrend_p_mcse": self.pretrend_p_mcse,
                  "estimator": self.method}  # fmt: skip
        rows = [r.row(self.estimate, **counts) for r in self.inference.values()]
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
        if self.event_vcov is not None:
            out["event_vcov"] = {"event_time": list(self.event_vcov.index),
                                 "matrix": self.event_vcov.to_numpy().tolist()}  # fmt: skip
        return json_safe(out)

    def plot(self, ax: Any = None, *, colour: str = "#D55E00", neutral: str = "#555555") -> Any:
        """The event study: estimates with their pointwise band, a zero line and the start
        (between event times -1 and 0). False when there is no event study to draw."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        study = self.event_study
        if study is None or study.empty:
            return False
        ax.fill_between(study["event_time"], study["ci_low"], study["ci_high"],
                        color=colour, alpha=0.2, linewidth=0)  # fmt: skip
        ax.plot(study["event_time"], study["estimate"], "o-", color=colour)
        ax.axhline(0, color=neutral, linewidth=0.8)
        _mark_start(ax, -0.5, neutral)
        return ax


def _mark_start(ax: Any, start: float, colour: str, label: str = "start") -> None:
    ax.axvline(start, color=colour, linestyle=":", linewidth=1)
    ax.annotate(label, (start, 1), xycoords=("data", "axes fraction"), fontsize=8,
                ha="left", va="top", color=colour)  # fmt: skip


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
        """One row per effect (``term``: level_change, slope_change), with the numbers of
        pre- and post-period points."""
        counts = {"n_pre": self.diagnostics.get("n_pre"), "n_post": self.diagnostics.get("n_post")}
        rows = []
        for name, eff in (("level_change", self.level_change), ("slope_change", self.slope_change)):
            if eff is not None:
                rows.append({"term": name, **eff.__dict__, **counts})
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

    def plot(
        self,
        ax: Any = None,
        *,
        colour: str = "#D55E00",
        neutral: str = "#555555",
        legend: bool = True,
    ) -> Any:
        """Observed series, fitted segments and the counterfactual with its 95% band; the
        start is marked half a period before the first post-period point."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        cf = self.counterfactual
        post = cf[cf["post"].astype(bool)]
        ax.fill_between(post["time"], post["cf_low"], post["cf_high"], color=neutral,
                        alpha=0.2, linewidth=0, label="counterfactual 95% band")  # fmt: skip
        ax.plot(cf["time"], cf["observed"], "o", color=colour, label="observed")
        ax.plot(cf["time"], cf["fitted"], "-", color=colour, label="fitted")
        ax.plot(post["time"], post["counterfactual"], "--", color=neutral,
                label="counterfactual")  # fmt: skip
        _mark_start(ax, float(self.start) - 0.5, neutral)
        if legend:
            ax.legend(fontsize=8, loc="best")
        return ax
