"""Interrupted time series: segmented regression of one series, optionally against a control.

Level change and slope change at the intervention, by OLS with Newey-West errors (with
Stata ``newey``'s small-sample factor n/(n-k); or AR(1) errors by feasible GLS), or by a
Poisson / quasi-Poisson GLM with the log of the population at risk as offset; Fourier
terms absorb seasonality of sub-annual series. Gaussian fits take p-values, intervals and
counterfactual bands from t(df_resid), not the normal: with ~13 annual points Newey-West
tests against the normal reject far too often. The t reference narrows but does not close
that gap (Newey-West variances are biased down on short series); single-series GLM fits
keep the normal reference. A controlled fit stacks treated and control series, which share
every period: its errors are time-clustered HAC (Driscoll-Kraay; for the Gaussian fit
exactly Newey-West on the difference series) with a t(n - k) reference. All
fitting is statsmodels'; this module only builds the design, checks that the pre-period
can identify a trend, and derives the counterfactual with its band.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.stattools import durbin_watson

from proeftuin.estimators.checks import (
    DesignError,
    InsufficientPrePeriod,
    require_columns,
    require_numeric,
    require_unique_rows,
)
from proeftuin.estimators.results import Effect, ItsResult

FAMILIES = ("gaussian", "poisson", "quasipoisson")


def newey_west_lags(n: int) -> int:
    """The usual automatic bandwidth, floor(4 (n/100)^(2/9))."""
    return int(math.floor(4 * (n / 100) ** (2 / 9)))


def _series(
    data: pd.DataFrame,
    time: str,
    outcome: str,
    exposure: str | None,
    control: str | None,
    control_exposure: str | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """The series in standard columns, and the time values of rows dropped as missing."""
    if control_exposure and not control:
        raise DesignError("--control-exposure needs a control series (--control)")
    if control and exposure and not control_exposure:
        raise DesignError(
            "--exposure with a control series needs the control's own population at risk: "
            "give --control-exposure"
        )
    require_columns(data, [time, outcome, exposure, control, control_exposure])
    require_unique_rows(data, [time])
    df = pd.DataFrame(
        {"t": require_numeric(data, time, "time"), "y": require_numeric(data, outcome, "outcome")}
    )
    df["exposure"] = require_numeric(data, exposure, "exposure") if exposure else 1.0
    if control:
        df["yc"] = require_numeric(data, control, "control")
        df["exposure_c"] = (
            require_numeric(data, control_exposure, "control exposure") if control_exposure else 1.0
        )
    missing = df.isna().any(axis=1)
    df = df.loc[~missing].sort_values("t").reset_index(drop=True)
    if (df["exposure"] <= 0).any():
        raise DesignError(f"exposure column '{exposure}' must be positive")
    if control and (df["exposure_c"] <= 0).any():
        raise DesignError(f"control exposure column '{control_exposure}' must be positive")
    return df, data.loc[missing.to_numpy(), time]


def _refuse_gaps(df: pd.DataFrame, dropped_times: pd.Series, time: str) -> None:
    """Refuse a series whose periods are not evenly spaced.

    Newey-West lags and AR(1) errors treat neighbouring rows as adjacent periods; a gap
    (a missing row, or a row dropped for a missing value) would silently break that.
    """
    t = df["t"].to_numpy()
    if len(t) < 3:
        return
    steps = np.diff(t)
    step = steps.min()
    if step <= 0 or np.allclose(steps, step):
        return
    at = int(np.flatnonzero(~np.isclose(steps, step))[0])
    dropped = pd.to_numeric(dropped_times, errors="coerce").dropna()
    inside = dropped[(dropped > t[at]) & (dropped < t[at + 1])]
    why = " (a row with a missing value was dropped there)" if len(inside) else ""
    raise DesignError(
        f"gap in the series: nothing between {t[at]:g} and {t[at + 1]:g} on '{time}'{why}; "
        f"ITS needs evenly spaced periods (step {step:g}): fill the gap or end the series "
        "before it"
    )


def _check_options(
    n: int,
    period: int | None,
    harmonics: int,
    maxlags: int | None,
    ar_errors: bool,
    family: str,
    control: str | None,
) -> None:
    """The numeric options, against their ranges and against the series (n points)."""
    if family not in FAMILIES:
        raise DesignError(f"unknown family '{family}'; choose from {', '.join(FAMILIES)}")
    if ar_errors and family != "gaussian":
        raise DesignError(
            "--ar-errors is available for the gaussian family only (--family gaussian)"
        )
    if period is not None and (isinstance(period, bool) or period < 2):
        raise DesignError(f"--period must be at least 2 (got {period})")
    if harmonics < 0:
        raise DesignError(f"--harmonics must be 0 or more (got {harmonics})")
    if harmonics and period and 2 * harmonics >= period:
        raise DesignError(
            f"--harmonics must be below --period / 2 (got {harmonics} with period {period}): "
            "higher Fourier pairs repeat lower ones"
        )
    if maxlags is not None:
        if maxlags < 0:
            raise DesignError(f"--maxlags must be 0 or more (got {maxlags})")
        if maxlags >= n:
            raise DesignError(
                f"--maxlags {maxlags} is not below the number of points in the series ({n})"
            )
        if not control and (family != "gaussian" or ar_errors):
            raise DesignError(
                "--maxlags sets Newey-West lags, used with --control or by --family gaussian "
                "without --ar-errors"
            )


def _check_design(
    df: pd.DataFrame, start: float, harmonics: int, period: int | None, family: str, slope: bool
) -> None:
    if family not in FAMILIES:
        raise DesignError(f"unknown family '{family}'; choose from {', '.join(FAMILIES)}")
    if harmonics and not period:
        raise DesignError("--harmonics need a season length: give --period (e.g. 12 for months)")
    n_pre, n_post = int((df["t"] < start).sum()), int((df["t"] >= start).sum())
    need = 3 + 2 * harmonics
    if n_pre == 0:
        raise InsufficientPrePeriod(f"no pre-period: no observation before {start:g}")
    if n_pre < need:
        raise InsufficientPrePeriod(
            f"too few pre-period points to identify a trend: {n_pre} before {start:g}, "
            f"need at least {need}"
        )
    if n_post == 0:
        raise DesignError(f"no post-period: no observation at or after {start:g}")
    if slope and n_post < 2:
        raise DesignError(
            f"a slope change needs at least 2 post-period points; found {n_post} at or after "
            f"{start:g}: fit the level change only (--impact level)"
        )
    if family != "gaussian" and ((df["y"] < 0).any() or ("yc" in df and (df["yc"] < 0).any())):
        raise DesignError(f"--family {family} needs non-negative counts")


def _design(
    t: np.ndarray, start: float, slope: bool, period: int | None, harmonics: int, t0: float
) -> pd.DataFrame:
    x = pd.DataFrame({"const": 1.0, "trend": t - t0, "level": (t >= start).astype(float)})
    if slope:
        x["slope"] = np.where(t >= start, t - start, 0.0)
    for k in range(1, harmonics + 1):
        x[f"sin{k}"] = np.sin(2 * np.pi * k * t / period)
        x[f"cos{k}"] = np.cos(2 * np.pi * k * t / period)
    return x


def _stacked(df: pd.DataFrame, x: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Controlled ITS: treated and control series stacked, treated-specific terms added."""
    xt, xc = x.copy(), x.copy()
    for col in ["const", "trend", "level", *(["slope"] if "slope" in x else [])]:
        xt[f"g_{col}"], xc[f"g_{col}"] = x[col], 0.0
    xs = pd.concat([xt, xc], ignore_index=True)
    y = np.concatenate([df["y"].to_numpy(), df["yc"].to_numpy()])
    expo = np.concatenate([df["exposure"].to_numpy(), df["exposure_c"].to_numpy()])
    return xs, y, expo


