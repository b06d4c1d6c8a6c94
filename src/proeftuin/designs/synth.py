"""Synthetic control and synthetic DiD for one site: estimates, weights and fit per outcome,
the results object (:class:`SynthResults`) and its figures.

The site's municipalities are merged into one unit (their mean path weighted by
insured-years) and compared with a weighted combination of control municipalities chosen
on the pre-period (:func:`proeftuin.estimators.estimate_synth`): synthetic DiD (unit and
time weights, an intercept; Arkhangelsky et al. 2021) and synthetic control (unit weights
only; Abadie et al. 2010). Inference leads with randomization inference over placebo sites
of the same size drawn within the site's COROP area (the DiD's ``placebo_area``), refitted
weights and all. synthdid's placebo variance (Algorithm 4) is not run here: with the site
merged into one unit it draws single control municipalities as placebo units, which are
not exchangeable with a site of several municipalities (their paths are far noisier), and
it over-rejects on this panel (benchmarks/synth_monte_carlo.md). Its version with placebo
units of the site's size, drawn within the area, is the spread of the RI row's placebo
estimates (its ``se``, and the minimum detectable effect drawn from it).

Run time: RI refits the estimator once per draw. The plan's ``draws`` are capped at
:data:`MAX_DRAWS` (200), which benchmarks/RESULTS.md times at under 30 s per outcome and
estimator on the real panel; p-values then resolve to 1/201.

A synthetic control needs a balanced panel: the years in which every site municipality has
the outcome are kept, and control municipalities lacking any of them are dropped (counted
in the note). Each outcome and estimator draws from its own random stream, keyed by their
names (numpy ``SeedSequence`` spawn keys), so adding an outcome changes no other's digits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.did import DID_COLUMNS, add_mde, no_pre_period, pre_period_mean
from proeftuin.designs.figures import (
    CONTROL_COLOUR,
    NEUTRAL_COLOUR,
    SITE_COLOUR,
    legend_below,
    mark_start,
    small_multiples,
)
from proeftuin.designs.results import OutcomeResult, SiteResults, write_tables

ESTIMATORS = ("sdid", "sc")
INFERENCE = ("ri",)  # no synthdid placebo variance for a merged site (module docstring)
MAX_DRAWS = 200
SYNTH_COLUMNS = [*DID_COLUMNS[:-1], "estimator", "pre_rmspe", DID_COLUMNS[-1]]
WEIGHT_COLUMNS = [
    "site", "outcome", "estimator", "kind", "municipality", "name", "year", "weight",
]  # fmt: skip


def stream(seed: int, outcome: str, estimator: str) -> np.random.Generator:
    """The random stream of one outcome and estimator: ``seed`` keyed by the outcome's name
    (as :func:`proeftuin.designs.did.run_did` keys it), then by the estimator's."""
    from proeftuin.estimators.inference.streams import keyed_seed

    return np.random.default_rng(keyed_seed(keyed_seed(seed, outcome), estimator))


def balanced_frame(design: SiteDesign, outcome: str) -> tuple[pd.DataFrame, str]:
    """The outcome's frame on the years every site municipality has, controls complete on
    them; and a note on what was dropped ('' when nothing)."""
    frame = design.outcome_frame(outcome)
    site = frame[frame["treated"] == 1]
    counts = site.groupby("year")["municipality"].nunique()
    years = counts.index[counts == len(design.treated)]
    frame = frame[frame["year"].isin(years)]
    complete = frame.groupby("municipality")["year"].nunique() == len(years)
    dropped = int((~complete).sum())
    frame = frame[frame["municipality"].isin(complete.index[complete])]
    note = f"{dropped} control municipalities lack a year and are left out" if dropped else ""
    return frame.reset_index(drop=True), note


