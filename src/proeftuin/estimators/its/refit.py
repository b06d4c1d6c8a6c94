"""Site and placebo series from a unit x year panel, and their ITS estimates in one pass.

One job, the arithmetic under placebo-in-space inference
(:mod:`proeftuin.estimators.its.placebo`): a long panel of counts and exposure as unit x
year arrays, a group of units summed to one series beside the remaining controls, and the
level (and slope) change of :func:`estimate_its`'s segmented regression for hundreds of
such series in one vectorised pass, where a
loop of :func:`estimate_its` calls (tens of milliseconds each, mostly pandas and
statsmodels bookkeeping) would dominate a Monte Carlo study. Only point estimates:
Gaussian fits are OLS of the rate (Newey-West changes the errors, not the estimate),
Poisson and quasi-Poisson fits share their estimate (IRLS with a log-exposure offset).
Annual series only: no seasonal terms and no AR errors. The caller checks agreement with
:func:`estimate_its` on the observed site, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import (
    DesignError,
    require_columns,
    require_numeric,
    require_unique_rows,
)

MAX_ITER = 100
TOL = 1e-11


@dataclass
class Wide:
    """The balanced panel as unit x year arrays."""

    years: np.ndarray
    units: np.ndarray
    counts: np.ndarray
    exposure: np.ndarray
    treated: np.ndarray  # bool per unit
    areas: np.ndarray | None  # integer code per unit, -1 = no area
    area_names: np.ndarray | None


def wide_panel(
    data: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    exposure: str,
    treated: Any,
    area: str | None,
) -> Wide:
    require_columns(data, [unit, time, outcome, exposure, area])
    require_unique_rows(data, [unit, time])
    ucode, units = pd.factorize(data[unit], sort=True)
    tcode, years = pd.factorize(require_numeric(data, time, "time"), sort=True)
    units, years = np.asarray(units), np.asarray(years, dtype=float)
    counts = np.full((len(units), len(years)), np.nan)
    expo = counts.copy()
    counts[ucode, tcode] = require_numeric(data, outcome, "outcome").to_numpy()
    expo[ucode, tcode] = require_numeric(data, exposure, "exposure").to_numpy()
    gaps = np.isnan(counts) | np.isnan(expo)
    if gaps.any():
        i, j = np.argwhere(gaps)[0]
        raise DesignError(
            f"unbalanced panel: unit {units[i]!r} has no {outcome}/{exposure} for {years[j]:g}"
        )
    if (expo <= 0).any():
        raise DesignError(f"exposure column '{exposure}' must be positive")
    wanted = list(dict.fromkeys(np.atleast_1d(np.asarray(treated, dtype=object)).tolist()))
    missing = [u for u in wanted if u not in set(units.tolist())]
    if not wanted or missing:
        raise DesignError(f"treated units not in column '{unit}': {missing or 'none given'}")
    mask = pd.Index(units).isin(wanted)
    if (~mask).sum() <= mask.sum():
        raise DesignError(
            f"{int(mask.sum())} treated units need more controls than that to draw placebo "
            f"sites of the same size; found {int((~mask).sum())}"
        )
    codes = names = None
    if area:
        row_codes, uniques = pd.factorize(data[area])  # NaN -> -1: a unit outside every area
        codes = np.full(len(units), -1)
        codes[ucode] = row_codes
        if (codes[ucode] != row_codes).any():
            raise DesignError(f"area column '{area}' must be constant within each unit")
        names = np.asarray(uniques, dtype=object)
    return Wide(years, units, counts, expo, mask, codes, names)


def series_of(w: Wide, site: np.ndarray) -> pd.DataFrame:
    """Site totals (``y``, ``exposure``) and the other controls' totals (``yc``, ``exposure_c``)."""
    comp = ~w.treated & ~site
    return pd.DataFrame(
        {
            "time": w.years,
            "y": w.counts[site].sum(axis=0),
            "exposure": w.exposure[site].sum(axis=0),
            "yc": w.counts[comp].sum(axis=0),
            "exposure_c": w.exposure[comp].sum(axis=0),
        }
    )


def site_series(
    data: pd.DataFrame, *, unit: str, time: str, outcome: str, exposure: str, treated: Any
) -> pd.DataFrame:
    """The treated units summed to one series and the controls to one comparison series.

    Columns ``time``, ``y``, ``exposure`` (site) and ``yc``, ``exposure_c`` (controls).
    """
    w = wide_panel(data, unit, time, outcome, exposure, treated, None)
    return series_of(w, w.treated)


def segment_design(t: np.ndarray, start: float, slope: bool) -> np.ndarray:
    """Columns const, trend, level, [slope]: :func:`estimate_its`'s parametrisation."""
    t = np.asarray(t, dtype=float)
    cols = [np.ones_like(t), t - t[0], (t >= start).astype(float)]
    if slope:
        cols.append(np.where(t >= start, t - start, 0.0))
    return np.column_stack(cols)


def poisson_batch(x: np.ndarray, y: np.ndarray, expo: np.ndarray) -> np.ndarray:
    """Poisson GLM coefficients with offset log(expo) for every row of ``y``, by IRLS.

    Rows that do not converge (or whose normal equations are singular) are NaN.
    """
    off = np.log(expo)
    beta = np.linalg.lstsq(x, np.log((y + 0.5) / expo).T, rcond=None)[0].T
    done = np.zeros(len(y), dtype=bool)
    with np.errstate(all="ignore"):
        for _ in range(MAX_ITER):
            eta = beta @ x.T + off
            mu = np.exp(eta)
            z = eta - off + (y - mu) / mu
            xtwx = np.einsum("bn,np,nq->bpq", mu, x, x)
            xtwz = np.einsum("bn,np->bp", mu * z, x)
            ok = np.isfinite(xtwx).all(axis=(1, 2)) & (np.abs(np.linalg.det(xtwx)) > 0)
            new = np.full_like(beta, np.nan)
            new[ok] = np.linalg.solve(xtwx[ok], xtwz[ok][..., None])[..., 0]
            step = np.max(np.abs(new - beta), axis=1)
            beta = new
            done = step < TOL
            if done.all() or not np.isfinite(step).any():
                break
    beta[~done] = np.nan
    return beta


def fit_batch(x: np.ndarray, y: np.ndarray, expo: np.ndarray, family: str) -> np.ndarray:
    """Coefficients for every row of ``y`` (rows x years) and its exposure."""
    if family == "gaussian":
        return np.linalg.lstsq(x, (y / expo).T, rcond=None)[0].T
    return poisson_batch(x, y, expo)


def batch_estimates(
    series: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    t: np.ndarray,
    start: float,
    family: str,
    slope: bool,
    controlled: bool,
) -> np.ndarray:
    """Level (and slope) change of many series: an array rows x effects.

    ``series`` is (y, exposure, yc, exposure_c), each rows x years. The controlled
    estimate is the site's fit minus the comparison's: the stacked model of
    :func:`estimate_its` gives each series its own segment terms, so its treated-specific
    coefficients are exactly that difference.
    """
    y, e, yc, ec = (np.atleast_2d(np.asarray(a, dtype=float)) for a in series)
    x = segment_design(t, float(start), slope)
    est = fit_batch(x, y, e, family)[:, 2:]
    if controlled:
        est = est - fit_batch(x, yc, ec, family)[:, 2:]
    return est
