"""Hand-written inference checked against library computations of the same quantities."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from proeftuin.estimators import estimate_did
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.inference.streams import method_rng


def small_panel(
    seed: int = 1,
    n_sites: int = 12,
    per_site: int = 3,
    years: int = 6,
    treated_sites: int = 3,
    effect: float = 0.4,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_sites * per_site
    site = np.repeat(np.arange(n_sites), per_site)
    start = np.zeros(n_sites)
    start[:treated_sites] = 2003 + np.arange(treated_sites) % 2
    g = start[site]
    t = np.arange(2000, 2000 + years)
    shock = rng.normal(0, 0.5, (n_sites, years))[site]
    x = rng.normal(size=(n, years))
    d = (g[:, None] > 0) & (t[None, :] >= g[:, None])
    y = (
        rng.normal(size=(n, 1))
        + t[None, :] * 0.1
        + shock
        + 0.3 * x
        + effect * d
        + rng.normal(size=(n, years))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(t, n),
            "site": np.repeat(site, years),
            "y": y.ravel(),
            "x": x.ravel(),
            "w": np.repeat(rng.uniform(0.5, 2.0, n), years),
            "g": np.repeat(g, years),
            "d": d.ravel().astype(float),
        }
    )


def _fit(df: pd.DataFrame, fml: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=df, weights="w", vcov={"CRV1": "site"}, fixef_rm="none")


@pytest.mark.parametrize("restricted", [True, False])
def test_wild_bootstrap_matches_pyfixest_refits(restricted: bool) -> None:
    """Each vectorised bootstrap t equals a pyfixest refit on the bootstrap sample."""
    df = small_panel()
    full = _fit(df, "y ~ d + x | unit + year")
    beta, se = float(full.coef()["d"]), float(full.se()["d"])
    fe = np.column_stack([pd.factorize(df[c])[0] for c in ("unit", "year")])
    resid = inf.Residualizer(fe, df["w"].to_numpy(), df[["x"]].to_numpy())
    ws = inf.wild_setup(df["y"].to_numpy(), df["d"].to_numpy(), resid, df["site"].to_numpy(), se)
    assert ws.beta == pytest.approx(beta, abs=1e-9)
    v = inf.webb_weights(np.random.default_rng(7), 5, len(ws.a0))
    null_fit = _fit(df, "y ~ x | unit + year") if restricted else full
    u = null_fit.resid()
    fitted = df["y"].to_numpy() - u
    beta0 = 0.0 if restricted else beta
    t_vec, t_obs = inf._boot_t(ws, v, beta0)
    codes = pd.factorize(df["site"])[0]
    for b in range(len(v)):
        star = df.assign(y=fitted + u * v[b, codes])
        refit = _fit(star, "y ~ d + x | unit + year")
        t_ref = (float(refit.coef()["d"]) - beta0) / float(refit.se()["d"])
        assert t_vec[b] == pytest.approx(t_ref, rel=1e-6, abs=1e-8)
    assert t_obs == pytest.approx((beta - beta0) / se, rel=1e-9)


def test_randomization_coefficients_match_pyfixest_ritest() -> None:
    """Same placebo draws as pyfixest's ritest (slow path): identical coefficients."""
    df = small_panel(seed=3).drop(columns="w")
    df["w"] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # ritest re-draws d per site for all years, so unit effects would absorb it.
        fit = pf.feols("y ~ d + x | year", data=df, vcov={"CRV1": "site"})
        fit.ritest(
            "d",
            cluster="site",
            reps=12,
            rng=np.random.default_rng(11),
            choose_algorithm="slow",
            store_ritest_statistics=True,
        )
    library = np.asarray(fit._ritest_statistics)
    rng = np.random.default_rng(11)
    clusters = fit._data["site"].to_numpy()
    values = np.unique(fit._data["d"].to_numpy())
    dmat = np.zeros((len(clusters), 12))
    for b in range(12):
        for c in np.unique(clusters):
            dmat[clusters == c, b] = values[rng.integers(0, len(values))]
    fe = pd.factorize(fit._data["year"])[0][:, None]
    resid = inf.Residualizer(fe, np.ones(len(clusters)), fit._data[["x"]].to_numpy())
    mine, _ = inf.ri_coefficients(resid, fit._data["y"].to_numpy(), dmat, chunk=5)
    np.testing.assert_allclose(mine, library, rtol=1e-7, atol=1e-10)


