"""Placebo-in-space ITS on simulated municipal mortality: planted effect, planted null, draws.

The panel mimics annual registry mortality: municipalities (person-years lognormal around
a mean) in areas sharing AR(1) shocks, a national trend and national year shocks, Poisson
deaths; the site is a group of municipalities of one area, starting in 2013 after 17
pre-years. Every test is deterministic: seeds are fixed.
"""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from proeftuin.estimators import DesignError, estimate_its
from proeftuin.estimators.inference.methods import RESOLUTION
from proeftuin.estimators.its.placebo import (
    estimate_its_placebo,
    placebo_in_time,
    placebo_space,
    site_series,
)

matplotlib.use("Agg")

YEARS = np.arange(1996, 2019)
START = 2013
COLUMNS = {"unit": "unit", "time": "year", "outcome": "deaths", "exposure": "py"}


def mortality_panel(
    seed: int,
    *,
    effect: float = 0.0,
    n_areas: int = 20,
    per_area: int = 3,
    k: int = 2,
    pop_mean: float = 40_000,
    area_sd: float = 0.02,
) -> tuple[pd.DataFrame, list[int]]:
    """A long panel (unit, year, deaths, py, area) and the site's units (k of one area)."""
    rng = np.random.default_rng(seed)
    n, nt = n_areas * per_area, len(YEARS)
    area = np.repeat(np.arange(n_areas), per_area)
    py = rng.lognormal(np.log(pop_mean), 0.5, n)[:, None] * 1.003 ** (YEARS - YEARS[0])
    national = -0.01 * (YEARS - YEARS[0]) + rng.normal(0, 0.01, nt)
    shock = np.zeros((n_areas, nt))
    for j in range(nt):
        shock[:, j] = (0.5 * shock[:, j - 1] if j else 0.0) + rng.normal(0, area_sd, n_areas)
    site = rng.choice(np.flatnonzero(area == rng.integers(n_areas)), k, replace=False)
    treated = np.isin(np.arange(n), site)[:, None] & (YEARS >= START)[None, :]
    log_rate = np.log(0.009) + national + shock[area] + rng.normal(0, 0.1, (n, 1))
    deaths = rng.poisson(py * np.exp(log_rate + effect * treated))
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), nt),
            "year": np.tile(YEARS, n),
            "deaths": deaths.ravel(),
            "py": py.ravel(),
            "area": np.repeat(area, nt),
        }
    )
    return frame, sorted(site.tolist())


@pytest.fixture(scope="module")
def panel() -> tuple[pd.DataFrame, list[int]]:
    return mortality_panel(11, effect=np.log(0.95))


def test_placebos_are_fitted_like_the_site(panel) -> None:
    """Each placebo's estimate is estimate_its on that placebo against the other controls."""
    df, site = panel
    for family, controlled in (("quasipoisson", True), ("gaussian", False)):
        res = estimate_its_placebo(
            df, **COLUMNS, treated=site, start=START, draws=50, rng=1, family=family,
            controlled=controlled, in_time=False,
        )  # fmt: skip
        for _, row in res.draws.placebo.head(3).iterrows():
            others = df[~df["unit"].isin(site)]
            series = site_series(others, **COLUMNS, treated=row["units"])
            kw = {"control": "yc", "control_exposure": "exposure_c"} if controlled else {}
            ref = estimate_its(
                series, time="time", outcome="y", exposure="exposure", start=START,
                family=family, **kw,
            )  # fmt: skip
            assert row["level_change"] == pytest.approx(ref.level_change.estimate, abs=1e-7)
            assert row["slope_change"] == pytest.approx(ref.slope_change.estimate, abs=1e-7)


def test_planted_five_percent_drop_is_recovered() -> None:
    """-5% mortality at the start, sites of 4 municipalities of ~100,000 (about 3,600
    deaths a year). Tolerance: the mean of 20 estimates lies within 4 standard errors
    (placebo spread / sqrt(20)) of log(0.95); power at this size is about 0.75 in
    exploratory runs on other seeds, so at least half of the p-values are <= 0.05."""
    truth, estimates, spreads, p_values = np.log(0.95), [], [], []
    for seed in range(100, 120):
        df, site = mortality_panel(
            seed, effect=truth, n_areas=12, per_area=5, k=4, pop_mean=100_000, area_sd=0.01
        )
        res = estimate_its_placebo(
            df, **COLUMNS, treated=site, start=START, draws=99, rng=seed, area="area",
            in_time=False,
        )  # fmt: skip
        row = res.tidy().set_index("effect").loc["level_change"]
        estimates.append(row["estimate"])
        spreads.append(np.std(res.draws.placebo["level_change"]))
        p_values.append(row["p_value"])
        assert row["ci_low"] <= row["estimate"] <= row["ci_high"]
    tolerance = 4 * np.mean(spreads) / np.sqrt(len(estimates))
    assert np.mean(estimates) == pytest.approx(truth, abs=tolerance)
    assert np.mean(np.array(p_values) <= 0.05) >= 0.5


