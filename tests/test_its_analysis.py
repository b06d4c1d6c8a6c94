"""The ITS design per outcome (proeftuin.designs.its): count models with placebo inference,
refused outcomes in one line each and without a figure panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from proeftuin.designs import figures as plots
from proeftuin.designs import its as its_analysis
from proeftuin.designs.comparison import SiteDesign

MORT = "mortality_all_per_1000"
COST = "cost_basket_std"


def _design(effect: float = 0.0) -> SiteDesign:
    """30 municipalities in 5 areas, deaths 1996-2018 and a cost series 2011-2023; the
    site (3 municipalities of area 0) starts in 2013, its deaths scaled by ``effect``."""
    rng = np.random.default_rng(7)
    units = [f"GM{i:04d}" for i in range(30)]
    rows = []
    for i, unit in enumerate(units):
        pop = rng.uniform(2e5, 8e5)
        for year in range(1996, 2019):
            rate = 0.009 * (1 - 0.005 * (year - 1996))
            if i < 3 and year >= 2013:
                rate *= 1 + effect
            deaths = float(rng.poisson(rate * pop))
            rows += [(unit, year, "deaths_all", deaths), (unit, year, "person_years", pop)]
            rows.append((unit, year, MORT, 1000 * deaths / pop))
        rows += [(unit, year, COST, rng.normal(2000, 50)) for year in range(2011, 2024)]
    panel = pd.DataFrame(rows, columns=["municipality", "year", "outcome", "value"])
    panel = panel.assign(weight=1.0, name=panel["municipality"])
    return SiteDesign(
        site="site", name="Site", treated=tuple(units[:3]), controls=tuple(units[3:]),
        start_year=2013, first_year=2011, last_year=2023, control_pool="all", buffer=False,
        panel=panel, areas={u: f"area{i % 5}" for i, u in enumerate(units)},
        periods={MORT: (1996, 2018)},
    )  # fmt: skip


@pytest.fixture(scope="module")
def fitted() -> tuple[SiteDesign, list[its_analysis.ItsOutcome]]:
    design = _design(effect=-0.2)
    return design, its_analysis.run_its(design, [COST, MORT], draws=99, seed=1)


def test_a_short_pre_period_is_refused_in_one_line(fitted) -> None:
    _, results = fitted
    refused = its_analysis.refused(results)
    assert list(refused.index) == ["Cost, fixed basket (age-sex std.)"]
    [reason] = refused["reason"]
    assert reason == "2 pre-period years (2011-2012) before 2013; a trend needs at least 8"


def test_the_count_model_leads_with_placebos_within_areas(fitted) -> None:
    design, results = fitted
    table = its_analysis.its_table(design, results)
    lead = table[table["lead"]]
    assert set(lead["method"]) == {"placebo_area"} and set(lead["outcome"]) == {MORT}
    level = lead.set_index("effect").loc["level_change"]
    assert level["rate_ratio"] == pytest.approx(0.8, abs=0.05)  # the planted -20%
    assert level["ci_high"] < 0 and level["p_value"] <= 0.05
    methods = table[(table["outcome"] == MORT) & (table["effect"] == "level_change")]
    assert set(methods["method"]) == {"glm", "controlled", "placebo_area", "placebo_all"}
    assert not its_analysis.in_time(results).empty


def test_refused_outcomes_draw_no_panel_and_none_draws_no_figure(fitted, tmp_path: Path) -> None:
    design, results = fitted
    fig = its_analysis.its_panels(design, results)
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_visible()]
    assert titles == [plots.outcome_title(MORT)]
    refused = [r for r in results if r.controlled is None]
    assert (
        its_analysis.its_panels(design, refused) is None
        and its_analysis.its_placebos(refused) is None
    )
    plots.save_figure(its_analysis.its_panels(design, refused), tmp_path, "fig-its")
    assert list(tmp_path.iterdir()) == []


def _with_smr(design: SiteDesign) -> SiteDesign:
    """The design's deaths as an SMR: expected deaths = person-years x the yearly rate of
    all municipalities (an ageing-free national rate), 1999-2018."""
    from dataclasses import replace

    p = design.panel
    wide = p[p["outcome"].isin(["deaths_all", "person_years"])].pivot_table(
        index=["municipality", "year"], columns="outcome", values="value"
    )
    wide = wide[wide.index.get_level_values("year") >= 1999]
    rate = wide.groupby("year")["deaths_all"].sum() / wide.groupby("year")["person_years"].sum()
    expected = wide["person_years"] * rate.reindex(wide.index.get_level_values("year")).to_numpy()
    parts = {"smr_observed_all": wide["deaths_all"], "smr_expected_all": expected}
    parts["smr_all"] = wide["deaths_all"] / expected
    rows = [s.rename("value").reset_index().assign(outcome=name) for name, s in parts.items()]
    extra = pd.concat(rows, ignore_index=True)
    extra = extra.assign(weight=1.0, name=extra["municipality"])
    periods = {**design.periods, "smr_all": (1999, 2018)}
    return replace(design, panel=pd.concat([p, extra], ignore_index=True), periods=periods)


def test_smr_count_model_uses_expected_deaths_as_offset() -> None:
    """The SMR's count model finds the planted -20% level change, draws its curve on the
    SMR scale (about 1), and the crude rate is drawn beside the SMR."""
    design = _with_smr(_design(effect=-0.2))
    [smr] = its_analysis.run_its(design, ["smr_all"], draws=99, seed=1)
    lead = its_analysis.its_table(design, [smr])
    level = lead[lead["lead"]].set_index("effect").loc["level_change"]
    assert level["rate_ratio"] == pytest.approx(0.8, abs=0.05) and level["p_value"] <= 0.05
    pre = smr.curve().query("time < 2013")
    assert pre["observed"].between(0.8, 1.2).all()
    fig = its_analysis.standardised_beside_crude(design, [MORT, "smr_all"])
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_visible()]
    assert titles == [plots.outcome_title(MORT), plots.outcome_title("smr_all")]
    assert its_analysis.standardised_beside_crude(design, [MORT]) is None