def run_synth(
    design: SiteDesign,
    outcomes: Sequence[str],
    *,
    estimators: Sequence[str] = ESTIMATORS,
    inference: Sequence[str] = INFERENCE,
    draws: int,
    seed: int,
) -> list[OutcomeResult]:
    """Each estimator for each outcome, the site aggregated into one unit; one item per
    outcome and estimator (with the reason where it cannot be estimated)."""
    from proeftuin.estimators import DesignError, estimate_synth

    draws = min(int(draws), MAX_DRAWS)
    results = []
    for outcome in outcomes:
        frame, dropped = balanced_frame(design, outcome)
        if design.reference_event_time(outcome) is None:
            reason = no_pre_period(design, outcome)
            results += [OutcomeResult(outcome, None, reason, e) for e in estimators]
            continue
        for estimator in estimators:
            try:
                fit = estimate_synth(
                    frame, unit="municipality", time="year", outcome="value",
                    treated="treated_post", method=estimator, inference=inference,
                    draws=draws, seed=stream(seed, outcome, estimator), aggregate=True,
                    weights="weight", placebo_group="placebo_area",
                )  # fmt: skip
            except DesignError as exc:
                results.append(OutcomeResult(outcome, None, str(exc), estimator))
                continue
            fit.diagnostics["dropped"] = dropped
            results.append(OutcomeResult(outcome, fit, None, estimator))
    return results


