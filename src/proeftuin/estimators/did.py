"""Difference-in-differences on a long unit x period panel: one entry point, four estimators.

``estimate_did`` validates the panel, runs the chosen estimator and attaches inference
by every requested method. Two-way fixed effects, the event study and the 2x2 use
pyfixest; the imputation estimator follows Gardner's two stages with pyfixest fits and
pyfixest's GMM variance. Callaway & Sant'Anna's group-time ATTs are written here, from
their closed form without covariates and the influence functions of the R package ``did``,
because none of the locked libraries has them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats

from proeftuin.estimators import inference as inf
from proeftuin.estimators.results import DidResult, InferenceResult
from proeftuin.estimators.validation import (
    DesignError,
    InsufficientPrePeriod,
    require_columns,
    require_numeric,
    require_unique_rows,
)

METHODS = ("twfe", "cs", "imputation", "2x2")
INFERENCE = ("crv1", "wild", "wild_restricted", "wild_unrestricted", "ri")


@dataclass
class Panel:
    """A validated panel with standard column names: unit, time, y, g, d, cl, w, x0..xk."""

    df: pd.DataFrame
    covariates: list[str]
    has_weights: bool
    diagnostics: dict = field(default_factory=dict)
    placebo_group: str | None = None  # source column name; codes in df["pgrp"] (-1 = none)

    @property
    def times(self) -> np.ndarray:
        return np.sort(self.df["time"].unique())

    def unit_table(self) -> pd.DataFrame:
        return self.df.groupby("unit", sort=True).agg(g=("g", "first"), cl=("cl", "first"))


# --- preparation ---------------------------------------------------------------------------


def _first_treated_from_indicator(df: pd.DataFrame, col: str) -> pd.Series:
    d = df["_d_in"]
    bad = ~d.isin([0.0, 1.0])
    if bad.any():
        raise DesignError(f"treatment column '{col}' must be 0/1 (found {d[bad].iloc[0]!r})")
    if d.nunique() == 1:
        raise DesignError(
            f"treatment never changes: column '{col}' is {int(d.iloc[0])} in every row"
        )
    start = df.loc[d == 1].groupby("unit")["time"].min()
    g = df["unit"].map(start).fillna(0.0)
    if not np.array_equal((df["time"] >= g) & (g > 0), d == 1):
        raise DesignError(
            f"treatment column '{col}' switches off again; only absorbing "
            "(staggered) treatment is supported"
        )
    return g


def _first_treated_from_column(df: pd.DataFrame, col: str) -> pd.Series:
    g = require_numeric(df, col, "first-treated").fillna(0.0)
    if (g.groupby(df["unit"]).nunique() > 1).any():
        raise DesignError(f"first-treated column '{col}' varies within a unit")
    if not (g > 0).any():
        raise DesignError(f"no treated units: column '{col}' is 0 or missing for every unit")
    return g


def _check_timing(df: pd.DataFrame, col: str, diagnostics: dict) -> pd.DataFrame:
    tmin, tmax = df["time"].min(), df["time"].max()
    late = df["g"] > tmax
    if late.any():
        diagnostics["treated_after_panel"] = int(df.loc[late, "unit"].nunique())
        df.loc[late, "g"] = 0.0
    if not (df["g"] > 0).any():
        raise DesignError(f"no treated units: nobody in '{col}' is treated within the panel")
    always = (df["g"] > 0) & (df["g"] <= tmin)
    if always.all() or (always | (df["g"] == 0)).all() and always.any():
        raise InsufficientPrePeriod(
            f"no pre-period: every treated unit is treated from the first period ({tmin:g})"
        )
    if always.any():
        diagnostics["dropped_always_treated"] = int(df.loc[always, "unit"].nunique())
        df = df.loc[~always].copy()
    if not (df["g"] == 0).any() and df.loc[df["g"] > 0, "g"].nunique() == 1:
        raise DesignError("no comparison units: every unit is treated at the same time")
    return df


def _missing_by_column(
    df: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    cluster: str | None,
    weights: str | None,
    covariates: Sequence[str],
    treated: str | None,
) -> dict[str, int]:
    """Missing values per source column, by the user's column names (first-treated
    values that are missing mean never treated and are not counted)."""
    names = {"unit": unit, "time": time, "y": outcome, "cl": cluster, "w": weights}
    names.update({f"x{i}": c for i, c in enumerate(covariates)})
    if treated:
        names["_d_in"] = treated
    counts = {}
    for col, name in names.items():
        if col in df and name and (n := int(df[col].isna().sum())):
            counts[name] = counts.get(name, 0) + n
    return counts


def prepare_panel(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None,
    first_treated: str | None,
    cluster: str | None,
    weights: str | None,
    covariates: Sequence[str],
    placebo_group: str | None = None,
) -> Panel:
    """Validate the input and return the panel in standard columns (see :class:`Panel`)."""
    if (treated is None) == (first_treated is None):
        raise DesignError(
            "give exactly one of --treated (0/1 indicator) or --first-treated (start period)"
        )
    require_columns(
        data,
        [unit, time, outcome, treated, first_treated, cluster, weights, placebo_group, *covariates],
    )
    require_unique_rows(data, [unit, time])
    df = pd.DataFrame(
        {"unit": data[unit].to_numpy(), "time": require_numeric(data, time, "time").to_numpy()}
    )
    df["y"] = require_numeric(data, outcome, "outcome").to_numpy()
    df["cl"] = data[cluster if cluster else unit].to_numpy()
    df["w"] = require_numeric(data, weights, "weights").to_numpy() if weights else 1.0
    for i, c in enumerate(covariates):
        df[f"x{i}"] = require_numeric(data, c, "covariate").to_numpy()
    if placebo_group:
        df["pgrp"] = pd.factorize(data[placebo_group])[0]
        if (df.groupby("unit")["pgrp"].nunique() > 1).any():
            raise DesignError(f"placebo group column '{placebo_group}' varies within a unit")
    if treated:
        df["_d_in"] = require_numeric(data, treated, "treatment").to_numpy()
    else:
        df["g"] = _first_treated_from_column(
            data.assign(unit=df["unit"].to_numpy()), first_treated
        ).to_numpy()
    n0 = len(df)
    missing = _missing_by_column(df, unit, time, outcome, cluster, weights, covariates, treated)
    df = df.dropna().reset_index(drop=True)
    diagnostics: dict = {"dropped_missing_rows": n0 - len(df)}
    if missing:
        diagnostics["missing_by_column"] = missing
    if df.empty:
        raise DesignError(f"no complete rows: outcome '{outcome}' or another column is all missing")
    if (df["w"] < 0).any():
        raise DesignError(f"weights column '{weights}' has negative values")
    zero = df["w"] == 0
    if zero.any():
        diagnostics["dropped_zero_weight_rows"] = int(zero.sum())
        df = df.loc[~zero].reset_index(drop=True)
        treated_left = df["_d_in"].eq(1).any() if treated else df["g"].gt(0).any()
        if df.empty or not treated_left:
            raise DesignError(f"weights column '{weights}' is zero for every treated unit")
    if treated:
        df["g"] = _first_treated_from_indicator(df, treated).to_numpy()
        df = df.drop(columns="_d_in")
    df = _check_timing(df, treated or first_treated or "", diagnostics)
    df["d"] = ((df["g"] > 0) & (df["time"] >= df["g"])).astype(float)
    xs = [f"x{i}" for i in range(len(covariates))]
    return Panel(
        df.sort_values(["unit", "time"]).reset_index(drop=True),
        xs,
        weights is not None,
        diagnostics,
        placebo_group,
    )


# --- two-way fixed effects, event study, 2x2 ------------------------------------------------


def _fe_codes(df: pd.DataFrame, fe: Sequence[str]) -> np.ndarray:
    return np.column_stack([pd.factorize(df[c])[0] for c in fe]).astype(np.uint64)


def _fit_failed(what: str, exc: Exception) -> DesignError:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(exc).__name__
    return DesignError(f"{what} cannot be estimated: {reason}")


def _feols(panel: Panel, rhs: str, fe: str = "unit + time"):
    covs = "".join(f" + {x}" for x in panel.covariates)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols(
                f"y ~ {rhs}{covs} | {fe}",
                data=panel.df,
                weights="w" if panel.has_weights else None,
                vcov={"CRV1": "cl"},
                fixef_rm="none",
            )
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise _fit_failed("the fixed-effects regression", exc) from exc
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


def _band_critical(n_clusters: int, alpha: float) -> float:
    """Pointwise event-study band: t(G-1) critical value, for TWFE and imputation alike."""
    return float(stats.t.ppf(1 - alpha / 2, max(n_clusters - 1, 1)))


def _event_study(panel: Panel, ref_period: int, alpha: float) -> tuple[pd.DataFrame, dict | None]:
    df = panel.df
    rel = np.where(df["g"] > 0, df["time"] - df["g"], ref_period).astype(int)
    es_panel = replace(panel, df=df.assign(rel=rel))
    fit = _feols(es_panel, f"i(rel, ref={ref_period})")
    coefs = fit.coef()
    names = [n for n in coefs.index if n.startswith("rel::")]
    times = np.array([int(float(n.split("::")[1])) for n in names])
    se = fit.se()[names].to_numpy()
    crit = _band_critical(int(np.min(fit._G)), alpha)
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
    leads = [i for i, n in enumerate(fit._coefnames) if n in names and times[names.index(n)] < 0]
    return es, _wald(fit._beta_hat, fit._vcov, leads, int(np.min(fit._G)))


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


def _collapse_2x2(panel: Panel) -> Panel:
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


# --- imputation (Gardner's two-stage, equal to Borusyak-Jaravel-Spiess's point estimate) ---


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
            first = pf.feols(
                fml, data=untreated, weights="w" if panel.has_weights else None, fixef_rm="none"
            )
            y0 = first.predict(newdata=df)
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise _fit_failed("the imputation first stage", exc) from exc
    ytil = df["y"].to_numpy() - np.asarray(y0, dtype=float)
    x2 = df[rhs_cols].to_numpy(dtype=float)
    w = df["w"].to_numpy()
    beta = np.linalg.lstsq(x2 * np.sqrt(w)[:, None], ytil * np.sqrt(w), rcond=None)[0]

    def vcov() -> np.ndarray:
        from pyfixest.did.did2s import _did2s_vcov

        data = df.assign(y_hat=ytil, treat_flag=df["d"].astype(bool))
        second = "~ 0 + " + " + ".join(rhs_cols)
        first_rhs = "~ " + (" + ".join(panel.covariates) if panel.covariates else "0")
        v, _ = _did2s_vcov(
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
        return np.asarray(v)

    return beta, ytil, vcov


def _imputation_point(panel: Panel) -> float:
    return float(_imputation_fit(panel, ["d"])[0][0])


def _imputation_event_study(panel: Panel, alpha: float) -> pd.DataFrame:
    df = panel.df
    rel = np.where(df["g"] > 0, df["time"] - df["g"], np.nan)
    post_rel = sorted({int(r) for r in rel[~np.isnan(rel)] if r >= 0})
    cols = {f"e{r}": (rel == r).astype(float) for r in post_rel}
    p2 = replace(panel, df=df.assign(**cols))
    beta, _, vcov = _imputation_fit(p2, list(cols))
    se = np.sqrt(np.diag(vcov()))
    crit = _band_critical(int(panel.df["cl"].nunique()), alpha)
    return pd.DataFrame(
        {
            "event_time": post_rel,
            "estimate": beta,
            "se": se,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )


# --- Callaway & Sant'Anna ------------------------------------------------------------------


@dataclass
class CsFit:
    """Group-time ATTs with their influence functions (units x cells), as in R's ``did``."""

    cells: pd.DataFrame  # group, time, estimate
    psi: np.ndarray
    groups: np.ndarray  # first-treated value per unit
    weights: np.ndarray  # per unit, mean one


