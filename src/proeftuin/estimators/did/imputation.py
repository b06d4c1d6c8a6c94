"""The imputation estimator: Gardner's two stages (equal to Borusyak, Jaravel & Spiess's
point estimate), the first stage solved exactly for any set of untreated rows (so RI's
placebo fits need no refit), and the GMM variance of pyfixest's ``did2s`` computed here in
memory linear in units (pyfixest builds a dense rows x units design)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from proeftuin.estimators import _pyfixest as pfx
from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.imputation_stage import FirstStage
from proeftuin.estimators.did.panel import Fit, Panel, RunOptions, treated_clusters
from proeftuin.estimators.did.twfe import band_critical, fit_failed


def _imputation_fit(panel: Panel, rhs_cols: list[str]) -> tuple[np.ndarray, np.ndarray, Callable]:
    """Two stages: FE (+covariates) on untreated rows, then residualised y on rhs_cols.

    The first stage is solved exactly (:mod:`~proeftuin.estimators.did.imputation_stage`), by
    pyfixest where that system is rank deficient (pyfixest drops the collinear covariate)."""
    df = panel.df
    untreated_rows = (df["d"] == 0).to_numpy()
    missing = sorted(set(df["time"]) - set(df.loc[untreated_rows, "time"]))
    if missing:
        raise DesignError(
            "method 'imputation' needs untreated observations in every period; "
            f"none in {', '.join(f'{t:g}' for t in missing)} (every unit treated): "
            "add never-treated units or end the panel earlier"
        )
    y0 = FirstStage.from_panel(panel).fitted(untreated_rows)
    if y0 is None:
        y0 = _pyfixest_first_stage(panel, df.loc[untreated_rows])
    unseen = np.isnan(y0) & ~untreated_rows
    if unseen.any():
        units = ", ".join(str(u) for u in df.loc[unseen, "unit"].unique()[:3])
        raise DesignError(
            "method 'imputation' needs every treated unit observed before its start; "
            f"not observed before: unit {units}: drop them or use another method"
        )
    ytil = df["y"].to_numpy() - y0
    x2 = df[rhs_cols].to_numpy(dtype=float)
    w = df["w"].to_numpy()
    beta = np.linalg.lstsq(x2 * np.sqrt(w)[:, None], ytil * np.sqrt(w), rcond=None)[0]

    def vcov() -> np.ndarray:
        return gmm_vcov(
            panel,
            x2,
            first_u=np.where(df["d"] == 0, ytil, 0.0),
            second_u=ytil - x2 @ beta,
        )

    return beta, ytil, vcov


def _pyfixest_first_stage(panel: Panel, untreated: pd.DataFrame) -> np.ndarray:
    fml = "y ~ " + (" + ".join(panel.covariates) if panel.covariates else "1") + " | unit + time"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = pfx.feols(
                fml, data=untreated, weights="w" if panel.has_weights else None, fixef_rm="none"
            )
            return np.asarray(first.predict(newdata=panel.df), dtype=float)
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise fit_failed("the imputation first stage", exc) from exc


def _cluster_sum(codes: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    return np.stack([np.bincount(codes, weights=v, minlength=n) for v in values.T], axis=1)


def gmm_vcov(panel: Panel, x2: np.ndarray, first_u: np.ndarray, second_u: np.ndarray) -> np.ndarray:
    """Gardner's two-stage GMM variance, clustered, in memory linear in units.

    The same sandwich as pyfixest's ``did2s`` variance, ``(X2'WX2)^-1 sum_g W_g W_g'
    (X2'WX2)^-1`` with ``W_g = X2_g'W u2_g - V X10_g'W u1_g`` and ``V = X2'WX1
    (X10'WX10)^-1``, X1 the first stage's covariates and unit and period dummies (X10 on
    untreated rows), without a dense rows x (units + periods) design: the unit block of
    ``X10'WX10`` is diagonal, so the system is solved by eliminating units (a Schur
    complement of periods and covariates), and ``V X10_g'W u1_g`` is the fitted value of
    ``V'`` at each untreated row, summed within clusters.
    """
    df = panel.df
    units, uix = np.unique(df["unit"].to_numpy(), return_inverse=True)
    times, tix = np.unique(df["time"].to_numpy(), return_inverse=True)
    n_u, n_t = len(units), len(times)
    w = df["w"].to_numpy(dtype=float)
    w0 = w * (df["d"].to_numpy() == 0)  # first-stage weights: untreated rows only
    x = df[panel.covariates].to_numpy(dtype=float)
    # the non-unit columns of X1: period dummies (the first dropped) and covariates
    rest = np.zeros((len(df), n_t - 1 + x.shape[1]))
    later = tix > 0
    rest[np.flatnonzero(later), tix[later] - 1] = 1.0
    rest[:, n_t - 1 :] = x
    d_u = np.bincount(uix, weights=w0, minlength=n_u)
    f = _cluster_sum(uix, n_u, w0[:, None] * rest)  # unit x rest block of X10'WX10
    c_u = _cluster_sum(uix, n_u, w[:, None] * x2)  # X1'WX2, unit rows
    c_r = rest.T @ (w[:, None] * x2)  # X1'WX2, other rows
    with np.errstate(divide="ignore", invalid="ignore"):
        schur = (rest.T @ (w0[:, None] * rest)) - f.T @ (f / d_u[:, None])
        g_r = np.linalg.solve(schur, c_r - f.T @ (c_u / d_u[:, None]))
        g_u = (c_u - f @ g_r) / d_u[:, None]
    fitted = g_u[uix] + rest @ g_r  # V' x1 at each row
    codes, uniques = pd.factorize(df["cl"])
    score = _cluster_sum(codes, len(uniques), (w * second_u)[:, None] * x2)
    score -= _cluster_sum(codes, len(uniques), (w0 * first_u)[:, None] * fitted)
    bread = np.linalg.inv(x2.T @ (w[:, None] * x2))
    return bread @ (score.T @ score) @ bread


def placebo_point(panel: Panel) -> Callable[[np.ndarray], float]:
    """The imputation estimate under a placebo first-treated value per row (RI): the first
    stage's fixed parts built once, then per assignment its exact solution and the treated
    rows' weighted mean residual (the second stage on ``d`` alone); a rank-deficient first
    stage is refitted by pyfixest."""
    stage = FirstStage.from_panel(panel)
    t = panel.df["time"].to_numpy()

    def point(g_row: np.ndarray) -> float:
        d = (g_row > 0) & (t >= g_row)
        if np.bincount(stage.tix[~d], minlength=stage.n_times).min() == 0:
            raise DesignError("a period without untreated rows")
        y0 = stage.fitted(~d)
        if y0 is None:
            y0 = _pyfixest_first_stage(panel, panel.df.loc[~d])
        w = stage.w[d]
        return float(w @ (stage.y[d] - y0[d]) / w.sum())

    return point


def imputation_event_study(panel: Panel, alpha: float) -> pd.DataFrame:
    df = panel.df
    rel = np.where(df["g"] > 0, df["time"] - df["g"], np.nan)
    post_rel = sorted({int(r) for r in rel[~np.isnan(rel)] if r >= 0})
    cols = {f"e{r}": (rel == r).astype(float) for r in post_rel}
    p2 = replace(panel, df=df.assign(**cols))
    beta, _, vcov = _imputation_fit(p2, list(cols))
    se = np.sqrt(np.diag(vcov()))
    crit = band_critical(int(panel.df["cl"].nunique()), alpha)
    return pd.DataFrame(
        {
            "event_time": post_rel,
            "estimate": beta,
            "se": se,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )


def fit_imputation(panel: Panel, opts: RunOptions) -> Fit:
    """The imputation estimate with its GMM standard error and post-period event study."""
    beta, _, vcov = _imputation_fit(panel, ["d"])
    try:
        est, se = float(beta[0]), float(np.sqrt(vcov()[0, 0]))
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise fit_failed("the imputation variance", exc) from exc
    out = Fit(
        panel,
        est,
        se,
        int(panel.df["cl"].nunique()),
        treated_clusters(panel),
        {"estimator": "imputation (Gardner two-stage), GMM variance"},
        point=placebo_point(panel),
    )
    es = imputation_event_study(panel, opts.alpha) if opts.event_study else None
    out.result = {"event_study": es}
    return out
