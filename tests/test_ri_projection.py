"""RI for TWFE by projection (``placebo_projection``) against the former path, kept here as
the reference: every placebo column residualised by iterative demeaning and every lead
design solved one by one. Same draws, same placebo coefficients (and refits agree), same
p-values, intervals and pre-trend p-values, on small weighted and unweighted panels with
one or staggered starts, missing rows, covariates and placebo regions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from proeftuin.estimators.did import panel as panel_mod
from proeftuin.estimators.did import placebo
from proeftuin.estimators.did.estimate import Panel, prepare_panel
from proeftuin.estimators.did.placebo import PlaceboScheme
from proeftuin.estimators.did.projection import Projector
from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import InferenceResult

YEARS = 6


def frame(seed: int, weighted: bool, staggered: bool, gaps: bool, covariate: bool) -> pd.DataFrame:
    """Units nested in 12 clusters of 3, two clusters treated (or three, staggered)."""
    rng = np.random.default_rng(seed)
    n, years = 36, np.arange(2010, 2010 + YEARS)
    cl = np.arange(n) // 3
    starts = {0: 2013, 1: 2013, 2: 2014} if staggered else {0: 2013, 1: 2013}
    g = np.array([starts.get(c, 0) for c in cl], dtype=float)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), YEARS),
            "year": np.tile(years, n),
            "cl": np.repeat(cl, YEARS),
            "g": np.repeat(g, YEARS),
            "area": np.repeat(cl % 3, YEARS),
        }
    )
    df["y"] = (
        rng.normal(size=n)[df["unit"]]
        + 0.2 * (df["year"] - 2010)
        + rng.normal(size=len(df))
        + 0.5 * ((df["g"] > 0) & (df["year"] >= df["g"]))
    )
    df["w"] = rng.uniform(0.5, 3.0, len(df)) if weighted else 1.0
    df["x"] = rng.normal(size=len(df)) + 0.1 * df["year"]
    if gaps:
        df = df.drop(index=rng.choice(len(df), 14, replace=False)).reset_index(drop=True)
    return df.assign(y=df["y"] + (0.7 * df["x"] if covariate else 0.0))


def make_panel(
    df: pd.DataFrame, weighted: bool, covariate: bool, group: str | None = None
) -> Panel:
    return prepare_panel(df, unit="unit", time="year", outcome="y", treated=None,
                         first_treated="g", cluster="cl", weights="w" if weighted else None,
                         covariates=["x"] if covariate else [],
                         placebo_group=group)  # fmt: skip


# --- the former path, as the reference ----------------------------------------------------


def reference_coefficients(panel: Panel, g_rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Placebo coefficients, denominators, raw sums and cross terms by demeaning columns."""
    t = panel.df["time"].to_numpy()
    dmat = ((g_rows > 0) & (t[None, :] >= g_rows)).astype(float).T
    resid = panel_mod.residualizer(panel)
    b0, dens = inf.ri_coefficients(resid, panel.df["y"].to_numpy(), dmat)
    cross = (resid.w * resid(panel.df["d"].to_numpy())) @ dmat
    return b0, dens, resid.w @ dmat, cross


def reference_ri(
    panel: Panel, estimate: float, g_rows: np.ndarray, scheme: PlaceboScheme, alpha: float = 0.05
) -> InferenceResult:
    b0, dens, raw, cross = reference_coefficients(panel, g_rows)
    keep = (raw > 0) & (dens > 1e-8 * raw)
    weights = None if scheme.weights is None else scheme.weights[keep]
    b0, cross = b0[keep], cross[keep] / dens[keep]

    def pval(tau: float) -> float:
        return inf.ri_pvalue(estimate - tau, b0 - tau * cross, scheme.exact, weights,
                             scheme.observed_included)  # fmt: skip

    ci = inf._invert(pval, estimate, float(np.std(b0)) or 1.0, alpha)
    return inf.ri_result(estimate, b0, scheme.exact, ci, weights, scheme.observed_included)


