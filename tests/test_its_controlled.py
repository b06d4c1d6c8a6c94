"""The controlled ITS's standard error: treated and control series share every period, so
the periods (not the 2n stacked points) are the independent units. Checked on Prop 99 against
a hand-computed Newey-West on the difference series, and by Monte Carlo for counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from proeftuin.estimators import DesignError, estimate_its
from proeftuin.sources.reference import reference_path


def bartlett_meat(scores: np.ndarray, lags: int) -> np.ndarray:
    """Sum of the scores' autocovariances with Bartlett weights 1 - l/(lags+1)."""
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        gamma = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    return meat


def newey_west(x: np.ndarray, u: np.ndarray, lags: int) -> np.ndarray:
    """Bartlett-weighted sandwich of OLS, no small-sample factor."""
    bread = np.linalg.inv(x.T @ x)
    return bread @ bartlett_meat(x * u[:, None], lags) @ bread


@pytest.fixture(scope="module")
def prop99(mirror_dir: Path) -> pd.DataFrame:
    """California against the mean of the other 38 states, packs per capita, 1970-2000."""
    raw = pd.read_csv(reference_path("california_prop99.csv", mirror_dir), sep=";")
    ca = raw[raw["State"] == "California"].set_index("Year")["PacksPerCapita"]
    others = raw[raw["State"] != "California"].groupby("Year")["PacksPerCapita"]
    assert others.size().eq(38).all()
    return pd.DataFrame({"year": ca.index, "ca": ca.to_numpy(), "ct": others.mean()[ca.index]})


def test_prop99_level_se_is_newey_west_of_the_difference_series(prop99) -> None:
    res = estimate_its(prop99, time="year", outcome="ca", control="ct", start=1989, maxlags=1)
    t = prop99["year"].to_numpy()
    x = np.column_stack([np.ones_like(t), t - t[0], t >= 1989, np.where(t >= 1989, t - 1989, 0)])
    x = x.astype(float)
    d = (prop99["ca"] - prop99["ct"]).to_numpy()
    beta = np.linalg.lstsq(x, d, rcond=None)[0]
    v = newey_west(x, d - x @ beta, lags=1)
    n, k = x.shape
    # the difference-series value of the independent check (issue 11): 2.15
    assert np.sqrt(v[2, 2]) == pytest.approx(2.15, abs=0.01)
    assert res.level_change.estimate == pytest.approx(beta[2], rel=1e-10)
    # with Stata newey's small-sample factor n/(n-k)
    assert res.level_change.se == pytest.approx(np.sqrt(v[2, 2] * n / (n - k)), rel=1e-8)
    assert res.slope_change.se == pytest.approx(np.sqrt(v[3, 3] * n / (n - k)), rel=1e-8)
    # t reference on n - 4 = 27 degrees of freedom, not 2n - 8 = 54
    crit = stats.t.ppf(0.975, n - k)
    assert res.level_change.ci_high - res.level_change.estimate == pytest.approx(
        crit * res.level_change.se
    )
    cf = res.counterfactual
    band = (cf["cf_high"] - cf["counterfactual"]).to_numpy()
    assert band.min() > 0


def test_prop99_agrees_with_driscoll_kraay(prop99) -> None:
    """Time-clustered HAC on the stacked series with the cluster factor: about 2.33."""
    res = estimate_its(prop99, time="year", outcome="ca", control="ct", start=1989, maxlags=1)
    n = len(prop99)
    t = prop99["year"].to_numpy()
    x = pd.DataFrame({"c": 1.0, "tr": t - t[0], "lv": (t >= 1989) * 1.0})
    x["sl"] = np.where(t >= 1989, t - 1989, 0.0)
    xs = pd.concat([x.join(x.add_prefix("g_")), x.join(0.0 * x.add_prefix("g_"))])
    y = np.concatenate([prop99["ca"], prop99["ct"]])
    dk = sm.OLS(y, xs.to_numpy()).fit(
        cov_type="hac-groupsum",
        cov_kwds={"time": np.tile(np.arange(n), 2), "maxlags": 1, "use_correction": "cluster"},
    )
    assert dk.bse[6] == pytest.approx(2.33, abs=0.01)
    assert res.level_change.se == pytest.approx(dk.bse[6], rel=0.01)


