"""Review fixes of the estimators: placebo sites, 2x2 RI, unidentified draws, RI
pre-trends, refused designs, ITS small-sample inference and bootstrap reporting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from proeftuin.estimators import DesignError, estimate_did, estimate_its
from proeftuin.estimators.did import cs, placebo
from proeftuin.estimators.did import estimate as did
from proeftuin.estimators.did import panel as panel_mod
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import InferenceResult

KW = {"unit": "unit", "time": "year", "outcome": "y"}


def regional(seed: int, n_areas: int = 15, per: int = 5, years: int = 4, k: int = 3):
    """Null design with area x year shocks; the k treated units share area 0."""
    rng = np.random.default_rng(seed)
    n = n_areas * per
    area = np.repeat(np.arange(n_areas), per)
    y = (
        rng.normal(size=(n, 1))
        + rng.normal(size=(n_areas, years))[area]
        + 0.3 * rng.normal(size=(n, years))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(np.arange(years), n),
            "y": y.ravel(),
            "g": np.repeat(np.where(np.arange(n) < k, 2, 0), years),
            "area": np.repeat(area, years),
        }
    )


def _ri_p(frame: pd.DataFrame, group: str | None, seed: int, draws: int = 99) -> float:
    panel = did.prepare_panel(
        frame,
        unit="unit",
        time="year",
        outcome="y",
        treated=None,
        first_treated="g",
        cluster=None,
        weights=None,
        covariates=[],
        placebo_group=group,
    )
    resid = panel_mod.residualizer(panel)
    g_rows, exact, scheme = placebo.placebo_panels(panel, draws, np.random.default_rng(seed))
    t = panel.df["time"].to_numpy()
    dmat = np.column_stack([panel.df["d"], ((g_rows > 0) & (t >= g_rows)).T]).astype(float)
    b = inf.ri_coefficients(resid, panel.df["y"].to_numpy(), dmat)[0]
    return inf.ri_pvalue(b[0], b[1:], exact, scheme.weights, scheme.observed_included)


def test_placebo_sites_hold_size_under_regional_shocks():
    reps = 100
    uniform = np.array([_ri_p(regional(s), None, s) for s in range(reps)])
    grouped = np.array([_ri_p(regional(s), "area", s) for s in range(reps)])
    # whole-country placebos average the area shocks away: far too narrow a distribution
    assert np.mean(uniform <= 0.05) > 0.15
    # placebo sites inside one area share its shock, as the treated site does
    assert np.mean(grouped <= 0.05) < 0.10


def test_placebo_sites_deterministic_and_noted():
    frame = regional(3)
    run = [
        estimate_did(
            frame, **KW, first_treated="g", inference=["ri"], draws=49, seed=7, placebo_group="area"
        ).inference["ri"]
        for _ in range(2)
    ]
    assert run[0].p_value == run[1].p_value and run[0].se == run[1].se
    assert "placebo sites within area" in run[0].note
    uniform = estimate_did(frame, **KW, first_treated="g", inference=["ri"], draws=49, seed=7)
    assert "within" not in uniform.inference["ri"].note


def test_placebo_sites_enumerated_exactly_with_equal_area_weights():
    labels = np.array([5, 5, 0, 0, 0, 0, 0, 0])
    groups = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    assign, exact, weights = inf.grouped_placebo_assignments(
        labels, groups, 100, np.random.default_rng(0)
    )
    # area 0 has 1 untreated unit (< 2): ineligible; area 1: C(3,2)=3 sets; area 2: 1 set
    assert exact and assign.shape == (4, 8)
    assert not assign[:, :3].any()
    np.testing.assert_allclose(weights, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    # the observed assignment is not among the sets: it counts once, (1 + B share)/(1 + B)
    assert (
        inf.ri_pvalue(1.0, np.array([0.0, 0.0, 0.0, 2.0]), True, weights, False)
        == (1 + 4 * 0.5) / 5
    )


def two_period(seed: int, effect: float = 0.0, n: int = 30, k: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.where(np.arange(n) < k, 2001, 0)
    y = rng.normal(size=(n, 1)) + np.array([0.0, 0.5]) + rng.normal(size=(n, 2))
    y[:k, 1] += effect
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), 2),
            "year": np.tile([2000, 2001], n),
            "y": y.ravel(),
            "g": np.repeat(g, 2),
        }
    )


def test_2x2_ri_matches_twfe_ri_on_two_periods():
    for effect in (0.0, 3.0):
        frame = two_period(1, effect)
        res = {
            m: estimate_did(frame, **KW, first_treated="g", method=m, inference=["ri"], draws=99)
            for m in ("2x2", "twfe")
        }
        a, b = res["2x2"].inference["ri"], res["twfe"].inference["ri"]
        assert res["2x2"].estimate == pytest.approx(res["twfe"].estimate)
        assert a.p_value == pytest.approx(b.p_value) and a.se == pytest.approx(b.se)
        assert a.se > 0  # placebo estimates vary (they were all zero before)
    assert res["2x2"].inference["ri"].p_value < 0.05  # planted effect of 3 SDs found


def gappy(seed: int = 0, n: int = 12, years: int = 4) -> pd.DataFrame:
    """Two treated units from year 1; units 8-11 lack year 0 (no pre-period if drawn)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(np.arange(years), n),
            "y": rng.normal(size=n * years),
            "g": np.repeat(np.where(np.arange(n) < 2, 1, 0), years),
        }
    )
    return frame.loc[~((frame["unit"] >= 8) & (frame["year"] == 0))]