def _wide(panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    df = panel.df
    y = df.pivot(index="unit", columns="time", values="y")
    if y.isna().any().any():
        raise DesignError("method 'cs' needs a balanced panel: some unit-period rows are missing")
    units = panel.unit_table()
    w = df.groupby("unit", sort=True)["w"].mean().to_numpy()
    return y.to_numpy(), units["g"].to_numpy(), w / w.mean(), y.columns.to_numpy()


def cs_attgt(panel: Panel, control_group: str = "never") -> CsFit:
    """ATT(g,t) without covariates: treated minus control mean change from base period.

    Base period: g-1 (the last period before g) for t >= g; t-1 for t < g ("varying").
    """
    y, g, w, times = _wide(panel)
    n = len(g)
    rows, psis = [], []
    for gv in np.unique(g[g > 0]):
        pre_idx = np.flatnonzero(times < gv)
        if not len(pre_idx):
            continue
        for j in range(1, len(times)):
            b = j - 1 if times[j] < gv else pre_idx[-1]
            treat = g == gv
            if control_group == "never":
                ctrl = g == 0
            else:
                ctrl = (g == 0) | ((g > times[max(j, b)]) & (g != gv))
            if not ctrl.any():
                continue
            dy = y[:, j] - y[:, b]
            wt, wc = w * treat, w * ctrl
            mu1, mu0 = wt @ dy / wt.sum(), wc @ dy / wc.sum()
            psis.append(n * (wt * (dy - mu1) / wt.sum() - wc * (dy - mu0) / wc.sum()))
            rows.append({"group": gv, "time": times[j], "estimate": mu1 - mu0})
    if not rows:
        raise DesignError("no group-time cell has a comparison group")
    return CsFit(pd.DataFrame(rows), np.column_stack(psis), g, w)


def _wif(fit: CsFit, keep: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence of estimating the aggregation weights (did's ``wif``)."""
    ind = np.column_stack(
        [fit.weights * (fit.groups == gk) for gk in fit.cells["group"].to_numpy()[keep]]
    )
    dev = ind - pg[keep]
    s = pg[keep].sum()
    return dev / s - np.outer(dev.sum(axis=1), pg[keep] / s**2)


def _agg(
    fit: CsFit, keep: np.ndarray, pg: np.ndarray, equal: bool = False
) -> tuple[float, np.ndarray]:
    att = fit.cells["estimate"].to_numpy()
    wts = np.full(len(keep), 1 / len(keep)) if equal else pg[keep] / pg[keep].sum()
    psi = fit.psi[:, keep] @ wts
    if not equal:
        psi = psi + _wif(fit, keep, pg) @ att[keep]
    return float(att[keep] @ wts), psi


def cs_aggregate(fit: CsFit) -> dict[str, tuple[float, np.ndarray] | dict]:
    """Simple, dynamic (by event time) and group aggregations with influence functions."""
    cells = fit.cells
    grp, tt = cells["group"].to_numpy(), cells["time"].to_numpy()
    pg = np.array([np.mean(fit.weights * (fit.groups == gk)) for gk in grp])
    post = np.flatnonzero(grp <= tt)
    if not len(post):
        raise DesignError(
            "no post-treatment group-time cell has a comparison group (with "
            "--control-group notyet the last cohort has none): add never-treated units"
        )
    out: dict = {"simple": _agg(fit, post, pg)}
    e = tt - grp
    by_e = {float(ev): _agg(fit, np.flatnonzero(e == ev), pg) for ev in np.unique(e)}
    pos = [v for k, v in by_e.items() if k >= 0]
    out["dynamic"] = (float(np.mean([v[0] for v in pos])), np.mean([v[1] for v in pos], axis=0))
    out["dynamic_by_e"] = by_e
    glist = np.unique(grp[post])  # cohorts with at least one identified post cell
    by_g = {
        float(gk): _agg(fit, np.flatnonzero((grp == gk) & (grp <= tt)), pg, equal=True)
        for gk in glist
    }
    pgg = np.array([np.mean(fit.weights * (fit.groups == gk)) for gk in glist])
    att_g = np.array([v[0] for v in by_g.values()])
    psi_g = np.column_stack([v[1] for v in by_g.values()])
    wg = pgg / pgg.sum()
    ind = np.column_stack([fit.weights * (fit.groups == gk) for gk in glist]) - pgg
    wif = ind / pgg.sum() - np.outer(ind.sum(axis=1), pgg / pgg.sum() ** 2)
    out["group"] = (float(att_g @ wg), psi_g @ wg + wif @ att_g)
    out["group_by_g"] = by_g
    return out


def _if_se(psi: np.ndarray, clusters: np.ndarray) -> float:
    """Analytic SE from an influence function, summed within clusters."""
    n = psi.shape[0]
    codes = pd.factorize(clusters)[0]
    sums = np.zeros((codes.max() + 1,) + psi.shape[1:])
    np.add.at(sums, codes, psi)
    return float(np.sqrt(np.sum(sums**2, axis=0)) / n)


def _cs_pretrend(
    fit: CsFit, clusters: np.ndarray | None = None, n_treated_clusters: int | None = None
) -> dict | None:
    """did's Wald pre-test: all pre-treatment ATT(g,t) zero, chi-squared reference.

    The covariance sums the influence functions within clusters, as the SEs do (with unit
    clusters, did's own unclustered pre-test).
    """
    pre = np.flatnonzero(fit.cells["group"].to_numpy() > fit.cells["time"].to_numpy())
    if not len(pre):
        return None
    n = fit.psi.shape[0]
    psi = fit.psi[:, pre]
    if clusters is not None:
        codes = pd.factorize(clusters)[0]
        sums = np.zeros((codes.max() + 1, len(pre)))
        np.add.at(sums, codes, psi)
        psi = sums
    v = psi.T @ psi / n
    att = fit.cells["estimate"].to_numpy()[pre]
    w = float(n * att @ np.linalg.pinv(v) @ att)
    out = {"statistic": w, "df": len(pre), "p_value": float(stats.chi2.sf(w, len(pre)))}
    if n_treated_clusters is not None and n_treated_clusters < inf.FEW_TREATED_CLUSTERS:
        out["note"] = "cluster-robust pre-trend test unreliable with few treated clusters"
    return out


def _cs_point(panel: Panel, control_group: str) -> float:
    return float(cs_aggregate(cs_attgt(panel, control_group))["simple"][0])


# --- inference dispatch --------------------------------------------------------------------


def _normalise_inference(methods: Sequence[str]) -> list[str]:
    out: list[str] = []
    for m in methods:
        m = m.strip().lower()
        if m not in INFERENCE:
            raise DesignError(f"unknown inference method '{m}'; choose from {', '.join(INFERENCE)}")
        for x in ("wild_restricted", "wild_unrestricted") if m == "wild" else (m,):
            if x not in out:
                out.append(x)
    return out or ["crv1"]


def _assignment_labels(panel: Panel) -> tuple[np.ndarray, np.ndarray, str]:
    """Start labels per assignment cluster (cluster if treatment is constant within it)."""
    units = panel.unit_table()
    if (units.groupby("cl")["g"].nunique() == 1).all():
        labels = units.groupby("cl", sort=True)["g"].first()
        return (
            labels.to_numpy(),
            units["cl"].map(pd.Series(np.arange(len(labels)), index=labels.index)).to_numpy(),
            "cluster",
        )
    return units["g"].to_numpy(), np.arange(len(units)), "unit"


@dataclass
class PlaceboScheme:
    """How the placebo assignments were drawn, for p-values and the note."""

    level: str  # "unit" or "cluster"
    exact: bool
    weights: np.ndarray | None = None
    observed_included: bool = True
    group: str | None = None

    def describe(self) -> str:
        if self.group:
            return f"placebo regions within {self.group}; placebo {self.level}s"
        return f"placebo {self.level}s"


def _slot_groups(panel: Panel, unit_to_slot: np.ndarray) -> np.ndarray:
    """The placebo-group code of each assignment slot; a slot spanning areas gets -1."""
    codes = panel.df.groupby("unit", sort=True)["pgrp"].first().to_numpy()
    per_slot = (
        pd.Series(codes).groupby(unit_to_slot).agg(lambda s: s.iloc[0] if s.nunique() == 1 else -1)
    )
    return per_slot.sort_index().to_numpy()


def _placebo_panels(panel: Panel, draws: int, rng: np.random.Generator):
    """Placebo first-treated values (draws x rows), exactness, and the scheme used."""
    labels, unit_to_slot, level = _assignment_labels(panel)
    if panel.placebo_group:
        groups = _slot_groups(panel, unit_to_slot)
        assign, exact, weights = inf.grouped_placebo_assignments(labels, groups, draws, rng)
        scheme = PlaceboScheme(level, exact, weights, False, panel.placebo_group)
    else:
        assign, exact = inf.placebo_assignments(labels, draws, rng)
        scheme = PlaceboScheme(level, exact)
    units = panel.unit_table().index.to_numpy()
    unit_pos = pd.Series(np.arange(len(units)), index=units)
    row_slot = unit_to_slot[unit_pos[panel.df["unit"]].to_numpy()]
    return assign[:, row_slot], exact, scheme


UNIDENTIFIED_TOL = 1e-8


def _dropped_note(res: InferenceResult, scheme: PlaceboScheme, dropped: int) -> None:
    res.note = f"{res.note}; {scheme.describe()}"
    if dropped:
        res.note += f"; {dropped} placebo draws dropped: placebo treatment not identified"


def _ri_twfe(
    panel: Panel,
    estimate: float,
    draws: int,
    rng: np.random.Generator,
    alpha: float,
    placebo: tuple | None = None,
) -> tuple[InferenceResult, int]:
    """RI for TWFE by one projection of all placebo columns; also the dropped-draw count.

    A draw is dropped when its placebo treatment is not identified: fixed effects (and
    covariates) absorb all but a negligible share of the placebo column, as when every
    drawn unit lacks a pre-period. ``placebo`` reuses draws of :func:`_placebo_panels`.
    """
    g_rows, exact, scheme = placebo or _placebo_panels(panel, draws, rng)
    t = panel.df["time"].to_numpy()
    dmat = ((g_rows > 0) & (t[None, :] >= g_rows)).astype(float).T
    resid = _residualizer(panel)
    y, d = panel.df["y"].to_numpy(), panel.df["d"].to_numpy()
    b0, dens = inf.ri_coefficients(resid, y, dmat)
    raw = resid.w @ dmat
    keep = (raw > 0) & (dens > UNIDENTIFIED_TOL * raw)
    dropped = int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    if not keep.any():
        res = InferenceResult("ri", float("nan"), draws=0, note="no identified placebo draw")
        _dropped_note(res, scheme, dropped)
        return res, dropped
    b0, dens = b0[keep], dens[keep]
    cross = (resid.w * resid(d)) @ dmat[:, keep] / dens  # coefficient of D_obs on each D_b

    def pval(tau: float) -> float:
        return inf.ri_pvalue(
            estimate - tau, b0 - tau * cross, exact, weights, scheme.observed_included
        )

    sd = float(np.std(b0)) or 1.0
    ci = inf._invert(pval, estimate, sd, alpha)
    res = inf.ri_result(estimate, b0, exact, ci, weights, scheme.observed_included)
    res.note = inf.interval_note(ci[0], ci[1], res.note or "")
    _dropped_note(res, scheme, dropped)
    return res, dropped


def _lead_columns(t: np.ndarray, g: np.ndarray, ref_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Event-time dummies (excluding the reference) for first-treated ``g``, and their times."""
    rel = np.where(g > 0, t - g, ref_period)
    values = np.unique(rel[(g > 0) & (rel != ref_period)])
    return np.column_stack([(rel == e) for e in values]).astype(float), values


def _lead_statistics(
    resid: inf.Residualizer, yt: np.ndarray, designs: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Sum of squared lead coefficients of the event study, one per design.

    NaN where the design has no lead or its dummies are collinear with the fixed effects.
    All designs are residualised in a few batched calls.
    """
    out = np.full(len(designs), np.nan)
    chunk = 64
    for start in range(0, len(designs), chunk):
        block = designs[start : start + chunk]
        xt_all = resid(np.column_stack([x for x, _ in block]))
        col = 0
        for i, (x, values) in enumerate(block):
            xt = xt_all[:, col : col + x.shape[1]]
            col += x.shape[1]
            if not (values < 0).any():
                continue
            a = xt.T @ (resid.w[:, None] * xt)
            eig = np.linalg.eigvalsh(a)
            if eig.min() <= UNIDENTIFIED_TOL * max(eig.max(), 1e-300):
                continue
            beta = np.linalg.solve(a, xt.T @ (resid.w * yt))
            out[start + i] = float(np.sum(beta[values < 0] ** 2))
    return out


def _ri_pretrend(panel: Panel, placebo: tuple, ref_period: int) -> tuple[float, int]:
    """RI p-value of the joint pre-trend statistic (sum of squared leads), same placebos.

    Returns the p-value and the number of placebo draws dropped as not identified.
    """
    g_rows, exact, scheme = placebo
    resid = _residualizer(panel)
    yt = resid(panel.df["y"].to_numpy())
    t = panel.df["time"].to_numpy()
    designs = [_lead_columns(t, g, ref_period) for g in [panel.df["g"].to_numpy(), *g_rows]]
    stats_all = _lead_statistics(resid, yt, designs)
    observed, stat = stats_all[0], stats_all[1:]
    keep = np.isfinite(stat)
    if not np.isfinite(observed) or not keep.any():
        return float("nan"), int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    # the statistic is non-negative; large values speak against parallel trends
    p = inf.ri_pvalue(
        np.sqrt(observed), np.sqrt(stat[keep]), exact, weights, scheme.observed_included
    )
    return p, int((~keep).sum())


def _ri_loop(
    panel: Panel,
    estimate: float,
    point: Callable[[Panel], float],
    draws: int,
    rng: np.random.Generator,
) -> tuple[InferenceResult, int]:
    """RI by re-estimating each placebo panel; unidentified draws (error, NaN) dropped."""
    g_rows, exact, scheme = _placebo_panels(panel, draws, rng)
    t = panel.df["time"].to_numpy()
    placebo = []
    for row in g_rows:
        df = panel.df.assign(g=row, d=((row > 0) & (t >= row)).astype(float))
        try:
            with np.errstate(all="ignore"):
                placebo.append(point(replace(panel, df=df)))
        except (DesignError, ZeroDivisionError, np.linalg.LinAlgError, ValueError):
            placebo.append(float("nan"))
    placebo_arr = np.array(placebo, dtype=float)
    keep = np.isfinite(placebo_arr)
    dropped = int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    if not keep.any():
        res = InferenceResult("ri", float("nan"), draws=0, note="no identified placebo draw")
    else:
        res = inf.ri_result(
            estimate, placebo_arr[keep], exact, None, weights, scheme.observed_included
        )
    _dropped_note(res, scheme, dropped)
    return res, dropped


def _residualizer(panel: Panel) -> inf.Residualizer:
    xs = panel.df[panel.covariates].to_numpy(dtype=float) if panel.covariates else None
    return inf.Residualizer(_fe_codes(panel.df, ["unit", "time"]), panel.df["w"].to_numpy(), xs)


def _treated_clusters(panel: Panel) -> int:
    return int(panel.df.loc[panel.df["g"] > 0, "cl"].nunique())


def _unavailable(name: str, method: str) -> InferenceResult:
    return InferenceResult(name, float("nan"), note=f"not available for method '{method}'")


def _multiplier(
    psi: np.ndarray,
    clusters: np.ndarray,
    est: float,
    draws: int,
    rng: np.random.Generator,
    alpha: float,
) -> InferenceResult:
    """Cluster multiplier bootstrap of an influence function, Webb weights (unrestricted)."""
    n = psi.shape[0]
    codes = pd.factorize(clusters)[0]
    sums = np.zeros(codes.max() + 1)
    np.add.at(sums, codes, psi)
    dev = inf.webb_weights(rng, draws, len(sums)) @ sums / n
    q = float(np.quantile(np.abs(dev), 1 - alpha))
    p, note = inf.floor_pvalue(
        float(np.mean(np.abs(dev) >= abs(est))),
        draws,
        "multiplier bootstrap of the influence function, Webb weights; "
        "SE: standard deviation of the bootstrap draws",
    )
    return InferenceResult(
        "wild_unrestricted", p, float(np.std(dev)), est - q, est + q, draws, note
    )


# --- placebo in time -----------------------------------------------------------------------


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
    fit = _feols(replace(panel, df=df), "d")
    est, se = float(fit.coef()["d"]), float(fit.se()["d"])
    return {
        "fake_start": float(fake),
        "estimate": est,
        "se": se,
        "p_value": inf.t_pvalue(est, se, max(int(np.min(fit._G)) - 1, 1)),
    }


# --- entry point ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """What every estimator runner needs besides the panel."""

    method: str
    control_group: str
    inference: list[str]  # normalised inference methods
    draws: int
    seed: int | np.random.SeedSequence  # each method draws from its own stream of it
    event_study: bool
    ref_period: int
    alpha: float


MIN_DRAWS = 19  # the fewest draws with which a p-value can reach 0.05: 1/(19 + 1)
MAX_DRAWS = 99_999  # RI holds a rows x draws matrix: more would exhaust memory


def check_draws_and_seed(draws: int, seed: int | np.random.SeedSequence) -> None:
    """Refuse draw counts no test can use and seeds numpy cannot take, in one line each."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer):
        raise DesignError(f"--draws must be a whole number; got {draws!r}")
    if not MIN_DRAWS <= draws <= MAX_DRAWS:
        raise DesignError(
            f"--draws must be between {MIN_DRAWS} and {MAX_DRAWS} (got {draws}): with fewer "
            "than 19 draws no p-value can fall to 0.05; 999 or more are usual"
        )
    if not isinstance(seed, np.random.SeedSequence) and (
        isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0
    ):
        raise DesignError(f"--seed must be a non-negative whole number (got {seed!r})")


def _check_options(method: str, control_group: str, panel: Panel) -> None:
    if method not in METHODS:
        raise DesignError(f"unknown method '{method}'; choose from {', '.join(METHODS)}")
    if control_group not in ("never", "notyet"):
        raise DesignError(f"unknown control group '{control_group}'; choose never or notyet")
    if method == "cs" and panel.covariates:
        raise DesignError(
            "--method cs takes no --covariates; use --method twfe or --method imputation"
        )
    # only cs chooses its comparison group; twfe, 2x2 and imputation ignore --control-group
    if method == "cs" and control_group == "never" and not (panel.df["g"] == 0).any():
        raise DesignError("no never-treated units: use --control-group notyet with --method cs")


def _design_warnings(method: str, methods: list[str], panel: Panel) -> list[str]:
    """One-line warnings about a design that runs but deserves a second look."""
    out = []
    d = panel.diagnostics
    if d.get("dropped_missing_rows"):
        cols = ", ".join(f"{k}: {v}" for k, v in d.get("missing_by_column", {}).items())
        out.append(
            f"dropped {d['dropped_missing_rows']} rows with a missing value"
            + (f" ({cols})" if cols else "")
        )
    if d.get("dropped_zero_weight_rows"):
        out.append(f"dropped {d['dropped_zero_weight_rows']} rows with zero weight")
    if d.get("dropped_always_treated"):
        out.append(
            f"dropped {d['dropped_always_treated']} units treated from the first period "
            "(no pre-period)"
        )
    if method == "twfe" and not (panel.df["g"] == 0).any():
        out.append(
            "no never-treated units: two-way fixed effects then also compares later-treated "
            "units with already-treated ones, biased when effects change over time; "
            "consider --method cs --control-group notyet or --method imputation"
        )
    n_tr = _treated_clusters(panel)
    if methods == ["crv1"] and n_tr < inf.FEW_TREATED_CLUSTERS:
        out.append(
            f"CRV1 alone over-rejects with {inf.treated_clusters_text(n_tr)}: add "
            "--inference ri (with --placebo-group where units belong to larger areas)"
        )
    return out


def _panel_counts(panel: Panel) -> dict:
    df = panel.df
    return {
        "n_units": int(df["unit"].nunique()),
        "n_treated_units": int(df.loc[df["g"] > 0, "unit"].nunique()),
        "n_periods": int(df["time"].nunique()),
    }


def estimate_did(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None = None,
    first_treated: str | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    covariates: Sequence[str] = (),
    method: str = "twfe",
    control_group: str = "never",
    inference: Sequence[str] = ("crv1",),
    draws: int = 999,
    seed: int | np.random.SeedSequence = 0,
    event_study: bool = True,
    ref_period: int = -1,
    alpha: float = 0.05,
    placebo_group: str | None = None,
) -> DidResult:
    """Estimate a DiD design and attach inference by each requested method (see module doc).

    ``placebo_group`` names a column of ``data`` giving the larger area (e.g. the COROP
    region) each unit belongs to. With it, each randomization-inference draw is a placebo
    region: one area at random among those with at least k untreated units (k = number of
    treated clusters), then k untreated units inside it, so that placebo regions share
    regional shocks as the real one does. All such sets are enumerated when they number at
    most ``draws``. Without it, placebo units are drawn from the whole panel.

    Each resampling method draws from its own stream derived from ``seed`` (an integer or
    a ``numpy.random.SeedSequence``), so its result does not depend on which other methods
    were requested. The headline estimate's SE and interval come from the first requested
    method not flagged unreliable with this few treated clusters (``headline_method``).
    ``diagnostics["warnings"]`` lists one-line warnings (dropped rows, risky designs).
    """
    check_draws_and_seed(draws, seed)
    panel = prepare_panel(
        data,
        unit=unit,
        time=time,
        outcome=outcome,
        treated=treated,
        first_treated=first_treated,
        cluster=cluster,
        weights=weights,
        covariates=list(covariates),
        placebo_group=placebo_group,
    )
    _check_options(method, control_group, panel)
    methods = _normalise_inference(inference)
    runner = {"twfe": _run_twfe, "2x2": _run_twfe, "cs": _run_cs, "imputation": _run_imputation}
    opts = RunOptions(method, control_group, methods, draws, seed, event_study, ref_period, alpha)
    result = runner[method](panel, opts)
    result.diagnostics.update(panel.diagnostics)
    result.diagnostics["cohorts"] = {
        str(int(k) if float(k).is_integer() else k): int(v)
        for k, v in panel.unit_table().query("g > 0")["g"].value_counts().sort_index().items()
    }
    result.diagnostics["n_clusters"] = int(panel.df["cl"].nunique())
    result.diagnostics["n_treated_clusters"] = _treated_clusters(panel)
    result.diagnostics["periods"] = [float(t) for t in panel.times]
    if method != "2x2":
        result.diagnostics["placebo_in_time"] = placebo_in_time(panel, alpha)
    result.diagnostics["warnings"] = _design_warnings(method, methods, panel)
    return result


def _ri_diag(dropped: int | None) -> dict:
    return {} if dropped is None else {"ri_dropped_draws": dropped}


def _headline(
    est: float,
    results: dict[str, InferenceResult],
    method: str,
    counts: dict,
    se: float | None = None,
    **extra,
) -> DidResult:
    """The interval of the first method not flagged unreliable; its SE, or the analytic one.

    When every requested method is flagged, CRV1 (shown, flagged) is the fallback; a wild
    bootstrap flagged with too few treated clusters never heads the result: with only such
    methods the headline is the estimate with the analytic SE and no interval.
    """
    trusted = [r for r in results.values() if not inf.is_unreliable(r.note)]
    fallback = [r for r in results.values() if not r.method.startswith("wild")]
    first = (trusted or fallback or [None])[0]
    if first is None:
        return DidResult(
            est, se, None, None, results, method=method, headline_method=None, **counts, **extra
        )
    head_se = first.se if first.se is not None else se
    return DidResult(
        est,
        head_se,
        first.ci_low,
        first.ci_high,
        results,
        method=method,
        headline_method=first.method,
        **counts,
        **extra,
    )


def _run_twfe(panel: Panel, opts: RunOptions) -> DidResult:
    method, methods, alpha = opts.method, opts.inference, opts.alpha
    draws, want_es, ref_period = opts.draws, opts.event_study, opts.ref_period
    counts = _panel_counts(panel)
    work = _collapse_2x2(panel) if method == "2x2" else panel
    fit = _feols(work, "d")
    est, se = float(fit.coef()["d"]), float(fit.se()["d"])
    g_cl, g_tr = int(work.df["cl"].nunique()), _treated_clusters(work)
    results: dict[str, InferenceResult] = {}
    ri_dropped: int | None = None
    ws = placebo = None
    for m in methods:
        if m == "crv1":
            results[m] = inf.crv1_result(est, se, g_cl, g_tr, alpha)
        elif m.startswith("wild"):
            if ws is None:
                ws = inf.wild_setup(
                    work.df["y"].to_numpy(),
                    work.df["d"].to_numpy(),
                    _residualizer(work),
                    work.df["cl"].to_numpy(),
                    se,
                )
                v = inf.webb_weights(inf.method_rng(opts.seed, "wild"), draws, len(ws.a0))
            results[m] = inf.flag_wild(
                inf.wild_result(ws, v, m == "wild_restricted", se, alpha), g_tr
            )
        else:
            rng = inf.method_rng(opts.seed, "ri")
            placebo = _placebo_panels(work, draws, rng)
            results[m], ri_dropped = _ri_twfe(work, est, draws, rng, alpha, placebo)
    es, pre = (None, None)
    if want_es and method == "twfe":
        es, pre = _event_study(panel, ref_period, alpha)
        if pre is not None:
            if "ri" in results:
                pre["ri_p_value"], pre["ri_dropped_draws"] = _ri_pretrend(
                    panel, placebo, ref_period
                )
            if g_tr < inf.FEW_TREATED_CLUSTERS:
                pre["note"] = "CRV1 pre-trend test unreliable with few treated clusters"
    return _headline(
        est,
        results,
        method,
        counts,
        se=se,
        event_study=es,
        pretrend=pre,
        diagnostics={
            "estimator": "pyfixest feols, unit and period fixed effects",
            **_ri_diag(ri_dropped),
        },
    )


def _run_cs(panel: Panel, opts: RunOptions) -> DidResult:
    method, control_group, methods = opts.method, opts.control_group, opts.inference
    draws, alpha, want_es = opts.draws, opts.alpha, opts.event_study
    fit = cs_attgt(panel, control_group)
    agg = cs_aggregate(fit)
    clusters = panel.df.groupby("unit", sort=True)["cl"].first().to_numpy()
    crit = stats.norm.ppf(1 - alpha / 2)

    def row(est: float, psi: np.ndarray) -> dict:
        se = _if_se(psi, clusters)
        return {"estimate": est, "se": se, "ci_low": est - crit * se, "ci_high": est + crit * se}

    cells = fit.cells.assign(se=[_if_se(fit.psi[:, j], clusters) for j in range(fit.psi.shape[1])])
    by_e = pd.DataFrame([{"event_time": int(k), **row(*v)} for k, v in agg["dynamic_by_e"].items()])
    aggregations = {
        "simple": row(*agg["simple"]),
        "dynamic": {**row(*agg["dynamic"]), "by_event_time": by_e},
        "group": {
            **row(*agg["group"]),
            "by_group": [{"group": k, **row(*v)} for k, v in agg["group_by_g"].items()],
        },
    }
    est, psi = agg["simple"]
    se = _if_se(psi, clusters)
    results: dict[str, InferenceResult] = {}
    ri_dropped: int | None = None
    for m in methods:
        if m == "crv1":
            r = inf.crv1_result(est, se, len(np.unique(clusters)), _treated_clusters(panel), alpha)
            r.p_value = float(2 * stats.norm.sf(abs(est / se)))
            r.ci_low, r.ci_high = est - crit * se, est + crit * se
            results[m] = r
        elif m == "wild_unrestricted":
            rng = inf.method_rng(opts.seed, "wild")
            results[m] = inf.flag_wild(
                _multiplier(psi, clusters, est, draws, rng, alpha), _treated_clusters(panel)
            )
        elif m == "wild_restricted":
            results[m] = _unavailable(m, method)
        else:
            results[m], ri_dropped = _ri_loop(
                panel,
                est,
                lambda p: _cs_point(p, control_group),
                draws,
                inf.method_rng(opts.seed, "ri"),
            )
    return _headline(
        est,
        results,
        method,
        _panel_counts(panel),
        se=se,
        event_study=by_e if want_es else None,
        pretrend=_cs_pretrend(fit, clusters, _treated_clusters(panel)),
        diagnostics={
            "estimator": "Callaway-Sant'Anna, varying base period",
            "control_group": control_group,
            **_ri_diag(ri_dropped),
        },
        att_gt=cells,
        aggregations=aggregations,
    )


def _run_imputation(panel: Panel, opts: RunOptions) -> DidResult:
    method, methods, alpha = opts.method, opts.inference, opts.alpha
    draws, want_es = opts.draws, opts.event_study
    beta, _, vcov = _imputation_fit(panel, ["d"])
    try:
        est, se = float(beta[0]), float(np.sqrt(vcov()[0, 0]))
    except (ValueError, np.linalg.LinAlgError, RuntimeError) as exc:
        raise _fit_failed("the imputation variance", exc) from exc
    results: dict[str, InferenceResult] = {}
    ri_dropped: int | None = None
    for m in methods:
        if m == "crv1":
            results[m] = inf.crv1_result(
                est, se, int(panel.df["cl"].nunique()), _treated_clusters(panel), alpha
            )
        elif m == "ri":
            results[m], ri_dropped = _ri_loop(
                panel, est, _imputation_point, draws, inf.method_rng(opts.seed, "ri")
            )
        else:
            results[m] = _unavailable(m, method)
    es = _imputation_event_study(panel, alpha) if want_es else None
    return _headline(
        est,
        results,
        method,
        _panel_counts(panel),
        se=se,
        event_study=es,
        diagnostics={
            "estimator": "imputation (Gardner two-stage), GMM variance",
            **_ri_diag(ri_dropped),
        },
    )
