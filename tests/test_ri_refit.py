"""RI for Callaway-Sant'Anna and the imputation estimator without refits: each placebo
assignment's estimate (``Fit.point``) against the estimator re-run on the placebo panel
(the former path: a new panel, a least-squares first stage, every influence function), on
the small panels of the TWFE projection's tests (weighted and unweighted, one or staggered
starts, missing rows, a covariate); the observed assignment gives the estimate itself; the
exact first stage equals least squares (and pyfixest's fit to its precision); a first stage
pyfixest must trim (a collinear covariate) is left to it."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from proeftuin.estimators import DesignError
from proeftuin.estimators.did import cs, imputation, placebo
from proeftuin.estimators.did.estimate import Panel, prepare_panel
from proeftuin.estimators.did.imputation_stage import FirstStage
from proeftuin.estimators.did.panel import RunOptions
from test_ri_projection import frame, make_panel

CASES = [  # weighted, staggered, gaps, covariate
    (False, False, False, False),
    (True, True, False, False),
    (True, False, True, True),
    (False, True, True, True),
]


def placebo_panel(panel: Panel, g_row: np.ndarray) -> Panel:
    d = ((g_row > 0) & (panel.df["time"].to_numpy() >= g_row)).astype(float)
    return replace(panel, df=panel.df.assign(g=g_row, d=d))


def dense_first_stage(panel: Panel) -> np.ndarray:
    """The first stage by least squares on a dense design of unit and period dummies (and
    covariates) on the untreated rows: exact, and small panels only."""
    df = panel.df
    design = np.hstack([
        pd.get_dummies(df["unit"]).to_numpy(float),
        pd.get_dummies(df["time"]).to_numpy(float)[:, 1:],
        df[panel.covariates].to_numpy(float),
    ])  # fmt: skip
    untreated = (df["d"] == 0).to_numpy()
    root_w = np.sqrt(df["w"].to_numpy()[untreated])
    coef = np.linalg.lstsq(design[untreated] * root_w[:, None],
                           df["y"].to_numpy()[untreated] * root_w, rcond=None)[0]  # fmt: skip
    return design @ coef


def refit_imputation(panel: Panel, first_stage=dense_first_stage) -> float:
    """The imputation estimate refitted on a panel: the treated rows' weighted mean of the
    outcome minus the first stage's prediction."""
    ytil = panel.df["y"].to_numpy() - first_stage(panel)
    treated = panel.df["d"].to_numpy() == 1
    w = panel.df["w"].to_numpy()[treated]
    return float(w @ ytil[treated] / w.sum())


def pyfixest_first_stage(panel: Panel) -> np.ndarray:
    """The former first stage: pyfixest on the untreated rows, predicted at every row."""
    df = panel.df
    fml = "y ~ " + (" + ".join(panel.covariates) or "1") + " | unit + time"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = pf.feols(fml, data=df[df["d"] == 0], weights="w" if panel.has_weights else None,
                         fixef_rm="none")  # fmt: skip
    return np.asarray(first.predict(newdata=df), dtype=float)


def options(control_group: str = "never") -> RunOptions:
    return RunOptions("cs", control_group, ["crv1"], 0, 0, False, -1, 0.05)


def draws_of(panel: Panel, n: int = 25) -> list[np.ndarray]:
    pdraws = placebo.placebo_draws(panel, n, np.random.default_rng(11))
    return [pdraws.rows(b) for b in range(len(pdraws.draws))]


@pytest.mark.parametrize(("weighted", "staggered", "gaps", "covariate"), CASES)
def test_imputation_placebo_estimates_equal_refits(weighted, staggered, gaps, covariate):
    panel = make_panel(frame(1, weighted, staggered, gaps, covariate), weighted, covariate)
    fit = imputation.fit_imputation(panel, options())
    observed = panel.df["g"].to_numpy()
    assert fit.point(observed) == pytest.approx(fit.estimate, abs=1e-12)
    assert fit.estimate == pytest.approx(refit_imputation(panel), abs=1e-10)
    rows = draws_of(panel)
    fast = np.array([fit.point(row) for row in rows])
    refit = np.array([refit_imputation(placebo_panel(panel, row)) for row in rows])
    assert np.isfinite(fast).all() and len(np.unique(fast.round(8))) > 5
    np.testing.assert_allclose(fast, refit, rtol=0, atol=1e-10)


@pytest.mark.parametrize("control_group", ["never", "notyet"])
@pytest.mark.parametrize(("weighted", "staggered"), [(False, True), (True, True), (True, False)])
def test_cs_placebo_estimates_equal_refits(weighted, staggered, control_group):
    panel = make_panel(frame(2, weighted, staggered, False, False), weighted, covariate=False)
    fit = cs.fit_cs(panel, options(control_group))
    assert fit.point(panel.df["g"].to_numpy()) == pytest.approx(fit.estimate, abs=1e-12)
    rows = draws_of(panel)
    fast = np.array([fit.point(row) for row in rows])
    former = [cs.cs_aggregate(cs.cs_attgt(placebo_panel(panel, row), control_group))["simple"][0]
              for row in rows]  # fmt: skip
    assert len(np.unique(fast.round(8))) > 5
    np.testing.assert_allclose(fast, former, rtol=0, atol=1e-12)