def reference_leads(panel: Panel, g_rows: np.ndarray, ref: int) -> np.ndarray:
    """Sum of squared lead coefficients per design, each solved on its own."""
    resid = panel_mod.residualizer(panel)
    yt = resid(panel.df["y"].to_numpy())
    t = panel.df["time"].to_numpy()
    out = []
    for g in [panel.df["g"].to_numpy(), *g_rows]:
        rel = np.where(g > 0, t - g, ref)
        values = np.unique(rel[(g > 0) & (rel != ref)])
        xt = resid(np.column_stack([(rel == e) for e in values]).astype(float))
        a = xt.T @ (resid.w[:, None] * xt)
        eig = np.linalg.eigvalsh(a)
        if not (values < 0).any() or eig.min() <= 1e-8 * max(eig.max(), 1e-300):
            out.append(np.nan)
            continue
        beta = np.linalg.solve(a, xt.T @ (resid.w * yt))
        out.append(float(np.sum(beta[values < 0] ** 2)))
    return np.array(out)


def reference_pretrend_p(
    panel: Panel, g_rows: np.ndarray, scheme: PlaceboScheme, ref: int
) -> float:
    stats_all = reference_leads(panel, g_rows, ref)
    keep = np.isfinite(stats_all[1:])
    weights = None if scheme.weights is None else scheme.weights[keep]
    return inf.ri_pvalue(np.sqrt(stats_all[0]), np.sqrt(stats_all[1:][keep]), scheme.exact,
                         weights, scheme.observed_included)  # fmt: skip


CASES = [
    # weighted, staggered, gaps, covariate, placebo group
    (False, False, False, False, None),
    (True, False, False, False, None),
    (False, True, False, False, None),
    (True, True, True, False, None),
    (True, True, True, True, None),
    (True, False, True, False, "area"),
    (False, True, False, True, "area"),
]


@pytest.mark.parametrize(("weighted", "staggered", "gaps", "covariate", "group"), CASES)
@pytest.mark.parametrize("draws", [40, 5000])  # sampled, and exact enumeration
def test_projection_matches_the_former_path(
    weighted: bool, staggered: bool, gaps: bool, covariate: bool, group: str | None, draws: int
) -> None:
    df = frame(3, weighted, staggered, gaps, covariate)
    panel = make_panel(df, weighted, covariate, group)
    estimate = 0.4321  # the p-values compare placebo coefficients with any estimate alike
    pdraws = placebo.placebo_draws(panel, draws, np.random.default_rng(8))
    g_rows, exact, scheme = placebo.placebo_panels(panel, draws, np.random.default_rng(8))
    assert exact == pdraws.scheme.exact and len(g_rows) == len(pdraws.draws)
    res, _ = placebo.ri_twfe(panel, estimate, draws, np.random.default_rng(8), 0.05, pdraws)
    ref = reference_ri(panel, estimate, g_rows, scheme)
    assert res.p_value == pytest.approx(ref.p_value, abs=1e-10)
    assert res.se == pytest.approx(ref.se, rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx((ref.ci_low, ref.ci_high), rel=1e-7)
    ref_stats = reference_leads(panel, g_rows, -1)
    tables = placebo.lead_tables(pdraws.project(panel), pdraws.unit_slot, pdraws.draws.n_slots,
                                 placebo._starts(pdraws), panel.df["y"].to_numpy(), -1)  # fmt: skip
    mine = placebo.lead_statistics(pdraws.project(panel), tables, pdraws.draws)
    np.testing.assert_allclose(mine, ref_stats[1:], rtol=1e-7, atol=1e-12)
    p = placebo.ri_pretrend(panel, pdraws, -1)["ri_p_value"]
    assert p == pytest.approx(reference_pretrend_p(panel, g_rows, scheme, -1), abs=1e-10)


@pytest.mark.parametrize("group", [None, "area"])
def test_sampled_pretrend_agrees_with_the_enumeration(group: str | None) -> None:
    """Above its sample size the RI pre-trend test draws assignments (with the
    enumeration's weights) instead of enumerating them: its p-value says "sampled", carries
    its Monte Carlo error, and lies within 4 of them of the exact p-value."""
    rng = np.random.default_rng(4)
    n, years = 60, np.arange(2010, 2018)
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n)})
    df["g"] = np.where(df["unit"] < 3, 2014.0, 0.0)
    df["area"] = df["unit"] % 3  # each area holds one treated unit and 19 others
    df["y"] = rng.normal(size=n)[df["unit"]] + rng.normal(size=len(df))
    panel = prepare_panel(df, unit="unit", time="year", outcome="y", treated=None,
                          first_treated="g", cluster=None, weights=None, covariates=[],
                          placebo_group=group and "area")  # fmt: skip
    pdraws = placebo.placebo_draws(panel, 10, np.random.default_rng(3), 10**6)
    assert pdraws.scheme.exact and len(pdraws.draws) > 400
    exact = placebo.ri_pretrend(panel, pdraws, -1)
    assert exact["ri_p_kind"] == "exact" and exact["ri_p_mcse"] == 0.0
    sampled = placebo.ri_pretrend(panel, pdraws, -1, 400, np.random.default_rng(5))
    assert sampled["ri_p_kind"] == "sampled" and sampled["ri_draws"] <= 400
    assert 0 < sampled["ri_p_mcse"] < 0.03
    assert abs(sampled["ri_p_value"] - exact["ri_p_value"]) <= 4 * sampled["ri_p_mcse"] + 1 / 401


