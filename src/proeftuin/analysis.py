"""Run a design's estimators over the plan's outcomes and tidy the results into tables.

The notebooks call these functions (a site notebook through its design's results object,
:mod:`proeftuin.site_results`) so that they hold narrative and figures only (the
interrupted time series has its own module, :mod:`proeftuin.its_analysis`). An
outcome the design cannot identify (no pre-period for a late-starting series, too few
pre-period points for a trend) is kept as a row with its reason, never dropped silently.
Results are written as CSV and JSON (machine-readable, read by the synthesis and the
report), each atomically.

What a design could detect is said by its minimum detectable effect (Bloom 1995, *Evaluation
Review* 19(5)): the true effect a two-sided 5% test finds with 80% power, (z_0.975 +
z_0.80) x SD = 2.80 x SD, with SD the spread of the estimator under no effect. Here that
spread is read from the placebo distribution (the estimates for placebo sites drawn within
the site's COROP area, the randomization-inference draws), so it needs no model: columns
``mde`` (outcome units) and ``mde_pct`` (% of the site's pre-period mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from proeftuin.design import SiteDesign
from proeftuin.fileio import atomic_write_json, atomic_write_text

DID_COLUMNS = [
    "site", "design", "outcome", "method", "estimate", "se", "ci_low", "ci_high",
    "p_value", "n_units", "n_treated_units", "n_periods", "pretrend_p", "mde", "mde_pct",
    "note",
]  # fmt: skip


@dataclass
class OutcomeResult:
    """One outcome's estimate, or the reason there is none."""

    outcome: str
    result: Any | None  # estimators.DidResult | SynthResult
    reason: str | None = None
    estimator: str | None = None  # set where one outcome has several estimators (sdid, sc)


def mde_factor(alpha: float = 0.05, power: float = 0.80) -> float:
    """z_(1-alpha/2) + z_power: 2.80 at 5% two-sided and 80% power (Bloom 1995)."""
    from scipy import stats  # here: a notebook that only reads results need not import it

    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    placebo: Any, weights: Any = None, *, alpha: float = 0.05, power: float = 0.80
) -> float:
    """2.80 x the (weighted) SD of placebo estimates; NaN with fewer than two finite ones."""
    draws = np.asarray(placebo, dtype=float)
    ok = np.isfinite(draws)
    if ok.sum() < 2:
        return float("nan")
    w = np.ones(ok.sum()) if weights is None else np.asarray(weights, dtype=float)[ok]
    centre = np.average(draws[ok], weights=w)
    sd = float(np.sqrt(np.average((draws[ok] - centre) ** 2, weights=w)))
    return mde_factor(alpha, power) * sd


def pre_period_mean(design: SiteDesign, outcome: str) -> float:
    """The site's mean of the yearly (insured-year weighted) means before its start."""
    series = design.series(outcome)
    pre = series.loc[series["year"] < design.start_year, "site"].dropna()
    return float(pre.mean()) if len(pre) else float("nan")


def add_mde(
    table: pd.DataFrame, design: SiteDesign, by: Sequence[str] = ("outcome",)
) -> pd.DataFrame:
    """``mde`` and ``mde_pct`` on every row of an outcome (and estimator), from the spread of
    its randomization-inference placebo estimates (the RI row's ``se`` is their SD)."""
    ri = table[table["method"] == "ri"].drop_duplicates(list(by))
    sd = ri.set_index(list(by))["se"].astype(float)
    keys = pd.MultiIndex.from_frame(table[list(by)]) if len(by) > 1 else table[by[0]]
    mde = mde_factor() * sd.reindex(keys).to_numpy()
    site_means = {o: pre_period_mean(design, o) for o in table["outcome"].dropna().unique()}
    means = table["outcome"].map(site_means).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(np.abs(means) > 0, 100 * mde / np.abs(means), np.nan)
    return table.assign(mde=mde, mde_pct=pct)


def run_did(
    design: SiteDesign,
    outcomes: Sequence[str],
    *,
    inference: Sequence[str],
    draws: int,
    seed: int,
    event_study: bool = True,
) -> list[OutcomeResult]:
    """Difference-in-differences of the site against its controls, per outcome.

    Each outcome draws from its own random stream, derived from ``seed`` and keyed by the
    outcome's name: its results depend neither on the other outcomes nor on their order.
    ``event_study=False`` skips the event study and its pre-trend tests (the robustness
    checks, which show one row per outcome); the estimate and every interval are the same.
    """
    from proeftuin.estimators import DesignError, estimate_did
    from proeftuin.estimators.streams import keyed_seed

    results = []
    for outcome in outcomes:
        frame = design.outcome_frame(outcome)
        ref = design.reference_event_time(outcome)
        if ref is None:
            results.append(OutcomeResult(outcome, None, no_pre_period(design, outcome)))
            continue
        try:
            fit = estimate_did(
                frame, unit="municipality", time="year", outcome="value",
                first_treated="first_treated", cluster="municipality", weights="weight",
                inference=inference, draws=draws, seed=keyed_seed(seed, outcome), ref_period=ref,
                placebo_group="placebo_area", event_study=event_study,
            )  # fmt: skip
        except DesignError as exc:
            results.append(OutcomeResult(outcome, None, str(exc)))
            continue
        results.append(OutcomeResult(outcome, fit))
    return results


