"""Indirect age(-sex) standardisation of mortality: national rates by cause, sex and age
group, regrouped to another source's age classes, expected deaths and standardised
mortality ratios. Pure functions on frames (no file I/O).

National rates come from CBS 7052_95: deaths by cause, sex and 5-year group of completed
age at death, over the group's mean population. A municipality's population comes in other
classes and by another age definition, so :func:`regroup_rates` first spreads each group
over single years of age (log-linear between group densities, every group keeping its
total) and re-adds them by the target definition:

* ``completed``: completed age during the year (as 7052_95);
* ``attained``: age reached in the calendar year (year minus birth year), the Vektis age
  classes: a person of attained age A is completed age A-1 before the birthday and A after,
  so attained A = half of completed A-1 plus half of completed A (applying completed-age
  rates to attained-age classes overstates expected deaths by about 5%);
* ``jan1``: completed age on 1 January (attained age minus one; the year's births go to the
  first class), the age of CBS's 1 January counts (80860ned).

Sex is coded ``T`` (both), ``M`` and ``V`` throughout, as Vektis does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from proeftuin.core.errors import DataError

#: The open top group (95+) is spread over ages 95-104.
OPEN_TOP = 105
BASES = ("completed", "attained", "jan1")
RATE_KEYS = ["year", "sex", "age", "cause"]


def _split(totals: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Single-year values of one series of group totals: log-linear between the group
    densities at their midpoints (the end slopes continued), rescaled so that every group
    keeps its total; uniform within groups if a total is not positive."""
    widths = highs - lows
    ages = np.arange(lows[0], highs[-1])
    grp = np.searchsorted(lows, ages, side="right") - 1
    if (totals <= 0).any():
        return totals[grp] / widths[grp]
    mids = (lows + highs) / 2
    logd = np.log(totals / widths)
    x = ages + 0.5
    dens = np.interp(x, mids, logd)
    lo_slope = (logd[1] - logd[0]) / (mids[1] - mids[0])
    hi_slope = (logd[-1] - logd[-2]) / (mids[-1] - mids[-2])
    dens = np.where(x < mids[0], logd[0] + lo_slope * (x - mids[0]), dens)
    dens = np.exp(np.where(x > mids[-1], logd[-1] + hi_slope * (x - mids[-1]), dens))
    sums = np.bincount(grp, weights=dens)
    return dens * (totals / sums)[grp]


def single_years(rates: pd.DataFrame, lows: dict[str, int]) -> pd.DataFrame:
    """Deaths and population of each (year, sex, cause) spread over single years of
    completed age ``x``; ``lows``: age group label -> lower bound (the last group open)."""
    labels = sorted(lows, key=lows.get)
    lo = np.array([lows[a] for a in labels])
    hi = np.append(lo[1:], OPEN_TOP)
    out = []
    for (year, sex, cause), g in rates.groupby(["year", "sex", "cause"], sort=False):
        g = g.set_index("age").reindex(labels)
        if g["deaths"].isna().any() or g["pop"].isna().any():
            raise DataError(f"national rates: {year} {sex} {cause}: incomplete age groups")
        out.append(
            pd.DataFrame(
                {
                    "year": year,
                    "sex": sex,
                    "cause": cause,
                    "x": np.arange(lo[0], hi[-1]),
                    "deaths": _split(g["deaths"].to_numpy(float), lo, hi),
                    "pop": _split(g["pop"].to_numpy(float), lo, hi),
                }
            )  # fmt: skip
        )
    return pd.concat(out, ignore_index=True)