@pytest.mark.parametrize("weighted", [False, True])
def test_placebo_coefficients_equal_refits(weighted: bool) -> None:
    """The known answer: pyfixest refits with unit and year fixed effects, draw by draw."""
    df = frame(5, weighted, True, True, True)
    panel = make_panel(df, weighted, True)
    pdraws = placebo.placebo_draws(panel, 30, np.random.default_rng(2))
    proj = pdraws.project(panel)
    starts = placebo._starts(pdraws)
    y, d = panel.df["y"].to_numpy(), panel.df["d"].to_numpy()
    tables = placebo.coefficient_tables(proj, pdraws.unit_slot, pdraws.draws.n_slots, starts, y, d)
    beta, *_ = placebo.placebo_coefficients(proj, tables, starts, pdraws.draws)
    t = panel.df["time"].to_numpy()
    for b in range(6):
        g = pdraws.rows(b)
        data = panel.df.assign(dp=((g > 0) & (t >= g)).astype(float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols("y ~ dp + x0 | unit + time", data=data,
                           weights="w" if weighted else None)  # fmt: skip
        assert beta[b] == pytest.approx(float(fit.coef()["dp"]), rel=1e-7)


def test_projector_residuals_equal_demeaning() -> None:
    df = frame(7, True, True, True, True)
    panel = make_panel(df, True, True)
    units = panel.unit_table().index.get_indexer(panel.df["unit"])
    proj = Projector(panel.df, units, panel.covariates)
    y = panel.df["y"].to_numpy()
    mine = proj.resid(y)[units, np.searchsorted(proj.times, panel.df["time"])]
    np.testing.assert_allclose(mine, panel_mod.residualizer(panel)(y), atol=1e-8)


def _dense_uniform(labels: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    return np.array([rng.permutation(labels) for _ in range(draws)])  # the former drawing


def _dense_grouped(
    labels: np.ndarray, groups: np.ndarray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    treated = labels[labels != 0]
    k = len(treated)
    members = [np.flatnonzero((labels == 0) & (groups == gv)) for gv in np.unique(groups)]
    members = [m for m in members if len(m) >= k]
    out = np.zeros((draws, len(labels)))
    for b in range(draws):
        m = members[rng.integers(len(members))]
        out[b, rng.choice(m, k, replace=False)] = rng.permutation(treated)
    return out


def test_compact_draws_use_the_random_stream_as_before() -> None:
    labels = np.zeros(40)
    labels[[3, 9, 17]] = [2014.0, 2014.0, 2016.0]
    groups = np.arange(40) % 4
    for seed in range(3):
        compact = asg.uniform_draws(labels, 200, np.random.default_rng(seed))
        dense = _dense_uniform(labels, 200, np.random.default_rng(seed))
        assert not compact.exact and np.array_equal(compact.dense(), dense)
        grouped = asg.grouped_draws(labels, groups, 200, np.random.default_rng(seed))
        former = _dense_grouped(labels, groups, 200, np.random.default_rng(seed))
        assert np.array_equal(grouped.dense(), former)
        assert (np.diff(compact.slots, axis=1) > 0).all()  # slots ascending within a draw
