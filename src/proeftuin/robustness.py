"""Robustness of a region's difference-in-differences: other comparison groups, leaving out
one municipality at a time, and placebo start years in the pre-period.

Each check re-estimates the headline outcomes (the first outcome of each Triple Aim
dimension) on a variant of the region's design and keeps one row per variant with the most
robust interval available (randomization inference, else wild bootstrap, else CRV1). The
main estimate is the ``control_pool`` row whose variant is the plan's pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from proeftuin.analysis import run_did
from proeftuin.design import DesignInputs, RegionDesign, region_design
from proeftuin.headline import headline

ROBUSTNESS_COLUMNS = [
    "region", "check", "variant", "outcome", "estimate", "ci_low", "ci_high", "p_value", "note",
]  # fmt: skip


def headline_outcomes(outcomes: Sequence[str]) -> list[str]:
    """The first outcome of each Triple Aim dimension, in plan order."""
    from proeftuin.outcomes import get_outcome

    firsts: dict[str, str] = {}
    for name in outcomes:
        firsts.setdefault(get_outcome(name).dimension, name)
    return list(firsts.values())


def alternative_pools(design: RegionDesign, inputs: DesignInputs) -> dict[str, RegionDesign]:
    """The region's design with each control pool the registry offers."""
    from proeftuin.regions import CONTROL_POOLS

    return {
        pool: region_design(
            design.region,
            inputs,
            control_pool=pool,
            buffer=design.buffer,
            start_year=design.start_year,
            first_year=design.first_year,
            last_year=design.last_year,
        )
        for pool in CONTROL_POOLS
    }


def leave_one_out(design: RegionDesign) -> dict[str, RegionDesign]:
    """The design without each of the region's municipalities in turn (two or more left)."""
    if len(design.treated) < 3:
        return {}
    return {
        code: replace(
            design,
            treated=tuple(c for c in design.treated if c != code),
            panel=design.panel[design.panel["municipality"] != code],
        )
        for code in design.treated
    }


def placebo_years(design: RegionDesign) -> dict[str, RegionDesign]:
    """Pre-period only, with a fake start in each pre-period year after the first."""
    pre = design.panel[design.panel["year"] < design.start_year]
    return {
        str(year): replace(design, start_year=year, last_year=design.start_year - 1, panel=pre)
        for year in range(design.first_year + 1, design.start_year)
    }


def run_checks(
    design: RegionDesign,
    inputs: DesignInputs,
    outcomes: Sequence[str],
    *,
    inference: Sequence[str] = ("crv1", "ri"),
    draws: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Every check for the headline outcomes, one row per check, variant and outcome.

    ``inputs`` are the design's inputs (alternative pools draw other controls from them).
    """
    chosen = headline_outcomes(outcomes)
    variants = {
        "control_pool": alternative_pools(design, inputs),
        "leave_one_out": leave_one_out(design),
        "placebo_year": placebo_years(design),
    }
    frames = [
        _estimate(variant, chosen, check, name, inference=inference, draws=draws, seed=seed)
        for check, by_name in variants.items()
        for name, variant in by_name.items()
    ]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table.reindex(columns=ROBUSTNESS_COLUMNS)


def _estimate(
    design: RegionDesign, outcomes: list[str], check: str, variant: str, **options: object
) -> pd.DataFrame:
    from proeftuin.analysis import did_table

    table = did_table(design, run_did(design, outcomes, **options))  # type: ignore[arg-type]
    best = headline(table)
    missing = table[~table["outcome"].isin(best["outcome"])].drop_duplicates("outcome")
    best = best.assign(note=best["method"].map(lambda m: f"interval and p-value: {m}"))
    rows = pd.concat([best, missing], ignore_index=True)
    return rows.assign(check=check, variant=variant)
