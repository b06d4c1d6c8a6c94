"""Difference-in-differences estimators against identities, pyfixest, and planted effects."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from proeftuin.estimators import DesignError, InsufficientPrePeriod, estimate_did
from proeftuin.report.tables import FORMATS

matplotlib.use("Agg")
KW = {"unit": "unit", "time": "year", "outcome": "y"}


def staggered(noise: float, seed: int = 0, n: int = 60, years: int = 8) -> pd.DataFrame:
    """Cohorts 2003 and 2005 plus never-treated; effect grows with exposure, by cohort."""
    rng = np.random.default_rng(seed)
    g = np.select([np.arange(n) < 15, np.arange(n) < 30], [2003.0, 2005.0], 0.0)
    t = np.arange(2000, 2000 + years)
    e = t[None, :] - g[:, None]
    tau = np.where(
        (g[:, None] > 0) & (e >= 0), (1.0 + 0.5 * e) * np.where(g == 2003, 1, 2)[:, None], 0.0
    )
    y = (
        rng.normal(size=(n, 1))
        + 0.3 * (t - 2000)[None, :] ** 1.5
        + tau
        + noise * rng.normal(size=(n, years))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(t, n),
            "y": y.ravel(),
            "g": np.repeat(g, years),
            "tau": tau.ravel(),
        }
    )


def test_2x2_is_the_difference_of_four_means() -> None:
    df = staggered(1.0)
    df = df[df["g"] != 2005].assign(post=lambda d: d["year"] >= 2003)
    res = estimate_did(df, **KW, first_treated="g", method="2x2", event_study=False)
    m = df.groupby(["unit", "post"])["y"].mean().reset_index()
    m["treated"] = m["unit"].map(df.groupby("unit")["g"].first() > 0)
    cell = m.groupby(["treated", "post"])["y"].mean()
    by_hand = (cell[True, True] - cell[True, False]) - (cell[False, True] - cell[False, False])
    assert res.estimate == pytest.approx(by_hand, abs=1e-10)


def test_twfe_equals_2x2_on_two_periods() -> None:
    df = staggered(1.0)
    df = df[(df["g"] != 2005) & df["year"].isin([2002, 2003])].copy()
    df["d"] = ((df["g"] > 0) & (df["year"] >= 2003)).astype(int)
    twfe = estimate_did(df, **KW, treated="d", method="twfe", event_study=False)
    two = estimate_did(df, **KW, treated="d", method="2x2", event_study=False)
    cell = df.groupby([df["g"] > 0, "year"])["y"].mean()
    by_hand = (cell[True, 2003] - cell[True, 2002]) - (cell[False, 2003] - cell[False, 2002])
    assert twfe.estimate == pytest.approx(by_hand, abs=1e-10)
    assert two.estimate == pytest.approx(by_hand, abs=1e-10)
    assert twfe.se == pytest.approx(two.se, rel=1e-8)


def test_twfe_with_covariates_and_weights_is_pyfixest() -> None:
    df = staggered(1.0, seed=2)
    rng = np.random.default_rng(5)
    df["x"] = rng.normal(size=len(df))
    df["w"] = np.repeat(rng.uniform(1, 3, df["unit"].nunique()), df["year"].nunique())
    df["cl"] = df["unit"] // 4
    df["d"] = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(float)
    res = estimate_did(
        df, **KW, first_treated="g", covariates=["x"], weights="w", cluster="cl", event_study=False
    )
    ref = pf.feols("y ~ d + x | unit + year", data=df, weights="w", vcov={"CRV1": "cl"})
    assert res.estimate == pytest.approx(float(ref.coef()["d"]), abs=1e-10)
    assert res.se == pytest.approx(float(ref.se()["d"]), rel=1e-8)
    unweighted = estimate_did(
        df, **KW, first_treated="g", covariates=["x"], cluster="cl", event_study=False
    )
    assert unweighted.estimate != pytest.approx(res.estimate, abs=1e-6)


def test_cs_and_imputation_recover_planted_heterogeneous_effects_exactly() -> None:
    df = staggered(0.0)
    cs = estimate_did(df, **KW, first_treated="g", method="cs")
    truth = df[df["tau"] != 0].groupby(["g", "year"])["tau"].first()
    got = cs.att_gt.set_index(["group", "time"])["estimate"]
    for (g, t), value in truth.items():
        assert got[g, t] == pytest.approx(value, abs=1e-10)
    pre = cs.att_gt[cs.att_gt["time"] < cs.att_gt["group"]]
    np.testing.assert_allclose(pre["estimate"], 0.0, atol=1e-10)
    imp = estimate_did(df, **KW, first_treated="g", method="imputation")
    assert imp.estimate == pytest.approx(df.loc[df["tau"] != 0, "tau"].mean(), abs=1e-8)
    twfe = estimate_did(df, **KW, first_treated="g", method="twfe", event_study=False)
    assert abs(twfe.estimate - imp.estimate) > 0.01  # static TWFE is biased here (known)
    notyet = estimate_did(df, **KW, first_treated="g", method="cs", control_group="notyet")
    assert notyet.aggregations["simple"]["estimate"] == pytest.approx(
        cs.aggregations["simple"]["estimate"], abs=1e-10
    )


def test_event_study_recovers_planted_path_and_flags_pretrend() -> None:
    df = staggered(0.2, seed=4)
    df = df[df["g"] != 2005]
    res = estimate_did(df, **KW, first_treated="g", method="twfe")
    es = res.event_study.set_index("event_time")
    assert es.loc[-1, "estimate"] == 0.0
    for e in range(0, 5):
        assert es.loc[e, "estimate"] == pytest.approx(1.0 + 0.5 * e, abs=0.25)
    assert res.pretrend["p_value"] > 0.01
    trending = df.assign(y=df["y"] + np.where(df["g"] > 0, 0.5 * (df["year"] - 2000), 0.0))
    bad = estimate_did(trending, **KW, first_treated="g", method="twfe")
    assert bad.pretrend["p_value"] < 1e-6 and bad.pretrend["df"] == 2


def test_imputation_matches_pyfixest_did2s_on_its_bundled_data() -> None:
    path = Path(pf.__file__).parent / "did" / "data" / "df_het.csv"
    df = pd.read_csv(path)
    df = df[df["unit"] <= 300].copy()
    df["g"] = df["g"].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.did2s(
            df,
            yname="dep_var",
            first_stage="~ 0 | unit + year",
            second_stage="~ treat",
            treatment="treat",
            cluster="state",
        )
    res = estimate_did(
        df,
        unit="unit",
        time="year",
        outcome="dep_var",
        first_treated="g",
        cluster="state",
        method="imputation",
        event_study=False,
    )
    coef = ref.coef()
    name = [n for n in coef.index if "treat" in n][0]
    assert res.estimate == pytest.approx(float(coef[name]), abs=1e-8)
    assert res.se == pytest.approx(float(ref.se()[name]), rel=1e-6)
    # df_het carries its planted effects: the estimate lands near the true treated mean.
    truth = df.loc[df["treat"], "te"].add(df.loc[df["treat"], "te_dynamic"]).mean()
    assert abs(res.estimate - truth) < 3 * res.se


def test_result_serialises_tidies_and_plots() -> None:
    df = staggered(1.0)
    res = estimate_did(df, **KW, first_treated="g", inference=("crv1", "ri"), draws=49)
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = json.loads(text)
    for key in (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "inference",
        "n_units",
        "n_treated_units",
        "n_periods",
    ):
        assert key in back
    assert back["n_units"] == 60 and back["n_treated_units"] == 30 and back["n_periods"] == 8
    assert list(res.tidy()["method"]) == ["crv1", "ri"]
    assert res.diagnostics["cohorts"] == {"2003": 15, "2005": 15}
    assert res.diagnostics["placebo_in_time"]["fake_start"] == 2001.0
    ax = res.plot()
    assert len(ax.lines) >= 1


@pytest.mark.parametrize(
    ("mutate", "kwargs", "message"),
    [
        (lambda d: d, {"first_treated": "gg"}, "did you mean 'g'"),
        (
            lambda d: d.assign(y=d["y"].astype(str).where(d.index > 0, "n/a")),
            {"first_treated": "g"},
            "not numeric",
        ),
        (lambda d: d.assign(g=0.0), {"first_treated": "g"}, "no treated units"),
        (lambda d: d.assign(d=1), {"treated": "d"}, "treatment never changes"),
        (
            lambda d: d.assign(g=np.where(d["g"] > 0, 2000.0, 0.0)),
            {"first_treated": "g"},
            "no pre-period",
        ),
        (lambda d: pd.concat([d, d.iloc[:1]]), {"first_treated": "g"}, "duplicated rows"),
    ],
)
def test_bad_designs_raise_one_clear_error(mutate, kwargs, message) -> None:
    df = mutate(staggered(1.0))
    with pytest.raises(DesignError, match=message) as info:
        estimate_did(df, **KW, **kwargs)
    assert "\n" not in str(info.value)
    if message == "no pre-period":
        assert isinstance(info.value, InsufficientPrePeriod)


def test_tidy_carries_counts_pretrend_and_estimator() -> None:
    df = staggered(1.0)
    res = estimate_did(df, **KW, first_treated="g", inference=("crv1", "ri"), draws=49)
    tidy = res.tidy()
    assert list(tidy["estimator"]) == ["twfe", "twfe"]
    assert set(tidy["n_units"]) == {60} and set(tidy["n_treated_units"]) == {30}
    assert set(tidy["n_periods"]) == {8}
    # the RI pre-trend p-value where RI ran, CRV1's joint test otherwise
    assert set(tidy["pretrend_p"]) == {res.pretrend["ri_p_value"]}
    # ... which says how sure it is: 49 draws of many more assignments are a sample
    assert res.pretrend["ri_p_kind"] == "sampled" and res.pretrend["ri_draws"] <= 49
    assert set(tidy["pretrend_p_mcse"]) == {res.pretrend["ri_p_mcse"]} and res.pretrend_p_mcse > 0
    row = tidy.iloc[0].to_dict()
    assert FORMATS["p_mc"](row, "pretrend_p", 3).endswith(f" ± {res.pretrend_p_mcse:.3f}")
    assert FORMATS["p_mc"]({"p": 0.048147, "p_mcse": 0.0}, "p", 3) == "0.048, exact"
    crv1 = estimate_did(df, **KW, first_treated="g")
    assert set(crv1.tidy()["pretrend_p"]) == {crv1.pretrend["p_value"]}
    assert crv1.tidy()["pretrend_p_mcse"].isna().all()  # CRV1's test draws nothing
    assert FORMATS["p_mc"](crv1.tidy().iloc[0].to_dict(), "pretrend_p", 3) == FORMATS["p"](
        crv1.tidy().iloc[0].to_dict(), "pretrend_p", 3
    )
    flat = estimate_did(df, **KW, first_treated="g", event_study=False)
    assert flat.tidy()["pretrend_p"].isna().all() and flat.plot() is False
    assert "placebo_in_time" not in flat.diagnostics and crv1.diagnostics["placebo_in_time"]