def _fit(
    y: np.ndarray,
    x: pd.DataFrame,
    expo: np.ndarray,
    family: str,
    ar_errors: bool,
    maxlags: int,
    periods: np.ndarray | None,
):
    """Fit; ``periods`` (controlled designs) labels the time period of each stacked row.

    Single series: Newey-West with Stata ``newey``'s small-sample factor n/(n-k) (Gaussian),
    model-based errors (GLM). Controlled: treated and control share every period, so the
    scores are summed per period before the Newey-West weighting (Driscoll-Kraay, time-
    clustered HAC), with the factor N/(N-K) = n/(n-k). For the Gaussian fit this is exactly
    Newey-West on the difference series treated - control (Lopez Bernal, Cummins &
    Gasparrini 2018); for Poisson / quasi-Poisson it is the same time-clustered sandwich.
    """
    hac: dict[str, Any] = {"maxlags": maxlags, "use_correction": True}
    if periods is not None:
        hac = {"time": periods, "maxlags": maxlags, "use_correction": "hac"}
    if family == "gaussian":
        target = y / expo
        if ar_errors:
            if periods is not None:
                raise DesignError(
                    "ar_errors with a control series is not available (AR(1) GLS on the "
                    "stacked series would treat the shared periods as independent); use "
                    "the default Newey-West errors on the difference series"
                )
            return sm.GLSAR(target, x, rho=1).iterative_fit(maxiter=20)
        if periods is not None:
            return sm.OLS(target, x).fit(cov_type="hac-groupsum", cov_kwds=hac)
        return sm.OLS(target, x).fit(cov_type="HAC", cov_kwds=hac)
    if ar_errors:
        raise DesignError("ar_errors is available for the gaussian family only")
    model = sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(expo))
    if periods is not None:
        return model.fit(cov_type="hac-groupsum", cov_kwds=hac)
    return model.fit(scale="X2" if family == "quasipoisson" else None)