def no_pre_period(design: SiteDesign, outcome: str) -> str:
    years = design.years(outcome, treated_only=True)
    observed = ", ".join(map(str, years)) if years else "no year"
    return (
        f"no pre-period: the site's municipalities have {outcome} for {observed}; "
        f"the programme starts in {design.start_year}"
    )


def did_table(design: SiteDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """One row per outcome and inference method (and one per unestimable outcome), from
    each result's own ``tidy()``."""
    rows = []
    for item in results:
        base = {"site": design.site, "design": "did", "outcome": item.outcome}
        if item.result is None:
            rows.append({**base, "method": None, "note": item.reason})
            continue
        rows.extend({**base, **row} for row in item.result.tidy().to_dict("records"))
    table = pd.DataFrame(rows).reindex(columns=DID_COLUMNS)
    return add_mde(table, design) if len(table) else table


def not_estimated(
    table: pd.DataFrame,
    outcomes: Sequence[str] | None = None,
    *,
    label: str = "",
    **only: Sequence[str],
) -> str:
    """One line for the notebook: which outcomes have no estimate in ``table`` (and so no
    figure panel), with the reason its notes give, after ``label`` (the figure it is about).
    ``outcomes`` defaults to those in the table; ``only`` keeps rows whose column is one of
    the values (``check=["placebo_year"]``)."""
    from proeftuin.outcomes import get_outcome

    for column, keep in only.items():
        table = table[table[column].isin(keep)] if column in table else table.iloc[0:0]
    if "outcome" not in table:
        table = table.assign(outcome=pd.Series(dtype=object))
    if "estimate" not in table:
        table = table.assign(estimate=np.nan)
    has = table["outcome"]
    wanted = list(dict.fromkeys(has)) if outcomes is None else list(outcomes)
    values = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(float)
    done = set(has[np.isfinite(values)])
    missing = []
    for outcome in (o for o in wanted if o not in done):
        notes = table.loc[has == outcome, "note"] if "note" in table else []
        reasons = list(dict.fromkeys(n for n in notes if isinstance(n, str) and n))
        more = f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""
        reason = f"{reasons[0]}{more}" if reasons else "no estimate"
        missing.append(f"{get_outcome(outcome).label}: {reason}")
    head = f"{label}: " if label else ""
    if not missing:
        return f"{head}every outcome was estimated."
    return f"{head}not estimated, so not drawn: " + "; ".join(missing) + "."


def display_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for reading: outcomes by their labels, counts as whole numbers, an infinite
    interval bound as "unbounded", other numbers rounded, empty cells blank, and column
    names in words (``ci_low`` → "ci low")."""
    from proeftuin.outcomes import OUTCOMES

    shown = table.copy()
    if "outcome" in shown:
        shown["outcome"] = [OUTCOMES[o].label if o in OUTCOMES else o for o in shown["outcome"]]
    for column in shown.columns:
        values = shown[column]
        if column.startswith("n_") and pd.api.types.is_numeric_dtype(values):
            shown[column] = values.round().astype("Int64").astype(object)
        elif pd.api.types.is_float_dtype(values):
            rounded = values.round(digits).astype(object)
            shown[column] = rounded.where(~np.isinf(values), "unbounded")
    return shown.fillna("").rename(columns=lambda c: c.replace("_", " "))


def write_results(
    results_dir: str | Path, name: str, table: pd.DataFrame, results: list[OutcomeResult]
) -> list[Path]:
    """Write ``<name>_estimates.csv`` and ``<name>.json`` (full results) atomically."""
    folder = Path(results_dir)
    csv = atomic_write_text(folder / f"{name}_estimates.csv", table.to_csv(index=False))
    payload: dict[str, Any] = {}
    for item in results:
        entry = item.result.to_dict() if item.result is not None else {"reason": item.reason}
        if item.estimator is None:
            payload[item.outcome] = entry
        else:
            payload.setdefault(item.outcome, {})[item.estimator] = entry
    full = atomic_write_json(folder / f"{name}.json", payload)
    return [csv, full]


def write_tables(folder: str | Path, **tables: pd.DataFrame) -> list[str]:
    """Write each named table as ``<name>.csv`` in ``folder`` (atomically); return the names."""
    return [
        atomic_write_text(Path(folder) / f"{name}.csv", table.to_csv(index=False)).name
        for name, table in tables.items()
    ]
