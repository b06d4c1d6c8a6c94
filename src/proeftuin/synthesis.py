"""Cross-region synthesis: gather region results, pool them, and score the Triple Aim.

Pooling is a random-effects meta-analysis (DerSimonian–Laird, from statsmodels) of the
regions' DiD estimates per outcome, with heterogeneity (tau², I², Cochran's Q). Each
region's interval, and the evidence grade of the scorecard, come from the most robust
inference method it has: randomization inference over placebo regions (exact under the
sharp null with few treated municipalities), else the wild cluster bootstrap, else CRV1.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin import settings

INTERVAL_PREFERENCE = ("ri", "wild_unrestricted", "crv1")
EVIDENCE_PREFERENCE = ("ri", "wild_restricted", "wild_unrestricted", "crv1")
Z95 = stats.norm.ppf(0.975)
EVIDENCE_LEVELS = ((0.01, "strong"), (0.05, "moderate"), (0.10, "weak"))
POOLED_COLUMNS = [
    "outcome", "design", "estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2", "q_p", "k",
]  # fmt: skip
SCORECARD_COLUMNS = [
    "region", "dimension", "outcome", "estimate", "ci_low", "ci_high", "p_value", "method",
    "evidence", "direction",
]  # fmt: skip


def collect(regions: Sequence[str], design: str = "did", root: Path | None = None) -> pd.DataFrame:
    """Every region's ``<design>_estimates.csv`` stacked; regions without one are skipped."""
    root = root or settings.results_dir()
    frames = [
        pd.read_csv(path)
        for region in regions
        if (path := root / region / f"{design}_estimates.csv").is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def coverage_note(regions: Sequence[str], table: pd.DataFrame) -> str:
    """Which regions have results, in one sentence (missing ones named)."""
    present = set(table["region"]) if "region" in table else set()
    missing = [r for r in regions if r not in present]
    note = f"regions with results: {len(present)} of {len(regions)}"
    return note + (f"; missing: {', '.join(missing)}" if missing else "")


def headline(
    table: pd.DataFrame,
    preference: Sequence[str] = INTERVAL_PREFERENCE,
    *,
    needs: Sequence[str] = ("estimate", "ci_low", "ci_high"),
) -> pd.DataFrame:
    """One row per region and outcome: the first method of ``preference`` with ``needs`` set."""
    if table.empty:
        return table.copy()
    rank = {m: i for i, m in enumerate(preference)}
    rows = table[table["method"].isin(rank)].dropna(subset=list(needs))
    rows = rows.assign(_rank=rows["method"].map(rank))
    best = rows.sort_values("_rank").drop_duplicates(["region", "outcome"]).drop(columns="_rank")
    return best.sort_values(["outcome", "region"]).reset_index(drop=True)


def pool(table: pd.DataFrame) -> pd.DataFrame:
    """Random-effects pooled estimate per outcome across regions (needs two or more)."""
    rows = [
        {"outcome": outcome, "design": "did", **pool_effects(group["estimate"], _se(group))}
        for outcome, group in headline(table).groupby("outcome", sort=True)
        if len(group) >= 2
    ] if not table.empty else []  # fmt: skip
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def _se(rows: pd.DataFrame) -> pd.Series:
    """Standard error implied by a 95% interval (robust methods report intervals)."""
    return (rows["ci_high"] - rows["ci_low"]) / (2 * Z95)


def pool_effects(estimates: pd.Series, se: pd.Series) -> dict[str, float]:
    """DerSimonian–Laird random effects, with tau² truncated at zero.

    statsmodels' ``combine_effects`` returns the untruncated moment estimate of tau²; when it
    is negative (less spread than chance alone gives) the DerSimonian–Laird estimate is the
    fixed-effect one with tau² = 0 and I² = 0, which is what this returns then.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():  # a negative tau² makes statsmodels warn on its sqrt
        warnings.simplefilter("ignore", RuntimeWarning)
        res = combine_effects(estimates.to_numpy(float), (se**2).to_numpy(float), method_re="dl")
    heterogeneous = res.tau2 > 0
    which = 1 if heterogeneous else 0  # conf_int order: fixed, random, ...
    estimate = float(res.mean_effect_re if heterogeneous else res.mean_effect_fe)
    pooled_se = float(res.sd_eff_w_re if heterogeneous else res.sd_eff_w_fe)
    ci_low, ci_high = res.conf_int(use_t=False)[which]
    return {
        "estimate": estimate,
        "se": pooled_se,
        "ci_low": float(ci_low),
        "ci_high": float(ci_high),
        "p_value": float(2 * stats.norm.sf(abs(estimate / pooled_se))),
        "tau2": float(max(res.tau2, 0.0)),
        "i2": float(max(res.i2, 0.0)),
        "q_p": float(stats.chi2.sf(res.q, res.df_resid)),
        "k": int(len(estimates)),
    }


def evidence(p_value: float | None) -> str:
    """Plain-words strength of evidence against 'no effect'."""
    if p_value is None or not np.isfinite(p_value):
        return "none"
    return next((label for cut, label in EVIDENCE_LEVELS if p_value < cut), "none")


def scorecard(table: pd.DataFrame, outcomes: Sequence[str]) -> pd.DataFrame:
    """Per region and Triple Aim dimension: the headline outcome, its effect and evidence."""
    from proeftuin.outcomes import get_outcome

    firsts: dict[str, str] = {}
    for name in outcomes:
        firsts.setdefault(get_outcome(name).dimension, name)
    intervals = headline(table)
    tests = headline(table, EVIDENCE_PREFERENCE, needs=("p_value",))
    rows: list[dict[str, object]] = []
    regions = sorted(table["region"].unique()) if not table.empty else []
    for dimension, outcome in firsts.items():
        info = get_outcome(outcome)
        for region in regions:
            row = _scorecard_row(intervals, tests, region, outcome, info.higher_is_better)
            rows.append({"region": region, "dimension": dimension, "outcome": outcome, **row})
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)


def _scorecard_row(
    intervals: pd.DataFrame, tests: pd.DataFrame, region: str, outcome: str, higher_is_better: bool
) -> dict[str, object]:
    def pick(frame: pd.DataFrame) -> pd.Series | None:
        hit = frame[(frame["region"] == region) & (frame["outcome"] == outcome)]
        return None if hit.empty else hit.iloc[0]

    interval, test = pick(intervals), pick(tests)
    if interval is None or test is None or pd.isna(interval["estimate"]):
        return {"estimate": None, "ci_low": None, "ci_high": None, "p_value": None,
                "method": None, "evidence": "none", "direction": "not estimable"}  # fmt: skip
    grade = evidence(test["p_value"])
    improving = (interval["estimate"] > 0) == higher_is_better
    direction = "no change" if grade == "none" else ("better" if improving else "worse")
    return {
        "estimate": interval["estimate"],
        "ci_low": interval["ci_low"],
        "ci_high": interval["ci_high"],
        "p_value": test["p_value"],
        "method": test["method"],
        "evidence": grade,
        "direction": direction,
    }