# exact: C(12, 2) = 66 placebo pairs. TWFE cannot identify the C(4, 2) = 6 pairs of gap
# units; imputation cannot impute a gap unit at all: 66 - C(8, 2) = 38 pairs hold one
@pytest.mark.parametrize(("method", "dropped"), [("twfe", 6), ("imputation", 38)])
def test_unidentified_placebo_draws_are_dropped(method, dropped):
    res = estimate_did(gappy(), **KW, first_treated="g", method=method, inference=["ri"], draws=99)
    ri = res.inference["ri"]
    assert res.diagnostics["ri_dropped_draws"] == dropped
    assert ri.draws == 66 - dropped and f"{dropped} placebo draws dropped" in ri.note
    assert np.isfinite(ri.se) and 0 < ri.p_value <= 1
    if method == "twfe":
        assert np.isfinite(ri.ci_low) and np.isfinite(ri.ci_high)


def ar_panel(seed: int, n: int = 40, years: int = 6, k: int = 2, lead_trend: float = 0.0):
    """AR(1), unit-heteroskedastic errors; k units treated from year 3; optional pre-trend."""
    rng = np.random.default_rng(seed)
    sd = rng.uniform(0.5, 3, n)
    e = np.zeros((n, years))
    for j in range(years):
        e[:, j] = (0.6 * e[:, j - 1] if j else 0) + rng.normal(size=n) * sd
    y = rng.normal(size=(n, 1)) + 0.2 * np.arange(years) + e
    y[:k] += lead_trend * np.minimum(np.arange(years) - 3, 0)
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(np.arange(years), n),
            "y": y.ravel(),
            "g": np.repeat(np.where(np.arange(n) < k, 3, 0), years),
        }
    )


def _ri_pretrend_p(frame: pd.DataFrame, seed: int) -> float:
    panel = did.prepare_panel(
        frame,
        unit="unit",
        time="year",
        outcome="y",
        treated=None,
        first_treated="g",
        cluster=None,
        weights=None,
        covariates=[],
    )
    draws = placebo.placebo_draws(panel, 99, np.random.default_rng(seed))
    return placebo.ri_pretrend(panel, draws, -1)["ri_p_value"]


def test_ri_pretrend_holds_size_with_two_treated_units():
    p = np.array([_ri_pretrend_p(ar_panel(s), s) for s in range(100)])
    assert 0.0 < np.mean(p <= 0.05) <= 0.10  # the CRV1 F test rejects ~40% here
    power = np.array([_ri_pretrend_p(ar_panel(s, lead_trend=4.0), s) for s in range(20)])
    assert np.mean(power <= 0.05) > 0.5


def test_pretrend_reports_ri_p_value_and_few_cluster_note():
    res = estimate_did(ar_panel(0), **KW, first_treated="g", inference=["crv1", "ri"], draws=99)
    pre = res.pretrend
    assert pre["p_value"] < 0.01 < pre["ri_p_value"]  # CRV1 rejects, RI does not
    assert pre["note"] == "CRV1 pre-trend test unreliable with few treated clusters"
    crv1_only = estimate_did(ar_panel(0), **KW, first_treated="g")
    assert "ri_p_value" not in crv1_only.pretrend


def small(seed: int = 1, n: int = 30, years: int = 8, starts=(4, 0), split: int = 3):
    rng = np.random.default_rng(seed)
    g = np.where(np.arange(n) < split, starts[0], starts[1])
    t = np.arange(1, years + 1)
    d = (g[:, None] > 0) & (t[None, :] >= g[:, None])
    y = rng.normal(size=(n, 1)) + 1.0 * d + rng.normal(size=(n, years))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(t, n),
            "y": y.ravel(),
            "g": np.repeat(g, years),
            "w": 1.0,
        }
    )