def test_ri_p_values_equal_the_refit_path():
    """The whole RI result (p-value, spread, draws kept) from the placebo estimates equals
    the one from refitting every placebo panel, on the same draws."""
    panel = make_panel(frame(3, True, True, True, True), True, True)
    fit = imputation.fit_imputation(panel, options())

    def refit(g_row: np.ndarray) -> float:
        return refit_imputation(placebo_panel(panel, g_row))

    fast, _ = placebo.ri_refit(panel, fit.estimate, fit.point, 49, np.random.default_rng(5))
    slow, _ = placebo.ri_refit(panel, fit.estimate, refit, 49, np.random.default_rng(5))
    assert fast.p_value == slow.p_value and fast.draws == slow.draws == 49
    assert fast.se == pytest.approx(slow.se, rel=1e-9)


def test_the_exact_first_stage_equals_least_squares_and_pyfixest():
    """Exact to rounding; pyfixest's prediction recovers the fixed effects iteratively and
    is off by up to about 1e-4 here (2.5e-5 in one measured case, whatever its tolerance),
    which is what moved the imputation estimates when this first stage replaced it."""
    panel = make_panel(frame(4, True, True, True, True), True, True)
    ours = FirstStage.from_panel(panel).fitted((panel.df["d"] == 0).to_numpy())
    np.testing.assert_allclose(ours, dense_first_stage(panel), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours, pyfixest_first_stage(panel), rtol=0, atol=1e-3)


def test_a_collinear_covariate_is_left_to_pyfixest():
    df = frame(5, False, False, False, True)
    df["xc"] = (df["unit"] % 5).astype(float)  # constant within units: unit effects absorb it
    panel = prepare_panel(df, unit="unit", time="year", outcome="y", treated=None,
                          first_treated="g", cluster="cl", weights=None,
                          covariates=["x", "xc"])  # fmt: skip
    assert FirstStage.from_panel(panel).fitted((panel.df["d"] == 0).to_numpy()) is None
    fit = imputation.fit_imputation(panel, options())
    without = imputation.fit_imputation(make_panel(df, False, True), options())
    assert fit.estimate == pytest.approx(without.estimate, abs=1e-3)  # pyfixest drops xc
    row = draws_of(panel, 3)[1]
    expected = refit_imputation(placebo_panel(panel, row), pyfixest_first_stage)
    assert fit.point(row) == pytest.approx(expected, abs=1e-12)


def test_the_rank_check_does_not_depend_on_a_covariates_unit():
    df = frame(6, True, True, False, True)
    small = make_panel(df, True, True)
    large = make_panel(df.assign(x=df["x"] * 1e7), True, True)
    untreated = (small.df["d"] == 0).to_numpy()
    fitted = FirstStage.from_panel(large).fitted(untreated)
    assert fitted is not None
    np.testing.assert_allclose(fitted, FirstStage.from_panel(small).fitted(untreated), atol=1e-9)
    absorbed = make_panel(df.assign(x=(df["unit"] % 5) * 1e6 + 3e6), True, True)
    assert FirstStage.from_panel(absorbed).fitted(untreated) is None


def test_an_unidentified_placebo_assignment_gives_no_estimate():
    """A placebo unit without untreated rows has no unit effect (NaN, dropped by RI); a
    period without untreated rows, or no comparison group, is a design error (dropped)."""
    df = frame(7, False, False, False, False)
    late = (df["unit"] == 35) & (df["year"] < 2013)  # unit 35 (cluster 11) seen from 2013 on
    panel = make_panel(df[~late].reset_index(drop=True), False, False)
    fit = imputation.fit_imputation(panel, options())
    unit, cluster = panel.df["unit"].to_numpy(), panel.df["cl"].to_numpy()
    assert np.isnan(fit.point(np.where(cluster == 11, 2013.0, 0.0)))
    assert np.isfinite(fit.point(np.where(cluster == 10, 2013.0, 0.0)))
    with pytest.raises(DesignError, match="untreated"):
        fit.point(np.full(len(unit), 2010.0))
    balanced = make_panel(df, False, False)
    cs_fit = cs.fit_cs(balanced, options())
    with pytest.raises(DesignError):
        cs_fit.point(np.full(len(balanced.df), 2013.0))  # no never-treated unit left


def test_a_treated_unit_without_untreated_rows_is_a_design_error():
    df = frame(8, False, False, False, False)
    late = (df["unit"] == 1) & (df["year"] < 2013)  # unit 1 (treated from 2013) seen from then
    panel = make_panel(df[~late].reset_index(drop=True), False, False)
    with pytest.raises(DesignError, match="not observed before: unit 1: drop"):
        imputation.fit_imputation(panel, options())