def test_exact_enumeration_of_placebo_sites() -> None:
    labels = np.array([0, 0, 0, 2013, 2013, 2014])
    assert inf.count_assignments(labels) == 60  # C(6,2) * C(4,1)
    assign, exact = inf.placebo_assignments(labels, 999, np.random.default_rng(0))
    assert exact and assign.shape == (60, 6)
    assert len({tuple(r) for r in assign}) == 60
    assert all(sorted(r) == sorted(labels) for r in assign)
    sampled, exact2 = inf.placebo_assignments(labels, 30, np.random.default_rng(0))
    assert not exact2 and sampled.shape == (30, 6)


def test_exact_ri_p_value_is_a_multiple_of_one_over_assignments() -> None:
    df = small_panel(seed=5, n_sites=8, treated_sites=2, effect=2.0)
    df["g"] = np.where(df["g"] > 0, 2003.0, 0.0)
    res = estimate_did(
        df,
        unit="unit",
        time="year",
        outcome="y",
        first_treated="g",
        cluster="site",
        inference=("ri",),
        draws=999,
        event_study=False,
    )
    ri = res.inference["ri"]
    assert ri.draws == 28 and "exact" in ri.note  # C(8, 2) placebo pairs of sites
    assert ri.p_value * 28 == pytest.approx(round(ri.p_value * 28))
    assert ri.p_value == pytest.approx(1 / 28)  # a large planted effect: the observed is extreme


def test_webb_weights_are_six_point() -> None:
    v = inf.webb_weights(np.random.default_rng(0), 20000, 3)
    assert set(np.round(np.unique(v) ** 2, 12)) == {0.5, 1.0, 1.5}
    assert abs(v.mean()) < 0.02 and abs(v.var() - 1) < 0.03


def test_crv1_flagged_with_few_treated_clusters() -> None:
    df = small_panel()
    res = estimate_did(
        df,
        unit="unit",
        time="year",
        outcome="y",
        first_treated="g",
        cluster="site",
        inference=("crv1", "wild", "ri"),
        draws=99,
        seed=4,
    )
    assert "unreliable" in res.inference["crv1"].note
    assert set(res.inference) == {"crv1", "wild_restricted", "wild_unrestricted", "ri"}
    for r in res.inference.values():
        assert 0 <= r.p_value <= 1 and r.ci_low < res.estimate < r.ci_high


def test_identical_seeds_identical_results() -> None:
    df = small_panel()
    kw = {
        "unit": "unit",
        "time": "year",
        "outcome": "y",
        "first_treated": "g",
        "cluster": "site",
        "inference": ("wild", "ri"),
        "draws": 99,
    }
    a = estimate_did(df, seed=3, **kw).to_dict()
    b = estimate_did(df, seed=3, **kw).to_dict()
    c = estimate_did(df, seed=4, **kw).to_dict()
    assert a == b
    assert (
        a["inference"]["wild_restricted"]["ci_low"] != c["inference"]["wild_restricted"]["ci_low"]
    )
    # 660 assignments, all enumerated (within EXACT_BUDGET): no seed changes RI
    assert (
        a["inference"]["ri"]["p_kind"] == "exact" and a["inference"]["ri"] == c["inference"]["ri"]
    )


def test_wild_restricted_ci_inverts_the_test() -> None:
    df = small_panel(seed=9)
    res = estimate_did(
        df,
        unit="unit",
        time="year",
        outcome="y",
        first_treated="g",
        cluster="site",
        inference=("wild_restricted",),
        draws=199,
        seed=1,
    )
    r = res.inference["wild_restricted"]
    fe = np.column_stack([pd.factorize(df[c])[0] for c in ("unit", "year")])
    resid = inf.Residualizer(fe, np.ones(len(df)), None)
    ws = inf.wild_setup(
        df["y"].to_numpy(),
        df["d"].to_numpy(),
        resid,
        df["site"].to_numpy(),
        res.se,
    )
    v = inf.webb_weights(method_rng(1, "wild"), 199, len(ws.a0))
    inside = inf.wild_pvalue(ws, v, 0.5 * (r.ci_low + r.ci_high), True)
    outside = inf.wild_pvalue(ws, v, r.ci_high + 0.05 * (r.ci_high - r.ci_low), True)
    assert inside > 0.05 >= outside
