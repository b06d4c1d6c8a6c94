"""HonestDiD sensitivity of a site's DiD (proeftuin.designs.sensitivity): a planted violation
of parallel trends lowers the breakdown value, the conventional interval is the event
study's, the table keeps its schema, and an outcome without a qualifying event study says
why. A small simulated site, no data files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from proeftuin.designs import sensitivity as sens
from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.did import DID_SITE_COLUMNS, DidResults, run_did
from proeftuin.estimators.did import honest_lp, honest_rm

MORT, COST, GP = "mortality_all_per_1000", "cost_basket_std", "cost_gp_std"


def site(violation: float, seed: int = 3) -> SiteDesign:
    """24 municipalities, the site (3) starts in 2013 with a planted mortality effect of +2 in
    every post year; 2000-2018 mortality (12 pre-period coefficients), costs 2011-2018 (one).
    ``violation``: the site's pre-period mortality zig-zags by ± this much a year."""
    rng = np.random.default_rng(seed)
    units = [f"GM{i:04d}" for i in range(24)]
    rows = []
    for i, unit in enumerate(units):
        treated = i < 3
        for year in range(2000, 2019):
            zigzag = violation * (-1) ** year if treated and year < 2012 else 0.0
            effect = 2.0 if treated and year >= 2013 else 0.0
            rows.append((unit, year, MORT, 9 + 0.05 * (year - 2000) + zigzag + effect
                         + rng.normal(0, 0.3)))  # fmt: skip
            if year >= 2011:
                rows.append((unit, year, COST, 2000 + rng.normal(0, 5)))
                rows.append((unit, year, GP, 200 + rng.normal(0, 2)))
    panel = pd.DataFrame(rows, columns=["municipality", "year", "outcome", "value"])
    panel = panel.assign(weight=1.0, name=panel["municipality"].str.replace("GM", "Town "))
    return SiteDesign(
        site="site", name="Site", treated=tuple(units[:3]), controls=tuple(units[3:]),
        start_year=2013, first_year=2011, last_year=2018, control_pool="all", buffer=False,
        panel=panel, areas={u: f"area{i % 4}" for i, u in enumerate(units)},
        periods={MORT: (2000, 2018)},
    )  # fmt: skip


def table(design: SiteDesign, outcomes=(MORT,)) -> pd.DataFrame:
    fits = run_did(design, list(outcomes), inference=["crv1"], draws=19, seed=1)
    return sens.sensitivity_table(design, fits, list(outcomes))


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return table(site(0.0), (COST, GP, MORT))


def test_a_planted_pre_trend_violation_lowers_the_breakdown_value(clean: pd.DataFrame) -> None:
    violated = table(site(1.5))
    before = sens.breakdown_by_outcome(clean)[MORT]
    after = sens.breakdown_by_outcome(violated)[MORT]
    # the effect (+2) is clear under parallel trends; zig-zags of 3 a year in the pre-period
    # let a post-period deviation of Mbar x 3 explain it away at Mbar below 1
    assert 0 < after < 1 < before and after < before / 2, (before, after)


def test_the_conventional_interval_is_the_event_study_first_post_coefficient(
    clean: pd.DataFrame,
) -> None:
    fit = run_did(site(0.0), [MORT], inference=["crv1"], draws=19, seed=1)[0].result
    first = fit.event_study.set_index("event_time").loc[0]
    row = clean[(clean["outcome"] == MORT) & (clean["restriction"] == "conventional")].iloc[0]
    z = norm.ppf(1 - sens.ALPHA / 2)
    assert row["ci_low"] == pytest.approx(first["estimate"] - z * first["se"], rel=1e-9)
    assert row["ci_high"] == pytest.approx(first["estimate"] + z * first["se"], rel=1e-9)
    assert list(fit.event_vcov.index) == sorted(fit.event_vcov.index) and -1 not in fit.event_vcov
    assert np.sqrt(fit.event_vcov.loc[0, 0]) == pytest.approx(first["se"], rel=1e-9)


def test_the_table_keeps_its_schema_and_widens_with_mbar(clean: pd.DataFrame) -> None:
    assert list(clean.columns) == sens.SENSITIVITY_COLUMNS
    mort = clean[clean["outcome"] == MORT]
    assert list(mort["restriction"]) == ["conventional"] + ["relative_magnitudes"] * len(
        sens.MBAR_GRID
    ) + ["smoothness"] * len(sens.M_MULTIPLES)
    assert set(mort["n_pre"]) == {12} and set(mort["n_post"]) == {6}
    assert set(mort["covariance"]) == {"CRV1"} and mort["note"].isna().all()
    rm = mort[mort["restriction"] == "relative_magnitudes"]
    assert list(rm["m"]) == list(sens.MBAR_GRID)
    widths = (rm["ci_high"] - rm["ci_low"]).to_numpy()
    assert np.all(np.diff(widths) >= -1e-9)  # a looser bound never narrows the interval
    sd = mort[mort["restriction"] == "smoothness"]
    assert list(sd["m"] / sd["m_unit"]) == pytest.approx(list(sens.M_MULTIPLES))


def test_an_outcome_without_a_qualifying_event_study_says_why(clean: pd.DataFrame) -> None:
    notes = clean.drop_duplicates("outcome").set_index("outcome")["note"]
    assert notes[COST].startswith("not computed: 1 pre-period event-study coefficient")
    assert notes[GP] == "not computed: the site page shows only the headline and mortality outcomes"
    assert clean.loc[clean["outcome"] != MORT, "ci_low"].isna().all()
    assert np.isnan(sens.breakdown_by_outcome(clean)[COST])


def test_survey_waves_are_not_consecutive_event_times() -> None:
    fit = run_did(site(0.0), [MORT], inference=["crv1"], draws=19, seed=1)[0].result
    fit.event_vcov = fit.event_vcov.drop(index=-3, columns=-3)
    assert "not consecutive" in sens.event_study_inputs(fit)


def test_the_site_table_carries_the_breakdown_value_and_save_writes_the_file(tmp_path) -> None:
    did = DidResults.run(site(1.5), [COST, MORT], inference=["crv1"], draws=19, seed=1)
    shown = did.table()
    assert list(shown.columns) == DID_SITE_COLUMNS
    assert shown.loc[shown["outcome"] == MORT, "breakdown_mbar"].iloc[0] == pytest.approx(
        sens.breakdown_by_outcome(did.sensitivity)[MORT]
    )
    names = [p.name for p in did.save(tmp_path)]
    assert names == ["did_estimates.csv", "did.json", "did_sensitivity.csv"]
    assert list(pd.read_csv(tmp_path / "did_sensitivity.csv").columns) == sens.SENSITIVITY_COLUMNS


def test_the_dual_vertices_give_the_lps_critical_value(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    X, root = rng.normal(size=(10, 4)), rng.normal(size=(10, 10))
    sigma = root @ root.T + np.eye(10)
    fast = honest_rm._lf_critical_value(X, sigma, 0.005, sims=200)
    monkeypatch.setattr(honest_lp, "MAX_BASES", 0)  # the LP for every draw
    assert honest_rm._lf_critical_value(X, sigma, 0.005, sims=200) == pytest.approx(fast, 1e-9)