def shared_shock_counts(seed: int, n: int = 24, start: int = 13) -> pd.DataFrame:
    """Treated and control counts with a common shock per period and no effect."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    shock = rng.normal(0, 0.05, n)
    pop, pop_c = 50_000.0, 400_000.0
    mu = pop * 0.01 * np.exp(0.01 * t + shock + rng.normal(0, 0.01, n))
    mu_c = pop_c * 0.009 * np.exp(0.012 * t + shock + rng.normal(0, 0.01, n))
    return pd.DataFrame(
        {"t": t, "y": rng.poisson(mu), "yc": rng.poisson(mu_c), "pop": pop, "pop_c": pop_c}
    )


def stacked_design(df: pd.DataFrame, start: int) -> np.ndarray:
    x = pd.DataFrame({"c": 1.0, "tr": df["t"] - 1.0, "lv": (df["t"] >= start) * 1.0})
    return pd.concat([x.join(x.add_prefix("g_")), x.join(0.0 * x.add_prefix("g_"))]).to_numpy()


COUNT_KW = {"time": "t", "outcome": "y", "start": 13, "exposure": "pop", "slope": False}
COUNT_KW |= {"control": "yc", "control_exposure": "pop_c", "family": "quasipoisson"}


def test_controlled_count_se_is_the_time_clustered_sandwich() -> None:
    df = shared_shock_counts(7)
    res = estimate_its(df, **COUNT_KW, maxlags=2)
    x = stacked_design(df, 13)
    y = np.concatenate([df["y"], df["yc"]])
    offset = np.log(np.concatenate([df["pop"], df["pop_c"]]))
    beta = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit().params
    mu = np.exp(x @ beta + offset)
    n = len(df)
    scores = x * (y - mu)[:, None]
    per_period = scores[:n] + scores[n:]  # the two series share each period
    bread = np.linalg.inv(x.T @ (x * mu[:, None]))
    cov = bread @ bartlett_meat(per_period, 2) @ bread * (2 * n) / (2 * n - x.shape[1])
    assert res.level_change.estimate == pytest.approx(beta[5], rel=1e-6)
    assert res.level_change.se == pytest.approx(np.sqrt(cov[5, 5]), rel=1e-6)


def test_controlled_count_se_tracks_the_sampling_spread() -> None:
    """A shock shared by both series: the time-clustered SE follows the estimates' spread
    (a little below it, as Newey-West on short series is), while the model-based
    quasi-Poisson SE of the stacked points counts the shared shock as noise."""
    est, se, naive = [], [], []
    for seed in range(100):
        df = shared_shock_counts(seed)
        fit = estimate_its(df, **COUNT_KW).level_change
        est.append(fit.estimate)
        se.append(fit.se)
        glm = sm.GLM(
            np.concatenate([df["y"], df["yc"]]),
            stacked_design(df, 13),
            family=sm.families.Poisson(),
            offset=np.log(np.concatenate([df["pop"], df["pop_c"]])),
        ).fit(scale="X2")
        naive.append(glm.bse[5])
    spread = np.std(est, ddof=1)
    assert 0.6 < np.mean(se) / spread < 1.25
    assert np.mean(naive) / spread > 1.5


def test_controlled_ar_errors_refused_in_one_line() -> None:
    df = shared_shock_counts(0).assign(y=lambda d: d["y"] / d["pop"], yc=lambda d: d["yc"] / 1e3)
    with pytest.raises(DesignError, match="^ar_errors with a control series is not available"):
        estimate_its(df, time="t", outcome="y", control="yc", start=13, ar_errors=True)
