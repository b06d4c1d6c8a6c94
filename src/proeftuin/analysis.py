"""Run a design's estimators over the plan's outcomes and tidy the results into tables.

The notebooks call these functions so that they hold narrative and figures only. An
outcome the design cannot identify (no pre-period for a late-starting series, too few
pre-period points for a trend) is kept as a row with its reason, never dropped silently.
Results are written as CSV and JSON (machine-readable, read by the synthesis and the
report), each atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from proeftuin.design import RegionDesign
from proeftuin.fileio import atomic_write_json, atomic_write_text

DID_COLUMNS = [
    "region", "design", "outcome", "method", "estimate", "se", "ci_low", "ci_high",
    "p_value", "n_units", "n_treated_units", "n_periods", "pretrend_p", "note",
]  # fmt: skip
ITS_COLUMNS = [
    "region", "design", "outcome", "effect", "estimate", "se", "ci_low", "ci_high",
    "p_value", "n_pre", "n_post", "note",
]  # fmt: skip


@dataclass
class OutcomeResult:
    """One outcome's estimate, or the reason there is none."""

    outcome: str
    result: Any | None  # estimators.DidResult | estimators.ItsResult
    reason: str | None = None


def run_did(
    design: RegionDesign,
    outcomes: Sequence[str],
    *,
    inference: Sequence[str] = ("crv1", "wild", "ri"),
    draws: int = 999,
    seed: int = 0,
) -> list[OutcomeResult]:
    """Difference-in-differences of the region against its controls, per outcome.

    Each outcome draws from its own random stream, derived from ``seed`` and keyed by the
    outcome's name: its results depend neither on the other outcomes nor on their order.
    """
    from proeftuin.estimators import DesignError, estimate_did
    from proeftuin.estimators.streams import keyed_seed

    results = []
    for outcome in outcomes:
        frame = design.outcome_frame(outcome)
        ref = design.reference_event_time(outcome)
        if ref is None:
            results.append(OutcomeResult(outcome, None, _no_pre_period(design, outcome)))
            continue
        try:
            fit = estimate_did(
                frame, unit="municipality", time="year", outcome="value",
                first_treated="first_treated", cluster="municipality", weights="weight",
                inference=inference, draws=draws, seed=keyed_seed(seed, outcome), ref_period=ref,
                placebo_group="placebo_area",
            )  # fmt: skip
        except DesignError as exc:
            results.append(OutcomeResult(outcome, None, str(exc)))
            continue
        results.append(OutcomeResult(outcome, fit))
    return results


def run_its(design: RegionDesign, outcomes: Sequence[str]) -> list[OutcomeResult]:
    """Controlled interrupted time series: the region's series against its controls'."""
    from proeftuin.estimators import DesignError, estimate_its

    results = []
    for outcome in outcomes:
        series = design.series(outcome).dropna()
        try:
            fit = estimate_its(
                series, time="year", outcome="region", start=design.start_year, control="control"
            )
        except DesignError as exc:
            results.append(OutcomeResult(outcome, None, str(exc)))
            continue
        results.append(OutcomeResult(outcome, fit))
    return results


def _no_pre_period(design: RegionDesign, outcome: str) -> str:
    years = design.years(outcome, treated_only=True)
    observed = ", ".join(map(str, years)) if years else "no year"
    return (
        f"no pre-period: the region's municipalities have {outcome} for {observed}; "
        f"the programme starts in {design.start_year}"
    )


def did_table(design: RegionDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """One row per outcome and inference method (and one per unestimable outcome), from
    each result's own ``tidy()``."""
    rows = []
    for item in results:
        base = {"region": design.region, "design": "did", "outcome": item.outcome}
        if item.result is None:
            rows.append({**base, "method": None, "note": item.reason})
            continue
        rows.extend({**base, **row} for row in item.result.tidy().to_dict("records"))
    return pd.DataFrame(rows).reindex(columns=DID_COLUMNS)


def its_table(design: RegionDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """One row per outcome and effect (level change, slope change)."""
    rows = []
    for item in results:
        base = {"region": design.region, "design": "its", "outcome": item.outcome}
        if item.result is None:
            rows.append({**base, "effect": None, "note": item.reason})
            continue
        tidy = item.result.tidy().rename(columns={"term": "effect"})
        rows.extend({**base, **row} for row in tidy.to_dict("records"))
    return pd.DataFrame(rows).reindex(columns=ITS_COLUMNS)


def display_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for reading: rounded numbers, empty cells blank."""
    return table.round(digits).fillna("")


def write_results(
    results_dir: str | Path, name: str, table: pd.DataFrame, results: list[OutcomeResult]
) -> list[Path]:
    """Write ``<name>_estimates.csv`` and ``<name>.json`` (full results) atomically."""
    folder = Path(results_dir)
    csv = atomic_write_text(folder / f"{name}_estimates.csv", table.to_csv(index=False))
    payload = {
        item.outcome: item.result.to_dict() if item.result is not None else {"reason": item.reason}
        for item in results
    }
    full = atomic_write_json(folder / f"{name}.json", payload)
    return [csv, full]


def write_tables(folder: str | Path, **tables: pd.DataFrame) -> list[str]:
    """Write each named table as ``<name>.csv`` in ``folder`` (atomically); return the names."""
    return [
        atomic_write_text(Path(folder) / f"{name}.csv", table.to_csv(index=False)).name
        for name, table in tables.items()
    ]
