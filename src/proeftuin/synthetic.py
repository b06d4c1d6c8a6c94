"""Synthetic control and synthetic DiD for one site: estimates, weights and fit per outcome.

The site's municipalities are merged into one unit (their mean path weighted by
insured-years) and compared with a weighted combination of control municipalities chosen
on the pre-period (:func:`proeftuin.estimators.estimate_synth`): synthetic DiD (unit and
time weights, an intercept; Arkhangelsky et al. 2021) and synthetic control (unit weights
only; Abadie et al. 2010). Inference leads with randomization inference over placebo sites
of the same size drawn within the site's COROP area (the DiD's ``placebo_area``), refitted
weights and all; the placebo variance of synthdid is shown beside it but over-rejects on
this panel (benchmarks/synth_monte_carlo.md).

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

import numpy as np
import pandas as pd

from proeftuin.analysis import (
    DID_COLUMNS,
    OutcomeResult,
    add_mde,
    no_pre_period,
    pre_period_mean,
)
from proeftuin.design import SiteDesign

ESTIMATORS = ("sdid", "sc")
INFERENCE = ("ri", "placebo")
MAX_DRAWS = 200
SYNTH_COLUMNS = [*DID_COLUMNS[:-1], "estimator", "pre_rmspe", DID_COLUMNS[-1]]
WEIGHT_COLUMNS = [
    "site", "outcome", "estimator", "kind", "municipality", "name", "year", "weight",
]  # fmt: skip


def stream(seed: int, outcome: str, estimator: str) -> np.random.Generator:
    """The random stream of one outcome and estimator: ``seed`` keyed by the outcome's name
    (as :func:`analysis.run_did` keys it), then by the estimator's."""
    from proeftuin.estimators.streams import keyed_seed

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
