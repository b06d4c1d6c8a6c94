"""Placebo-in-time for one treated interrupted time series: the site's ITS refitted on its
pre-period only, at fake starts, as a diagnostic of the counterfactual (Abadie, Diamond &
Hainmueller 2015, Am J Polit Sci 59:495-510, "in-time placebos"); :mod:`placebo` holds the
placebo-in-space test and calls this beside it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from proeftuin.estimators.its.estimate import estimate_its

EFFECTS = ("level_change", "slope_change")


def placebo_in_time(
    series: pd.DataFrame,
    *,
    start: float,
    family: str,
    slope: bool,
    controlled: bool,
    alpha: float = 0.05,
    min_pre: int = 5,
    min_post: int = 3,
) -> pd.DataFrame:
    """The site's ITS at fake starts inside its pre-period, fitted on pre-period data only.

    ``series`` as from :func:`site_series`. Fake starts leave at least ``min_pre`` points
    before and ``min_post`` (at least 2 with a slope) before the real start. One row per
    fake start and effect, with the model-based (Newey-West or GLM) p-value: a diagnostic
    of the counterfactual, not a test of the programme.
    """
    pre = series[series["time"] < float(start)].reset_index(drop=True)
    times = pre["time"].to_numpy(float)
    need_post = max(min_post, 2 if slope else 1)
    fakes = [s for i, s in enumerate(times) if i >= min_pre and len(times) - i >= need_post]
    rows = []
    for s in fakes:
        res = estimate_its(pre, start=s, alpha=alpha, **_its_kwargs(family, slope, controlled))
        for name in EFFECTS[: 1 + slope]:
            eff = getattr(res, name)
            rows.append(
                {
                    "fake_start": s,
                    "effect": name,
                    "estimate": eff.estimate,
                    "rate_ratio": eff.ratio,
                    "se": eff.se,
                    "p_value": eff.p_value,
                    "n_pre": int((times < s).sum()),
                    "n_post": int((times >= s).sum()),
                }
            )
    cols = ["fake_start", "effect", "estimate", "rate_ratio", "se", "p_value", "n_pre", "n_post"]
    return pd.DataFrame(rows, columns=cols)


def _its_kwargs(family: str, slope: bool, controlled: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "time": "time",
        "outcome": "y",
        "exposure": "exposure",
        "family": family,
        "slope": slope,
    }
    if controlled:
        kw.update(control="yc", control_exposure="exposure_c")
    return kw
