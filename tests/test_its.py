"""Interrupted time series against statsmodels, hand-computed Newey-West, planted effects."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from proeftuin.estimators import DesignError, InsufficientPrePeriod, estimate_its
from proeftuin.estimators.its.estimate import newey_west_lags

matplotlib.use("Agg")


def series(
    n: int = 60,
    start: int = 37,
    level: float = -3.0,
    slope: float = 0.4,
    noise: float = 1.0,
    seed: int = 0,
    rho: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    e = np.zeros(n)
    for i in range(n):
        e[i] = (rho * e[i - 1] if i else 0.0) + rng.normal(0, noise)
    y = 10 + 0.2 * t + level * (t >= start) + slope * np.where(t >= start, t - start, 0) + e
    return pd.DataFrame({"t": t, "y": y})


def test_newey_west_matches_statsmodels_and_hand_formula() -> None:
    df = series(seed=1, rho=0.5)
    res = estimate_its(df, time="t", outcome="y", start=37, maxlags=4)
    t = df["t"].to_numpy()
    x = np.column_stack([np.ones(60), t - 1, t >= 37, np.where(t >= 37, t - 37, 0)]).astype(float)
    hac = {"maxlags": 4, "use_correction": True}  # Stata newey's n/(n-k)
    ols = sm.OLS(df["y"].to_numpy(), x).fit(cov_type="HAC", cov_kwds=hac)
    assert res.level_change.estimate == pytest.approx(ols.params[2], abs=1e-10)
    assert res.level_change.se == pytest.approx(ols.bse[2], rel=1e-10)
    u = ols.resid
    scores = x * u[:, None]
    s = scores.T @ scores
    for lag in range(1, 5):
        gamma = scores[lag:].T @ scores[:-lag]
        s += (1 - lag / 5) * (gamma + gamma.T)
    bread = np.linalg.inv(x.T @ x)
    v = bread @ s @ bread * 60 / (60 - 4)  # the small-sample factor of Stata's newey
    assert res.slope_change.se == pytest.approx(np.sqrt(v[3, 3]), rel=1e-10)
    assert newey_west_lags(60) == 3


def test_planted_level_and_slope_changes_are_recovered() -> None:
    res = estimate_its(series(noise=0.05, seed=2), time="t", outcome="y", start=37)
    assert res.level_change.estimate == pytest.approx(-3.0, abs=0.1)
    assert res.slope_change.estimate == pytest.approx(0.4, abs=0.01)
    assert res.level_change.ratio is None
    cf = res.counterfactual
    post = cf[cf["post"]]
    expected = (
        post["fitted"] - res.level_change.estimate - res.slope_change.estimate * (post["time"] - 37)
    )
    np.testing.assert_allclose(post["counterfactual"], expected, atol=1e-8)
    assert (cf["cf_low"] <= cf["counterfactual"]).all() and (
        cf["counterfactual"] <= cf["cf_high"]
    ).all()


def test_poisson_rate_ratio_and_quasipoisson_dispersion() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(1, 73)
    pop = rng.uniform(9e4, 1.1e5, 72)
    season = 0.1 * np.sin(2 * np.pi * t / 12)
    mu = pop * 1e-2 * np.exp(0.004 * t + season + np.log(0.8) * (t >= 49))
    df = pd.DataFrame({"t": t, "cases": rng.poisson(mu), "pop": pop})
    kw = {
        "time": "t",
        "outcome": "cases",
        "start": 49,
        "exposure": "pop",
        "period": 12,
        "harmonics": 1,
        "slope": False,
    }
    pois = estimate_its(df, family="poisson", **kw)
    quasi = estimate_its(df, family="quasipoisson", **kw)
    assert pois.level_change.ratio == pytest.approx(0.8, abs=0.03)
    assert quasi.level_change.estimate == pytest.approx(pois.level_change.estimate, abs=1e-10)
    ratio = quasi.level_change.se / pois.level_change.se
    assert ratio == pytest.approx(np.sqrt(quasi.diagnostics["dispersion"]), rel=1e-8)
    x = pd.DataFrame(
        {
            "const": 1.0,
            "trend": t - 1.0,
            "level": (t >= 49) * 1.0,
            "sin1": np.sin(2 * np.pi * t / 12),
            "cos1": np.cos(2 * np.pi * t / 12),
        }
    )
    ref = sm.GLM(df["cases"], x, family=sm.families.Poisson(), offset=np.log(pop)).fit()
    assert pois.level_change.se == pytest.approx(ref.bse["level"], rel=1e-8)


def test_sicily_unadjusted_models(reference_dir: Path) -> None:
    """Same tutorial, models without seasonality: one point estimate, wider quasi-Poisson CI."""
    df = pd.read_csv(reference_dir / "sicily.csv")
    kw = {"time": "time", "outcome": "aces", "start": 37, "exposure": "stdpop", "slope": False}
    pois = estimate_its(df, family="poisson", **kw)
    quasi = estimate_its(df, family="quasipoisson", **kw)
    ref = sm.GLM(
        df["aces"],
        sm.add_constant(df[["smokban", "time"]]),
        family=sm.families.Poisson(),
        offset=np.log(df["stdpop"]),
    ).fit(scale="X2")
    assert quasi.level_change.ratio == pytest.approx(np.exp(ref.params["smokban"]), rel=1e-10)
    assert quasi.level_change.se == pytest.approx(ref.bse["smokban"], rel=1e-8)
    assert pois.level_change.ratio == pytest.approx(quasi.level_change.ratio, rel=1e-12)
    assert quasi.diagnostics["dispersion"] > 1.5  # the tutorial's over-dispersion


def test_controlled_its_removes_a_shared_shock() -> None:
    df = series(noise=0.0, level=-2.0, slope=0.0)
    t = df["t"].to_numpy()
    shock = 5.0 * (t >= 37)
    df["y"] = df["y"] + shock
    df["ctrl"] = 3 + 0.1 * t + shock
    naive = estimate_its(df, time="t", outcome="y", start=37, slope=False)
    res = estimate_its(df, time="t", outcome="y", start=37, control="ctrl", slope=False)
    assert naive.level_change.estimate == pytest.approx(3.0, abs=1e-8)
    assert res.level_change.estimate == pytest.approx(-2.0, abs=1e-8)


def test_ar_errors_option_estimates_rho() -> None:
    df = series(n=400, start=250, noise=1.0, rho=0.6, seed=5)
    res = estimate_its(df, time="t", outcome="y", start=250, ar_errors=True)
    assert res.diagnostics["ar_rho"] == pytest.approx(0.6, abs=0.1)
    assert res.level_change.estimate == pytest.approx(-3.0, abs=1.0)
    plain = estimate_its(df, time="t", outcome="y", start=250)
    assert plain.diagnostics["durbin_watson"] < 1.2 and plain.diagnostics["ljung_box_p"] < 1e-6


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        (
            {"start": 3},
            InsufficientPrePeriod,
            "too few pre-period points to identify a trend: 2 before 3, need at least 3",
        ),
        ({"start": 1}, InsufficientPrePeriod, "no pre-period"),
        ({"start": 99}, DesignError, "no post-period"),
        (
            {"start": 6, "period": 12, "harmonics": 2},
            InsufficientPrePeriod,
            "5 before 6, need at least 7",
        ),
        ({"start": 37, "family": "poisson", "ar_errors": True}, DesignError, "gaussian family"),
        ({"start": 37, "family": "binomial"}, DesignError, "unknown family"),
        ({"start": 37, "harmonics": 2}, DesignError, "season length"),
    ],
)
def test_refused_designs(kwargs, exc, message) -> None:
    df = series()
    df["y"] = df["y"].abs()
    with pytest.raises(exc, match=message):
        estimate_its(df, time="t", outcome="y", **kwargs)


def test_its_result_serialises_and_plots() -> None:
    res = estimate_its(series(), time="t", outcome="y", start=37)
    back = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert set(back["level_change"]) >= {"estimate", "se", "ci_low", "ci_high", "p_value", "ratio"}
    assert list(res.tidy()["term"]) == ["level_change", "slope_change"]
    assert res.plot().get_legend() is not None