def regroup_rates(
    rates: pd.DataFrame,
    lows: dict[str, int],
    classes: Sequence[tuple[str, int, int]],
    basis: str,
    denominator: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """National rates for other age ``classes`` ((label, lo, hi), hi exclusive) by age
    ``basis`` (see the module docstring): year, sex, age, cause, deaths, pop, rate.
    ``denominator`` (year, sex, age, pop): the population to divide by instead of the
    transformed mean population (e.g. the source's own national count per class)."""
    if basis not in BASES:
        raise DataError(f"age basis {basis!r}: expected one of {BASES}")
    one = single_years(rates, lows)
    if basis == "completed":
        one = one.assign(a=one["x"])
    else:
        half = one.assign(deaths=one["deaths"] / 2, pop=one["pop"] / 2)
        one = pd.concat([half.assign(a=half["x"]), half.assign(a=half["x"] + 1)])
        if basis == "jan1":
            one["a"] = (one["a"] - 1).clip(lower=0)
    edges = [lo for _, lo, _ in classes] + [classes[-1][2]]
    labels = [c for c, _, _ in classes]
    one["age"] = pd.cut(one["a"], bins=edges, right=False, labels=labels).astype(object)
    if one["age"].isna().any():
        raise DataError("regroup_rates: ages outside the target classes")
    g = one.groupby(RATE_KEYS, as_index=False)[["deaths", "pop"]].sum()
    if denominator is not None:
        g = g.drop(columns="pop").merge(
            denominator[["year", "sex", "age", "pop"]], on=["year", "sex", "age"]
        )
    return g.assign(rate=g["deaths"] / g["pop"])


def expected_deaths(pop: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Expected deaths: per unit, year and cause the sum over cells of rate x population.
    ``pop``: unit, year, sex, age, pop; ``rates``: year, sex, age, cause, rate (the same
    classes and sex coding). Every populated cell needs a rate."""
    m = pop.merge(rates[RATE_KEYS + ["rate"]], on=["year", "sex", "age"], how="left")
    if m["rate"].isna().any():
        bad = m[m["rate"].isna()].iloc[0]
        raise DataError(f"expected deaths: no national rate for {bad['year']} {bad['sex']} "
                        f"{bad['age']!r}")  # fmt: skip
    m["expected"] = m["rate"] * m["pop"]
    return m.groupby(["unit", "year", "cause"], as_index=False)["expected"].sum()


def smr(observed: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """observed (unit, year, cause, observed) and expected (..., expected) -> both with
    ``smr`` = observed / expected, for the cells in both."""
    m = observed.merge(expected, on=["unit", "year", "cause"], how="inner")
    return m.assign(smr=m["observed"] / m["expected"])


def age_structure_index(expected: pd.DataFrame, total_pop: pd.DataFrame) -> pd.DataFrame:
    """I = (E / P) / (sum E / sum P) per unit, year and cause: expected deaths per head
    relative to all units, free of the level of the population source.
    ``total_pop``: unit, year, pop."""
    m = expected.merge(total_pop, on=["unit", "year"])
    nat = m.groupby(["year", "cause"])[["expected", "pop"]].transform("sum")
    return m.assign(index=(m["expected"] / m["pop"]) / (nat["expected"] / nat["pop"]))


def expected_from_index(
    index: pd.DataFrame, total_pop: pd.DataFrame, national_deaths: pd.DataFrame
) -> pd.DataFrame:
    """E = I x P x (national deaths / sum P) for a year without an age breakdown.
    ``index``: unit, year, cause, index; ``total_pop``: unit, year, pop;
    ``national_deaths``: year, cause, observed."""
    m = index.merge(total_pop, on=["unit", "year"]).merge(national_deaths, on=["year", "cause"])
    tot = m.groupby(["year", "cause"])["pop"].transform("sum")
    m["expected"] = m["index"] * m["pop"] * m["observed"] / tot
    return m[["unit", "year", "cause", "expected"]]


def direct_standardised(rates: pd.DataFrame, standard: pd.DataFrame) -> pd.DataFrame:
    """Directly standardised rate per 1,000 per year and cause: sum(rate x weight) /
    sum(weight) over the cells of ``standard`` (sex, age, weight)."""
    m = rates.merge(standard, on=["sex", "age"])
    m["w_rate"] = m["rate"] * m["weight"]
    g = m.groupby(["year", "cause"])
    return (1000 * g["w_rate"].sum() / g["weight"].sum()).rename("dsr").reset_index()


def national_gap(
    expected: pd.DataFrame, national_deaths: pd.DataFrame, pop: pd.DataFrame, mean_pop: pd.Series
) -> pd.DataFrame:
    """Check (1), per year and cause: the sum of expected deaths over units against the
    national observed deaths (``gap_pct``), beside the gap between the population source's
    total and the national mean population (``pop_gap_pct``). ``pop``: unit, year, pop;
    ``mean_pop``: national mean population by year."""
    e = expected.groupby(["year", "cause"], as_index=False)["expected"].sum()
    e = e.merge(national_deaths, on=["year", "cause"])
    p = pop.groupby("year")["pop"].sum()
    e["gap_pct"] = 100 * (e["expected"] / e["observed"] - 1)
    e["pop_source"] = e["year"].map(p)
    e["pop_national"] = e["year"].map(mean_pop)
    e["pop_gap_pct"] = 100 * (e["pop_source"] / e["pop_national"] - 1)
    return e
