"""The imputation estimator: Gardner's two stages (equal to Borusyak, Jaravel & Spiess's
point estimate) with pyfixest fits and pyfixest's GMM variance."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from proeftuin.estimators import _pyfixest as pfx
from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.panel import Fit, Panel, RunOptions, treated_clusters
from proeftuin.estimators.twfe import band_critical, fit_failed


def _imputation_fit(panel: Panel, rhs_cols: list[str]) -> tuple[np.ndarray, np.ndarray, Callable]:
    """Two stages: FE (+covariates) on untreated rows, then residualised y on rhs_cols."""
    df = panel.df
    untreated = df.loc[df["d"] == 0]
    missing = sorted(set(df["time"]) - set(untreated["time"]))
    if missing:
        raise DesignError(
            "method 'imputation' needs untreated observations in every period; "
            f"none in {', '.join(f'{t:g}' for t in missing)} (every unit treated): "
            "add never-treated units or end the panel earlier"
        )
    fml = "y ~ " + (" + ".join(panel.covariates) if panel.covariates else "1") + " | unit + time"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = pfx.feols(
                fml, data=untreated, weights="w" if panel.has_weights else None, fixef_rm="none"
            )
            y0 = first.predict(newdata=df)
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise fit_failed("the imputation first stage", exc) from exc
    ytil = df["y"].to_numpy() - np.asarray(y0, dtype=float)
    x2 = df[rhs_cols].to_numpy(dtype=float)
    w = df["w"].to_numpy()
    beta = np.linalg.lstsq(x2 * np.sqrt(w)[:, None], ytil * np.sqrt(w), rcond=None)[0]

    def vcov() -> np.ndarray:
        data = df.assign(y_hat=ytil, treat_flag=df["d"].astype(bool))
        second = "~ 0 + " + " + ".join(rhs_cols)
        first_rhs = "~ " + (" + ".join(panel.covariates) if panel.covariates else "0")
        return pfx.did2s_vcov(
            data=data,
            yname="y",
            first_stage=f"{first_rhs} | unit + time",
            second_stage=second,
            treatment="treat_flag",
            first_u=np.where(df["d"] == 0, ytil, 0.0).astype(float),
            second_u=(ytil - x2 @ beta).astype(float),
            cluster="cl",
            weights="w" if panel.has_weights else None,
        )

    return beta, ytil, vcov


def imputation_point(panel: Panel) -> float:
    return float(_imputation_fit(panel, ["d"])[0][0])


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
        point=imputation_point,
    )
    es = imputation_event_study(panel, opts.alpha) if opts.event_study else None
    out.result = {"event_study": es}
    return out
