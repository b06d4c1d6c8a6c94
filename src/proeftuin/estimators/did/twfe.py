"""Two-way fixed effects by pyfixest: the pooled estimate, the event study with its joint
pre-trend test, the canonical 2x2 and the placebo-in-time check."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin.estimators import _pyfixest as pfx
from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.panel import Fit, Panel, RunOptions, residualizer, treated_clusters
from proeftuin.estimators.did.placebo import ri_pretrend
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.inference.streams import method_rng
from proeftuin.estimators.results import InferenceResult


def fit_failed(what: str, exc: Exception) -> DesignError:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(exc).__name__
    return DesignError(f"{what} cannot be estimated: {reason}")


def feols_fit(panel: Panel, rhs: str, fe: str = "unit + time"):
    covs = "".join(f" + {x}" for x in panel.covariates)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pfx.feols(
                f"y ~ {rhs}{covs} | {fe}",
                data=panel.df,
                weights="w" if panel.has_weights else None,
                vcov={"CRV1": "cl"},
                fixef_rm="none",
            )
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise fit_failed("the fixed-effects regression", exc) from exc
    dropped = [x for x in panel.covariates if x not in fit.coef().index]
    if dropped:
        which = ", ".join(str(int(x[1:]) + 1) for x in dropped)
        raise DesignError(
            f"covariate number {which} is collinear with the treatment or the fixed effects"
        )
    if not any(n == "d" or n.startswith("rel::") for n in fit.coef().index):
        raise DesignError(
            "the fixed-effects regression cannot identify the treatment effect: the treatment "
            "is collinear with the unit and period fixed effects"
        )
    return fit


def band_critical(n_clusters: int, alpha: float) -> float:
    """Pointwise event-study band: t(G-1) critical value, for TWFE and imputation alike."""
    return float(stats.t.ppf(1 - alpha / 2, max(n_clusters - 1, 1)))


def event_study(
    panel: Panel, ref_period: int, alpha: float
) -> tuple[pd.DataFrame, dict | None, pd.DataFrame]:
    """The event-study coefficients with pointwise bands (reference period included, at 0),
    the joint pre-trend test, and the CRV1 covariance of the ``rel::k`` coefficients indexed
    and columned by event time, sorted, reference period excluded (HonestDiD's sigma)."""
    df = panel.df
    rel = np.where(df["g"] > 0, df["time"] - df["g"], ref_period).astype(int)
    es_panel = replace(panel, df=df.assign(rel=rel))
    fit = feols_fit(es_panel, f"i(rel, ref={ref_period})")
    coefs = fit.coef()
    names = [n for n in coefs.index if n.startswith("rel::")]
    times = np.array([int(float(n.split("::")[1])) for n in names])
    se = fit.se()[names].to_numpy()
    crit = band_critical(pfx.n_clusters(fit), alpha)
    est = coefs[names].to_numpy()
    es = pd.DataFrame(
        {
            "event_time": times,
            "estimate": est,
            "se": se,
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
        }
    )
    ref = pd.DataFrame(
        {
            "event_time": [ref_period],
            "estimate": [0.0],
            "se": [0.0],
            "ci_low": [0.0],
            "ci_high": [0.0],
        }
    )
    es = pd.concat([es, ref]).sort_values("event_time").reset_index(drop=True)
    leads = [
        i
        for i, n in enumerate(pfx.coefficient_names(fit))
        if n in names and times[names.index(n)] < 0
    ]
    all_names = list(pfx.coefficient_names(fit))
    order = np.argsort(times, kind="stable")
    idx = [all_names.index(names[i]) for i in order]
    vcov = pd.DataFrame(pfx.vcov(fit)[np.ix_(idx, idx)], index=times[order], columns=times[order])
    wald = _wald(pfx.coefficients(fit), pfx.vcov(fit), leads, pfx.n_clusters(fit))
    return es, wald, vcov


def _wald(beta: np.ndarray, vcov: np.ndarray, idx: list[int], n_clusters: int) -> dict | None:
    """Joint F test that the lead coefficients are zero, F(q, G-1) reference."""
    if not idx:
        return None
    b = beta[idx]
    w = float(b @ np.linalg.pinv(vcov[np.ix_(idx, idx)]) @ b)
    q = len(idx)
    return {
        "statistic": w / q,
        "df": q,
        "df_denominator": n_clusters - 1,
        "p_value": float(stats.f.sf(w / q, q, max(n_clusters - 1, 1))),
    }


def collapse_2x2(panel: Panel) -> Panel:
    """Each unit's pre- and post-period means: the canonical two-group, two-period panel."""
    starts = panel.df.loc[panel.df["g"] > 0, "g"].unique()
    if len(starts) != 1:
        raise DesignError(f"method '2x2' needs one common start; found {sorted(starts)}")
    df = panel.df.assign(post=(panel.df["time"] >= starts[0]).astype(float))
    cols = ["y", "w", *panel.covariates]
    out = df.groupby(["unit", "post"], as_index=False).agg(
        {
            **{c: "mean" for c in cols},
            "g": "first",
            "cl": "first",
            **({"pgrp": "first"} if "pgrp" in df else {}),
        }
    )
    out["time"] = out["post"]
    # first-treated on the collapsed time axis (post = 1), so placebo starts line up too
    out["g"] = (out["g"] > 0).astype(float)
    out["d"] = ((out["g"] > 0) & (out["post"] == 1)).astype(float)
    return replace(panel, df=out.drop(columns="post"))


def placebo_in_time(panel: Panel, alpha: float = 0.05) -> dict | None:
    """Pretend treatment began half-way through the pre-period; TWFE on pre-period rows only."""
    times = panel.times
    first = panel.df.loc[panel.df["g"] > 0, "g"].min()
    pre = times[times < first]
    if len(pre) < 3:
        return None
    if not (panel.df["g"] == 0).any():
        return None  # every unit would get the fake start: no comparison
    fake = pre[len(pre) // 2]
    df = panel.df.loc[panel.df["time"] < first].copy()
    df["g"] = np.where(df["g"] > 0, fake, 0.0)
    df["d"] = ((df["g"] > 0) & (df["time"] >= fake)).astype(float)
    fit = feols_fit(replace(panel, df=df), "d")
    est, se = float(fit.coef()["d"]), float(fit.se()["d"])
    return {
        "fake_start": float(fake),
        "estimate": est,
        "se": se,
        "p_value": inf.t_pvalue(est, se, max(pfx.n_clusters(fit) - 1, 1)),
    }


# --- the estimator and its bootstrap -----------------------------------------------------


def fit_twfe(panel: Panel, opts: RunOptions) -> Fit:
    """TWFE (or, for ``2x2``, on the pre/post means of each unit), with the event study."""
    work = collapse_2x2(panel) if opts.method == "2x2" else panel
    fit = feols_fit(work, "d")
    out = Fit(
        work,
        float(fit.coef()["d"]),
        float(fit.se()["d"]),
        int(work.df["cl"].nunique()),
        treated_clusters(work),
        {"estimator": "pyfixest feols, unit and period fixed effects"},
    )
    es, pre, vcov = (None, None, None)
    if opts.event_study and opts.method == "twfe":
        es, pre, vcov = event_study(panel, opts.ref_period, opts.alpha)
    out.result = {"event_study": es, "pretrend": pre, "event_vcov": vcov}

    def finish(results: dict[str, InferenceResult]) -> None:
        if pre is None:
            return
        if "ri" in results:
            rng = method_rng(opts.seed, "ri_pretrend")
            pre.update(ri_pretrend(panel, out.cache["placebo"], opts.ref_period, opts.draws, rng))
        if out.n_treated_clusters < inf.FEW_TREATED_CLUSTERS:
            pre["note"] = "CRV1 pre-trend test unreliable with few treated clusters"

    out.finish = finish
    return out


def _wild(fit: Fit, opts: RunOptions, restricted: bool) -> InferenceResult:
    if "wild" not in fit.cache:  # one projection and one set of draws for WCR and WCU
        df = fit.panel.df
        ws = inf.wild_setup(
            df["y"].to_numpy(),
            df["d"].to_numpy(),
            residualizer(fit.panel),
            df["cl"].to_numpy(),
            fit.se,
        )
        v = inf.webb_weights(method_rng(opts.seed, "wild"), opts.draws, len(ws.a0))
        fit.cache["wild"] = (ws, v)
    ws, v = fit.cache["wild"]
    res = inf.wild_result(ws, v, restricted, fit.se, opts.alpha)
    return inf.flag_wild(res, fit.n_treated_clusters)


def wild_restricted(fit: Fit, opts: RunOptions) -> InferenceResult:
    """Wild cluster bootstrap with the null imposed (WCR), Webb weights."""
    return _wild(fit, opts, True)


def wild_unrestricted(fit: Fit, opts: RunOptions) -> InferenceResult:
    """Wild cluster bootstrap without the null imposed (WCU), Webb weights."""
    return _wild(fit, opts, False)
