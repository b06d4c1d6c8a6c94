"""Callaway & Sant'Anna's group-time ATTs, from their closed form without covariates, with
the influence functions and aggregations of the R package ``did`` (none of the locked
libraries has them), and the cluster multiplier bootstrap of those influence functions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.panel import Fit, Panel, RunOptions, treated_clusters
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.inference.streams import method_rng
from proeftuin.estimators.results import InferenceResult


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


def _cells(
    y: np.ndarray, g: np.ndarray, w: np.ndarray, times: np.ndarray, control_group: str
) -> Iterator[tuple[float, float, np.ndarray, np.ndarray, np.ndarray]]:
    """Each group-time cell with a comparison group: group, period, treated and control
    units (as weights) and the outcome change from the cell's base period.

    Base period: g-1 (the last period before g) for t >= g; t-1 for t < g ("varying").
    """
    for gv in np.unique(g[g > 0]):
        pre_idx = np.flatnonzero(times < gv)
        if not len(pre_idx):
            continue
        treat = g == gv
        for j in range(1, len(times)):
            b = j - 1 if times[j] < gv else pre_idx[-1]
            if control_group == "never":
                ctrl = g == 0
            else:
                ctrl = (g == 0) | ((g > times[max(j, b)]) & (g != gv))
            if ctrl.any():
                yield gv, times[j], w * treat, w * ctrl, y[:, j] - y[:, b]


def cs_attgt(panel: Panel, control_group: str = "never") -> CsFit:
    """ATT(g,t) without covariates: treated minus control mean change from base period."""
    y, g, w, times = _wide(panel)
    n = len(g)
    rows, psis = [], []
    for gv, t, wt, wc, dy in _cells(y, g, w, times, control_group):
        mu1, mu0 = wt @ dy / wt.sum(), wc @ dy / wc.sum()
        psis.append(n * (wt * (dy - mu1) / wt.sum() - wc * (dy - mu0) / wc.sum()))
        rows.append({"group": gv, "time": t, "estimate": mu1 - mu0})
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


def if_se(psi: np.ndarray, clusters: np.ndarray) -> float:
    """Analytic SE from an influence function, summed within clusters."""
    n = psi.shape[0]
    codes = pd.factorize(clusters)[0]
    sums = np.zeros((codes.max() + 1,) + psi.shape[1:])
    np.add.at(sums, codes, psi)
    return float(np.sqrt(np.sum(sums**2, axis=0)) / n)


def cs_pretrend(
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


def placebo_point(panel: Panel, control_group: str) -> Callable[[np.ndarray], float]:
    """The simple aggregation under a placebo first-treated value per row (RI): the wide
    outcome built once, then per assignment the cells' means, without influence functions
    (what :func:`cs_aggregate`'s ``simple`` gives, by the same cells and weights)."""
    y, _, w, times = _wide(panel)
    first_row = np.unique(panel.df["unit"].to_numpy(), return_index=True)[1]

    def point(g_row: np.ndarray) -> float:
        g = g_row[first_row]
        att, pg = [], []
        for gv, t, wt, wc, dy in _cells(y, g, w, times, control_group):
            if gv <= t:  # post-treatment cells: the simple aggregation's
                att.append(wt @ dy / wt.sum() - wc @ dy / wc.sum())
                pg.append(np.mean(w * (g == gv)))
        if not att:
            raise DesignError("no post-treatment group-time cell has a comparison group")
        weights = np.array(pg) / np.sum(pg)
        return float(np.array(att) @ weights)

    return point


def multiplier_bootstrap(
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


def fit_cs(panel: Panel, opts: RunOptions) -> Fit:
    """The simple aggregation with its analytic SE; event study and aggregations attached."""
    control_group, alpha = opts.control_group, opts.alpha
    fit = cs_attgt(panel, control_group)
    agg = cs_aggregate(fit)
    clusters = panel.df.groupby("unit", sort=True)["cl"].first().to_numpy()
    crit = stats.norm.ppf(1 - alpha / 2)

    def row(est: float, psi: np.ndarray) -> dict:
        se = if_se(psi, clusters)
        return {"estimate": est, "se": se, "ci_low": est - crit * se, "ci_high": est + crit * se}

    cells = fit.cells.assign(se=[if_se(fit.psi[:, j], clusters) for j in range(fit.psi.shape[1])])
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
    out = Fit(
        panel,
        est,
        if_se(psi, clusters),
        len(np.unique(clusters)),
        treated_clusters(panel),
        {"estimator": "Callaway-Sant'Anna, varying base period", "control_group": control_group},
        point=placebo_point(panel, control_group),
        psi=psi,
        unit_clusters=clusters,
    )
    out.result = {
        "event_study": by_e if opts.event_study else None,
        "pretrend": cs_pretrend(fit, clusters, treated_clusters(panel)),
        "att_gt": cells,
        "aggregations": aggregations,
    }
    return out


def crv1_normal(fit: Fit, opts: RunOptions) -> InferenceResult:
    """The influence-function SE with a normal reference (as R's ``did``), flagged as CRV1."""
    est, se = fit.estimate, fit.se
    r = inf.crv1_result(est, se, fit.n_clusters, fit.n_treated_clusters, opts.alpha)
    crit = stats.norm.ppf(1 - opts.alpha / 2)
    r.p_value = float(2 * stats.norm.sf(abs(est / se)))
    r.ci_low, r.ci_high = est - crit * se, est + crit * se
    return r


def multiplier(fit: Fit, opts: RunOptions) -> InferenceResult:
    """The multiplier bootstrap of the simple aggregation's influence function."""
    assert fit.psi is not None and fit.unit_clusters is not None
    rng = method_rng(opts.seed, "wild")
    res = multiplier_bootstrap(
        fit.psi, fit.unit_clusters, fit.estimate, opts.draws, rng, opts.alpha
    )
    return inf.flag_wild(res, fit.n_treated_clusters)