def test_planted_null_rejects_at_the_nominal_rate() -> None:
    """200 null panels; each site is a pair of one area's three municipalities, its placebos
    every pair in the 19 other areas (57 sets, enumerated: draws > 57). The exact test
    rejects at 5% when at most one placebo is as extreme, 2/58 = 3.4% without area shocks
    and up to 1/20 when they dominate. Band: the central 99.9% of Binomial(200, 0.05),
    2 to 21 rejections, for the level and the slope change alike (seeds fixed). Sampled
    draws with few placebos over-reject here (the site's own area is never drawn): 19 or 39
    draws gave 6-11% in exploratory runs, hence 999 draws in practice."""
    reps, alpha = 200, 0.05
    rejections = np.zeros(2)
    for seed in range(reps):
        df, site = mortality_panel(10_000 + seed)
        draws = placebo_space(
            df, **COLUMNS, treated=site, start=START, draws=99, rng=seed, area="area"
        )
        assert draws.exact
        rejections += [draws.p_value(e) <= alpha for e in ("level_change", "slope_change")]
    low, high = stats.binom.ppf(0.0005, reps, alpha), stats.binom.isf(0.0005, reps, alpha)
    assert ((low <= rejections) & (rejections <= high)).all(), rejections


def test_identical_seeds_give_identical_results(panel) -> None:
    df, site = mortality_panel(11, per_area=10, k=4)  # C(196, 4) sites from all controls
    kw = {**COLUMNS, "treated": site, "start": START, "draws": 30}
    a = estimate_its_placebo(df, **kw, rng=np.random.SeedSequence(7), in_time=False)
    b = estimate_its_placebo(df, **kw, rng=np.random.default_rng(7), in_time=False)
    assert not a.draws.exact and a.tidy()["p_kind"].eq("sampled").all()
    pd.testing.assert_frame_equal(a.draws.placebo, b.draws.placebo)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    c = estimate_its_placebo(df, **kw, rng=8, in_time=False)
    assert a.draws.placebo["units"].tolist() != c.draws.placebo["units"].tolist()
    # within areas the 57 placebo sites are all enumerated: the seed no longer matters
    df, site = panel
    kw = {**COLUMNS, "treated": site, "start": START, "draws": 30, "area": "area"}
    d = estimate_its_placebo(df, **kw, rng=7, in_time=False)
    e = estimate_its_placebo(df, **kw, rng=8, in_time=False)
    assert d.draws.exact and len(d.draws.placebo) == 57
    pd.testing.assert_frame_equal(d.tidy(), e.tidy())


def test_draws_within_areas_use_only_controls_of_one_area(panel) -> None:
    df, site = panel
    area_of = df.groupby("unit")["area"].first()
    kw = {**COLUMNS, "treated": site, "start": START, "draws": 99, "rng": 3}
    grouped = placebo_space(df, **kw, area="area")
    for _, row in grouped.placebo.iterrows():
        assert len(row["units"]) == len(site) and not set(row["units"]) & set(site)
        assert set(area_of[row["units"]]) == {row["area"]}
    assert area_of[site].iloc[0] not in set(grouped.placebo["area"])  # one unit left there
    uniform = placebo_space(df, **kw)
    assert all(not set(u) & set(site) and len(u) == len(site) for u in uniform.placebo["units"])
    assert uniform.placebo["units"].map(lambda u: area_of[u].nunique()).max() > 1


def test_interval_inverts_the_placebo_test(panel) -> None:
    """The interval holds exactly the effects tau the test does not reject, and a planted
    shift of the site's post-period counts moves the estimate and the interval by tau while
    the placebo distribution stays put (exact for a level change with a slope term)."""
    df, site = panel
    kw = {**COLUMNS, "treated": site, "start": START, "draws": 199, "rng": 5, "in_time": False}
    res = estimate_its_placebo(df, **kw)
    est, (lo, hi) = res.site.level_change.estimate, res.interval("level_change")
    p_at = res.draws.p_value  # p of the statistic |estimate - tau|
    assert p_at("level_change", est - lo) > 0.05 and p_at("level_change", est - hi) > 0.05
    assert p_at("level_change", (est - lo) * 1.001) <= 0.05
    assert (res.p_value("level_change") <= 0.05) == (not lo <= 0 <= hi)
    tau = 0.1
    boost = df["unit"].isin(site) & (df["year"] >= START)
    shifted = df.assign(deaths=np.where(boost, df["deaths"] * np.exp(tau), df["deaths"]))
    moved = estimate_its_placebo(shifted, **kw)
    assert moved.site.level_change.estimate == pytest.approx(est + tau, abs=1e-7)
    pd.testing.assert_frame_equal(moved.draws.placebo, res.draws.placebo)
    assert moved.interval("level_change") == pytest.approx((lo + tau, hi + tau), abs=1e-7)