def test_zero_weight_rows_are_dropped_and_counted():
    frame = small().assign(w=lambda f: np.where(f["unit"] == 10, 0.0, 1.0))
    for method in ("twfe", "imputation", "cs"):
        res = estimate_did(
            frame,
            **KW,
            first_treated="g",
            weights="w",
            method=method,
            inference=["crv1", "ri"],
            draws=19,
        )
        same = estimate_did(
            frame[frame["unit"] != 10], **KW, first_treated="g", weights="w", method=method
        )
        assert res.diagnostics["dropped_zero_weight_rows"] == 8
        assert res.estimate == pytest.approx(same.estimate)
    treated_zero = small().assign(w=lambda f: np.where(f["g"] > 0, 0.0, 1.0))
    with pytest.raises(DesignError, match="zero for every treated unit"):
        estimate_did(treated_zero, **KW, first_treated="g", weights="w")


def test_staggered_without_never_treated_under_notyet():
    frame = small(starts=(4, 7), split=15)  # cohorts 4 and 7, nobody never treated
    for method in ("twfe", "cs"):
        res = estimate_did(frame, **KW, first_treated="g", method=method, control_group="notyet")
        assert abs(res.estimate - 1.0) < 0.6 and np.isfinite(res.se)
    with pytest.raises(DesignError, match="untreated observations in every period; none in 7, 8"):
        estimate_did(frame, **KW, first_treated="g", method="imputation", control_group="notyet")


def test_collinear_covariate_is_refused():
    frame = small()
    frame["x"] = 2.0 * ((frame["g"] > 0) & (frame["year"] >= frame["g"]))
    for method in ("twfe", "2x2", "imputation"):
        with pytest.raises(DesignError, match="collinear"):
            estimate_did(
                frame,
                **KW,
                first_treated="g",
                covariates=["x"],
                method=method,
                inference=["crv1", "wild", "ri"],
                draws=49,
            )


def annual(seed: int = 0, years: int = 13) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(2011, 2011 + years)
    return pd.DataFrame(
        {
            "year": t,
            "site": 100 + 2.0 * (t - 2011) + rng.normal(size=years),
            "control": 98 + 2.0 * (t - 2011) + 0.3 * rng.normal(size=years),
            "pop": np.full(years, 10.0),
            "pop_c": np.full(years, 100.0),
        }
    )


def test_its_slope_change_needs_two_post_points():
    frame = annual().iloc[:5]  # 2011-2015, start 2015: one post point
    with pytest.raises(DesignError, match="at least 2 post-period points; found 1"):
        estimate_its(frame, time="year", outcome="site", start=2015)
    level = estimate_its(frame, time="year", outcome="site", start=2015, slope=False)
    assert level.slope_change is None and level.level_change.se > 0


def test_its_control_needs_its_own_exposure():
    frame = annual()
    frame["site"], frame["control"] = 100.0, 1000.0  # same rate: 10 per head in both
    kw = {"time": "year", "outcome": "site", "start": 2016, "family": "poisson"}
    with pytest.raises(DesignError, match="--control-exposure"):
        estimate_its(frame, **kw, control="control", exposure="pop")
    res = estimate_its(frame, **kw, control="control", exposure="pop", control_exposure="pop_c")
    # equal rates and no change: the treated-specific intercept is log(1) = 0
    assert res.level_change.ratio == pytest.approx(1.0, abs=1e-6)
    cf = res.counterfactual
    np.testing.assert_allclose(cf["counterfactual"], 100.0, rtol=1e-6)


def test_its_gaussian_uses_t_reference_with_residual_df():
    frame = annual(4)
    for control in (None, "control"):
        res = estimate_its(frame, time="year", outcome="site", start=2016, control=control)
        eff = res.level_change
        df = 13 - 4  # controlled too: 13 shared periods, not 26 independent points
        assert eff.p_value == pytest.approx(2 * stats.t.sf(abs(eff.estimate / eff.se), df))
        crit = stats.t.ppf(0.975, df)
        assert eff.ci_high - eff.estimate == pytest.approx(crit * eff.se)
    # Monte Carlo under no effect: the t reference rejects less often than the normal one
    rej_t = rej_n = 0
    for s in range(150):
        eff = estimate_its(annual(s), time="year", outcome="site", start=2016).level_change
        rej_t += eff.p_value < 0.05
        rej_n += 2 * stats.norm.sf(abs(eff.estimate / eff.se)) < 0.05
    assert rej_t < rej_n