def _reference_df(res, log_link: bool, controlled: bool) -> float | None:
    """Degrees of freedom of the t reference, None for the normal (single-series GLM).

    A single Gaussian series: the residual degrees of freedom n - k. A controlled design
    (any family): the n shared periods are the independent units, so n - k of the
    difference model, half the stacked residual degrees of freedom (never 2n - 2k).
    statsmodels' own ``use_t`` would take the number of groups minus one instead.
    """
    if controlled:
        return float(res.df_resid) / 2
    return None if log_link else float(res.df_resid)


def _effect(res, name: str, log_link: bool, alpha: float, df: float | None) -> Effect:
    est, se = float(res.params[name]), float(res.bse[name])
    if df is None:
        lo, hi = (float(v) for v in np.asarray(res.conf_int(alpha).loc[name]))
        p = float(res.pvalues[name])
    else:
        crit = float(stats.t.ppf(1 - alpha / 2, df))
        lo, hi = est - crit * se, est + crit * se
        p = float(2 * stats.t.sf(abs(est / se), df)) if se > 0 else float("nan")
    eff = Effect(est, se, lo, hi, p)
    if log_link:
        eff.ratio, eff.ratio_ci_low, eff.ratio_ci_high = math.exp(est), math.exp(lo), math.exp(hi)
    return eff


def _counterfactual(
    res,
    x: pd.DataFrame,
    df: pd.DataFrame,
    effect_cols: list[str],
    log_link: bool,
    alpha: float,
    ref_df: float | None,
) -> pd.DataFrame:
    n = len(df)
    xf = x.iloc[:n]
    xcf = xf.copy()
    xcf[effect_cols] = 0.0
    cov = np.asarray(res.cov_params())
    beta = np.asarray(res.params)
    eta_f, eta_cf = xf.to_numpy() @ beta, xcf.to_numpy() @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", xcf.to_numpy(), cov, xcf.to_numpy()))
    z = stats.norm.ppf(1 - alpha / 2) if ref_df is None else stats.t.ppf(1 - alpha / 2, ref_df)
    if log_link:
        off = np.log(df["exposure"].to_numpy())
        tr = np.exp
        eta_f, eta_cf = eta_f + off, eta_cf + off
    else:

        def tr(v):  # noqa: E306 - identity link
            return v

    return pd.DataFrame(
        {
            "time": df["t"],
            "post": xf["level"].astype(bool).to_numpy(),
            "observed": df["y"] if log_link else df["y"] / df["exposure"],
            "fitted": tr(eta_f),
            "counterfactual": tr(eta_cf),
            "cf_low": tr(eta_cf - z * se),
            "cf_high": tr(eta_cf + z * se),
        }
    )