def synth_table(design: SiteDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """One row per outcome, estimator and inference method (the DiD's columns plus
    ``estimator`` and ``pre_rmspe``), with the minimum detectable effect."""
    rows = []
    for item in results:
        base = {"site": design.site, "design": "synth", "outcome": item.outcome,
                "estimator": item.estimator}  # fmt: skip
        if item.result is None:
            rows.append({**base, "method": None, "note": item.reason})
            continue
        fit = item.result
        rmspe = next(iter(fit.diagnostics["pre_rmspe"].values()))["pre"]
        counts = {"n_units": fit.n_units, "n_treated_units": fit.n_treated_units,
                  "n_periods": fit.n_periods, "pre_rmspe": rmspe}  # fmt: skip
        dropped = fit.diagnostics.get("dropped")
        for row in fit.tidy().to_dict("records"):
            note = "; ".join(filter(None, [row.pop("note"), dropped]))
            rows.append({**base, **row, **counts, "note": note})
    table = pd.DataFrame(rows).reindex(columns=SYNTH_COLUMNS)
    return add_mde(table, design, by=("outcome", "estimator")) if len(table) else table


def weights_table(design: SiteDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """Every nonzero donor weight and every time weight, with municipality names."""
    names = design.panel.drop_duplicates("municipality").set_index("municipality")["name"]
    frames = []
    for item in results:
        if item.result is None:
            continue
        base = {"site": design.site, "outcome": item.outcome, "estimator": item.estimator}
        uw = item.result.unit_weights
        uw = uw[uw["weight"] > 0].sort_values("weight", ascending=False)
        donors = {"municipality": uw["unit"], "name": uw["unit"].map(names)}
        frames.append(pd.DataFrame({**base, "kind": "unit", **donors, "weight": uw["weight"]}))
        tw = item.result.time_weights
        if item.estimator != "sc":  # synthetic control has no time weights
            years = tw["time"].astype(int)
            frames.append(pd.DataFrame({**base, "kind": "time", "year": years, **tw[["weight"]]}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table = table.reindex(columns=WEIGHT_COLUMNS)
    return table.astype({"year": "Int64"})


def top_donors(weights: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` largest donor weights per outcome and estimator, largest first."""
    units = weights[weights["kind"] == "unit"]
    top = units.sort_values("weight", ascending=False).groupby(["outcome", "estimator"]).head(n)
    top = top.sort_values(["outcome", "estimator", "weight"], ascending=[True, True, False])
    return top[["outcome", "estimator", "name", "municipality", "weight"]].reset_index(drop=True)


def time_weights(weights: pd.DataFrame) -> pd.DataFrame:
    """Synthetic DiD's time weights: one column per outcome, one row per pre-period year."""
    rows = weights[(weights["kind"] == "time") & (weights["estimator"] == "sdid")]
    return rows.pivot_table(index="year", columns="outcome", values="weight").rename_axis(
        None, axis=1
    )


def fit_table(design: SiteDesign, table: pd.DataFrame) -> pd.DataFrame:
    """Per outcome and estimator: the estimate, pre-period RMSPE (also as % of the site's
    pre-period mean), the RI p-value and interval, and the minimum detectable effect."""
    ri = table[table["method"] == "ri"].copy()
    means = ri["outcome"].map(lambda o: pre_period_mean(design, o))
    ri["pre_rmspe_pct"] = 100 * ri["pre_rmspe"] / means.abs()
    columns = ["outcome", "estimator", "estimate", "ci_low", "ci_high", "p_value",
               "pre_rmspe", "pre_rmspe_pct", "mde", "mde_pct"]  # fmt: skip
    return ri[columns].reset_index(drop=True)


@dataclass
class SynthResults(SiteResults[OutcomeResult]):
    """Synthetic DiD and synthetic control of a site, per outcome and estimator."""

    name: ClassVar[str] = "synth"

    _weights: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def run(
        cls, design: SiteDesign, outcomes: Sequence[str], *, draws: int, seed: int
    ) -> SynthResults:
        """Both estimators for every outcome (:func:`run_synth`; draws capped)."""
        return cls(design, run_synth(design, outcomes, draws=draws, seed=seed))

    def _tidy(self) -> pd.DataFrame:
        return synth_table(self.design, self.results)

    def weights(self) -> pd.DataFrame:
        """Every nonzero donor weight and every time weight (``synth_weights.csv``)."""
        if self._weights is None:
            self._weights = weights_table(self.design, self.results)
        return self._weights.copy()

    def fit_table(self) -> pd.DataFrame:
        """Per outcome and estimator: estimate, RI interval, pre-period RMSPE and MDE."""
        return fit_table(self.design, self.table())

    def top_donors(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` largest donor weights per outcome and estimator."""
        return top_donors(self.weights(), n)

    def time_weights(self) -> pd.DataFrame:
        """Synthetic DiD's weights on the pre-period years, one column per outcome."""
        return time_weights(self.weights())

    def paths(self) -> Figure | None:
        """The site against its synthetic counterparts, one panel per estimated outcome."""
        return synth_paths(self.design, self.results)

    def placebos(self) -> Figure | None:
        """Placebo-site estimates with the site's marked, one panel per estimated outcome."""
        return synth_placebos(self.results)

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``synth_estimates.csv``, ``synth.json`` and ``synth_weights.csv`` atomically."""
        written = super().save(results_dir)
        names = write_tables(results_dir, synth_weights=self.weights())
        return written + [Path(results_dir) / name for name in names]


SYNTH_STYLE = {"sdid": ("--", CONTROL_COLOUR, "synthetic DiD (+ intercept)"),
               "sc": (":", "#009E73", "synthetic control")}  # fmt: skip


def synth_paths(design: SiteDesign, results: Sequence) -> Figure | None:  # OutcomeResult
    """The site against its synthetic counterparts, one panel per estimated outcome; SDID's
    time weights as bars. None when no outcome was estimated."""
    outcomes = list(dict.fromkeys(r.outcome for r in results if r.result is not None))

    def draw(ax: Axes, outcome: str) -> None:
        fits = [r for r in results if r.outcome == outcome and r.result is not None]
        path = fits[0].result.path
        ax.plot(path["time"], path["treated"], "o-", color=SITE_COLOUR, label=design.name)
        for item in fits:
            style, colour, label = SYNTH_STYLE[item.estimator]
            p = item.result.path
            ax.plot(p["time"], p["synthetic_shifted"], style, color=colour, label=label)
        sdid = next((i.result for i in fits if i.estimator == "sdid"), None)
        if sdid is not None:
            tw = sdid.time_weights[sdid.time_weights["weight"] > 0]
            low, high = ax.get_ylim()
            ax.bar(tw["time"], tw["weight"] * 0.2 * (high - low), bottom=low, width=0.6,
                   color=CONTROL_COLOUR, alpha=0.3, label="SDID time weights")  # fmt: skip
            ax.set_ylim(low, high)
        mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")

    return legend_below(small_multiples(outcomes, draw))


def synth_placebos(results: Sequence) -> Figure | None:  # OutcomeResult items
    """Placebo-site estimates (randomization inference) with the site's estimate marked, one
    panel per estimated outcome; None when no outcome was estimated."""
    outcomes = list(dict.fromkeys(r.outcome for r in results if r.result is not None))

    def draw(ax: Axes, outcome: str) -> None:
        fits = [r for r in results if r.outcome == outcome and r.result is not None]
        for item in fits:
            _, colour, label = SYNTH_STYLE[item.estimator]
            fit = item.result
            draws = fit.placebo_estimates[np.isfinite(fit.placebo_estimates)]
            p = fit.inference["ri"].p_value if "ri" in fit.inference else float("nan")
            ax.hist(draws, bins=30, histtype="step", color=colour, linewidth=1.2,
                    label=f"{label.split(' (')[0]} placebos (RI p = {p:.3f})")  # fmt: skip
            ax.axvline(fit.estimate, color=colour, linewidth=2)
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_xlabel("estimate (site: vertical line)")
        ax.legend(loc="best")

    return small_multiples(outcomes, draw)