def test_placebo_in_time_uses_the_pre_period_only(panel) -> None:
    df, site = panel
    series = site_series(df, **COLUMNS, treated=site)
    kw = {"start": START, "family": "quasipoisson", "slope": True, "controlled": True}
    table = placebo_in_time(series, **kw)
    post = series["time"] >= START
    noisy = series.assign(y=np.where(post, series["y"] * 3, series["y"]))
    pd.testing.assert_frame_equal(placebo_in_time(noisy, **kw), table)
    assert table["fake_start"].between(YEARS[0] + 5, START - 3).all()
    assert set(table["effect"]) == {"level_change", "slope_change"}
    assert len(table) == 2 * (START - 3 - (YEARS[0] + 5) + 1)
    assert table["p_value"].between(0, 1).all()


def test_tidy_dict_and_plot(panel) -> None:
    df, site = panel
    res = estimate_its_placebo(
        df, **COLUMNS, treated=site, start=START, draws=99, rng=2, area="area"
    )
    tidy = res.tidy()
    assert tidy["effect"].tolist() == ["level_change", "slope_change"]
    assert (tidy["inference"] == "placebo_space").all()
    assert (tidy["n_placebos"] == 19 * 3).all()  # every pair in the 19 other areas of three
    assert tidy["note"].str.contains("exact enumeration").all()
    np.testing.assert_allclose(tidy["rate_ratio"], np.exp(tidy["estimate"]))
    assert tidy["p_value"].between(1 / 58, 1).all()
    out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert out["effects"][0]["effect"] == "level_change" and len(out["placebo"]) == 57
    assert out["in_time"] and out["site"]["family"] == "quasipoisson"
    ax = res.plot("slope_change")
    assert res.site.slope_change.estimate in [line.get_xdata()[0] for line in ax.get_lines()]
    gauss = estimate_its_placebo(
        df, **COLUMNS, treated=site, start=START, draws=20, rng=2, family="gaussian",
        slope=False, in_time=False,
    )  # fmt: skip
    assert gauss.tidy()["rate_ratio"].isna().all() and len(gauss.tidy()) == 1


def test_p_values_finer_than_the_areas_are_flagged() -> None:
    df, site = mortality_panel(1, effect=np.log(0.8), n_areas=8, per_area=5, k=3)
    res = estimate_its_placebo(
        df, **COLUMNS, treated=site, start=START, draws=50, rng=1, area="area", in_time=False
    )
    tidy = res.tidy().set_index("effect")
    assert (tidy["n_areas"] == 7).all() and (tidy["p_resolution"] == 1 / 8).all()
    assert (tidy["p_kind"] == "exact").all() and (tidy["p_mcse"] == 0).all()
    for effect, row in tidy.iterrows():
        assert (RESOLUTION in res.note(effect)) == (row["p_value"] < 1 / 8)
    assert tidy.loc["level_change", "p_value"] < 1 / 8  # the planted effect: the note fires


def test_bad_designs_fail_with_one_line(panel) -> None:
    df, site = panel
    kw = {**COLUMNS, "start": START, "draws": 10, "rng": 1}
    with pytest.raises(DesignError, match="unbalanced panel"):
        placebo_space(df.iloc[1:], treated=site, **kw)
    with pytest.raises(DesignError, match="treated units not in"):
        placebo_space(df, treated=[999], **kw)
    with pytest.raises(DesignError, match="more controls"):
        placebo_space(df[df["unit"] < 4], treated=[0, 1], **kw)
    with pytest.raises(DesignError, match="unknown family"):
        placebo_space(df, treated=site, family="binomial", **kw)
    with pytest.raises(DesignError, match="constant within each unit"):
        placebo_space(df.assign(area=np.arange(len(df))), treated=site, area="area", **kw)
    with pytest.raises(DesignError, match="must be positive"):
        placebo_space(df.assign(py=0.0), treated=site, **kw)


def test_refits_that_drift_from_estimate_its_are_refused(panel, monkeypatch) -> None:
    """The placebos must use the site's estimator: a batched refit that disagrees with
    estimate_its on the site by more than 1e-4 standard errors stops the run."""
    import proeftuin.estimators.its.placebo as mod

    df, site = panel
    real = mod.batch_estimates
    monkeypatch.setattr(mod, "batch_estimates", lambda *a, **k: real(*a, **k) + 1e-3)
    with pytest.raises(RuntimeError, match="differs from estimate_its"):
        estimate_its_placebo(
            df, **COLUMNS, treated=site, start=START, draws=10, rng=1, in_time=False
        )