def _diagnostics(
    res, family: str, df: pd.DataFrame, start: float, maxlags: int, period: int | None
) -> dict[str, Any]:
    resid = np.asarray(res.resid_pearson if family != "gaussian" else res.resid)
    if family == "gaussian" and len(resid) == 2 * len(df):  # controlled: difference series
        resid = resid[: len(df)] - resid[len(df) :]
    resid = resid[: len(df)]
    lags = period if period and period < len(resid) // 2 else max(1, min(10, len(resid) // 5))
    lb = acorr_ljungbox(resid, lags=[lags])
    out = {
        "durbin_watson": float(durbin_watson(resid)),
        "ljung_box_p": float(lb["lb_pvalue"].iloc[0]),
        "ljung_box_lags": int(lags),
        "n_pre": int((df["t"] < start).sum()),
        "n_post": int((df["t"] >= start).sum()),
        "dispersion": None,
        "newey_west_lags": maxlags if family == "gaussian" or "yc" in df else None,
    }
    if family != "gaussian":
        out["dispersion"] = float(res.pearson_chi2 / res.df_resid)
    if hasattr(res.model, "rho"):
        out["ar_rho"] = float(np.atleast_1d(res.model.rho)[0])
    return out


def estimate_its(
    data: pd.DataFrame,
    *,
    time: str,
    outcome: str,
    start: Any,
    exposure: str | None = None,
    family: str = "gaussian",
    period: int | None = None,
    harmonics: int = 0,
    control: str | None = None,
    ar_errors: bool = False,
    maxlags: int | None = None,
    alpha: float = 0.05,
    slope: bool = True,
    control_exposure: str | None = None,
) -> ItsResult:
    """Segmented regression; ``slope=False`` (``--impact level``) fits the level change only.

    ``slope=True`` needs at least two post-period points. With a ``control`` series and an
    ``exposure``, ``control_exposure`` must give the control's own population at risk.
    Gaussian fits use a t(df_resid) reference for p-values, intervals and the
    counterfactual band (Newey-West with few annual points over-rejects against the
    normal); single-series Poisson and quasi-Poisson fits use the normal. With a
    ``control``, errors are time-clustered (the n shared periods are the units, t(n - k)).

    Rows with a missing value are dropped and counted (``diagnostics["dropped_missing_rows"]``,
    with a line in ``diagnostics["warnings"]``); a series whose remaining periods are not
    evenly spaced is refused, because the Newey-West lags would treat a gap as adjacent
    periods. Error messages name the command-line options (``--impact level`` for
    ``slope=False``).
    """
    df, dropped_times = _series(data, time, outcome, exposure, control, control_exposure)
    _check_options(len(df), period, harmonics, maxlags, ar_errors, family, control)
    try:
        start_v = float(start)
    except (TypeError, ValueError):
        raise DesignError(f"start {start!r} is not a number on the time axis '{time}'") from None
    _check_design(df, start_v, harmonics, period, family, slope)
    _refuse_gaps(df, dropped_times, time)
    t = df["t"].to_numpy()
    x = _design(t, start_v, slope, period, harmonics, t[0])
    lags = newey_west_lags(len(df)) if maxlags is None else maxlags
    periods = None
    y, expo = df["y"].to_numpy(), df["exposure"].to_numpy()
    lvl, slp = "level", "slope"
    if control:
        x, y, expo = _stacked(df, x)
        periods = np.tile(np.arange(len(df)), 2)
        lvl, slp = "g_level", "g_slope"
    res = _fit(y, x, expo, family, ar_errors, lags, periods)
    log_link = family != "gaussian"
    ref = _reference_df(res, log_link, controlled=periods is not None)
    effects = [lvl] + ([slp] if slope else [])
    diagnostics = _diagnostics(res, family, df, start_v, lags, period)
    dropped = len(dropped_times)
    diagnostics["dropped_missing_rows"] = dropped
    diagnostics["warnings"] = [f"dropped {dropped} rows with a missing value"] if dropped else []
    return ItsResult(
        level_change=_effect(res, lvl, log_link, alpha, ref),
        slope_change=_effect(res, slp, log_link, alpha, ref) if slope else None,
        counterfactual=_counterfactual(res, x, df, effects, log_link, alpha, ref),
        diagnostics=diagnostics,
        family=family,
        start=start,
    )