def test_wild_rows_carry_no_crv1_se_and_floor_zero_p():
    frame = small(seed=2).assign(y=lambda f: f["y"] + 20.0 * (f["g"] > 0) * (f["year"] >= 4))
    res = estimate_did(frame, **KW, first_treated="g", inference=["crv1", "wild"], draws=99)
    crv1, wcu = res.inference["crv1"], res.inference["wild_unrestricted"]
    assert res.inference["wild_restricted"].se is None and wcu.se is None
    assert res.se == crv1.se
    # 20 SDs: no bootstrap draw is as extreme, p is floored at 1/(B+1) = 1/100 and said so
    assert wcu.p_value == pytest.approx(1 / 100) and "p < 1/(B+1)" in wcu.note
    cs = estimate_did(
        frame, **KW, first_treated="g", method="cs", inference=["wild_unrestricted"], draws=99
    ).inference["wild_unrestricted"]
    assert cs.p_value == pytest.approx(1 / 100) and "p < 1/(B+1)" in cs.note
    only = estimate_did(frame, **KW, first_treated="g", inference=["wild"], draws=99)
    assert only.se == pytest.approx(crv1.se)  # headline falls back to the CRV1 SE


def test_unbounded_interval_is_infinite_and_noted():
    # a test that never rejects above the estimate (as WCR with too few treated clusters)
    lo, hi = inf._invert(lambda b: 0.01 if b < -1 else 0.5, 0.0, 0.3, 0.05)
    assert lo == pytest.approx(-1.0, abs=1e-6) and hi == np.inf
    note = inf.interval_note(lo, hi, "Webb weights")
    assert note == "Webb weights; interval unbounded: too few treated clusters"
    r = InferenceResult("wild_restricted", 0.4, None, lo, hi, 99, note)
    back = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert back["ci_high"] is None and back["ci_low"] == pytest.approx(-1.0, abs=1e-6)
    assert inf.interval_note(-1.0, 1.0, "Webb weights") == "Webb weights"


def test_cs_pretrend_sums_influence_within_clusters():
    frame = small(seed=3, n=40, split=12).assign(site=lambda f: f["unit"] // 4)
    by_unit = estimate_did(frame, **KW, first_treated="g", method="cs")
    by_site = estimate_did(frame, **KW, first_treated="g", method="cs", cluster="site")
    panel = did.prepare_panel(
        frame,
        unit="unit",
        time="year",
        outcome="y",
        treated=None,
        first_treated="g",
        cluster="site",
        weights=None,
        covariates=[],
    )
    fit = cs.cs_attgt(panel)
    pre = (fit.cells["group"] > fit.cells["time"]).to_numpy()
    att = fit.cells["estimate"].to_numpy()[pre]
    site = np.arange(40) // 4
    sums = np.array([fit.psi[site == r][:, pre].sum(axis=0) for r in range(10)])
    n = 40
    wald = n**2 * att @ np.linalg.pinv(sums.T @ sums) @ att
    assert by_site.pretrend["statistic"] == pytest.approx(wald, rel=1e-8)
    assert by_site.pretrend["statistic"] != pytest.approx(by_unit.pretrend["statistic"])


def test_one_json_safe_handles_frames_arrays_and_numpy_scalars():
    from proeftuin.core.fileio import json_safe
    from proeftuin.estimators import results

    assert results.json_safe is json_safe
    value = {
        "frame": pd.DataFrame({"a": [1.0, np.nan], "b": [np.int64(2), np.int64(3)]}),
        "array": np.array([[1.0, np.inf]]),
        "flag": np.bool_(True),
        1: (np.float32(0.5), -np.inf),
    }
    out = json_safe(value)
    assert out == {
        "frame": [{"a": 1.0, "b": 2}, {"a": None, "b": 3}],
        "array": [[1.0, None]],
        "flag": True,
        "1": [0.5, None],
    }
    assert type(out["flag"]) is bool and type(out["frame"][0]["b"]) is int
    json.dumps(out, allow_nan=False)


def test_event_study_bands_use_t_with_clusters_minus_one_for_twfe_and_imputation():
    frame = small(seed=4, n=20, split=5)
    crit = stats.t.ppf(0.975, 20 - 1)
    for method in ("twfe", "imputation"):
        es = estimate_did(frame, **KW, first_treated="g", method=method).event_study
        es = es[es["se"] > 0]
        np.testing.assert_allclose(es["ci_high"] - es["estimate"], crit * es["se"], rtol=1e-10)


def test_cs_pretrend_flags_few_treated_clusters():
    few = estimate_did(small(seed=3, n=40, split=3), **KW, first_treated="g", method="cs")
    many = estimate_did(small(seed=3, n=40, split=12), **KW, first_treated="g", method="cs")
    assert "unreliable with few treated clusters" in few.pretrend["note"]
    assert "note" not in many.pretrend
