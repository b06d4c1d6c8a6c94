"""A site's results of one design as one object (proeftuin.designs.results): its table is the
design's table function's, its files are the writers' byte for byte, its figures have one
panel per estimated outcome. A small simulated site, no data files."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from proeftuin.designs import did as analysis  # noqa: E402
from proeftuin.designs import figures as plots
from proeftuin.designs import its as its_analysis
from proeftuin.designs import results as site_results  # noqa: E402
from proeftuin.designs import synth as synthetic
from proeftuin.designs.comparison import SiteDesign  # noqa: E402
from proeftuin.designs.did import DidResults  # noqa: E402
from proeftuin.designs.its import ItsResults  # noqa: E402
from proeftuin.designs.synth import SynthResults  # noqa: E402

COST, QUALITY, HEALTH = "cost_basket_std", "hospital_gp_ratio", "health_good_pct"
ADMISSIONS, MORT = "admissions_per_1000", "mortality_all_per_1000"
OPTIONS = {"draws": 19, "seed": 5}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="module")
def design() -> SiteDesign:
    """30 municipalities in 5 COROP areas; the site (3 of area 0) starts in 2013 with a
    planted cost effect. Costs, quality and health 2011-2018, admissions only from 2013 (no
    pre-period), deaths and person-years 1996-2018."""
    rng = np.random.default_rng(11)
    units = [f"GM{i:04d}" for i in range(30)]
    rows = []
    for i, unit in enumerate(units):
        site = i < 3
        for year in range(2011, 2019):
            effect = 40.0 if site and year >= 2013 else 0.0
            rows.append((unit, year, COST, 2000 + 10 * (year - 2011) + effect + rng.normal(0, 5)))
            rows.append((unit, year, QUALITY, 3 + rng.normal(0, 0.2)))
            rows.append((unit, year, HEALTH, 75 + rng.normal(0, 2)))
            if year >= 2013:
                rows.append((unit, year, ADMISSIONS, 100 + rng.normal(0, 5)))
        pop = rng.uniform(2e5, 8e5)
        for year in range(1996, 2019):
            deaths = float(rng.poisson(0.009 * pop * (0.85 if site and year >= 2013 else 1.0)))
            rows += [(unit, year, "deaths_all", deaths), (unit, year, "person_years", pop)]
            rows.append((unit, year, MORT, 1000 * deaths / pop))
    panel = pd.DataFrame(rows, columns=["municipality", "year", "outcome", "value"])
    panel = panel.assign(weight=1.0, name=panel["municipality"].str.replace("GM", "Town "))
    return SiteDesign(
        site="site", name="Site", treated=tuple(units[:3]), controls=tuple(units[3:]),
        start_year=2013, first_year=2011, last_year=2018, control_pool="all", buffer=False,
        panel=panel, areas={u: f"area{i % 5}" for i, u in enumerate(units)},
        periods={MORT: (1996, 2018)},
    )  # fmt: skip


def _titles(fig) -> list[str]:
    return [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_visible()]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- difference-in-differences ----------------------------------------------------------------


@pytest.fixture(scope="module")
def did(design: SiteDesign) -> DidResults:
    return DidResults.run(design, [COST, ADMISSIONS, HEALTH], inference=["crv1", "ri"], **OPTIONS)


def test_did_table_is_did_table_of_run_did(design: SiteDesign, did: DidResults) -> None:
    fits = analysis.run_did(design, [COST, ADMISSIONS, HEALTH], inference=["crv1", "ri"], **OPTIONS)
    expected = analysis.did_table(design, fits)  # and each outcome's breakdown value
    pd.testing.assert_frame_equal(did.table().drop(columns="breakdown_mbar"), expected)
    assert did.name == "did" and set(did.table()["design"]) == {"did"}
    assert [r.outcome for r in did.results] == [COST, ADMISSIONS, HEALTH]
    ri = did.table().set_index(["outcome", "method"]).loc[(COST, "ri")]
    assert ri["estimate"] == pytest.approx(40, abs=5) and ri["p_value"] < 0.2  # the planted 40


def test_did_table_is_computed_once_and_handed_out_as_a_copy(did: DidResults) -> None:
    first = did.table()
    first.loc[:, "estimate"] = 0.0
    assert (did.table()["estimate"] != 0).any()


def test_did_not_estimated_names_the_outcome_without_a_pre_period(did: DidResults) -> None:
    line = did.not_estimated(label="Event study")
    assert line == site_results.not_estimated(did.table(), label="Event study")
    assert line.startswith("Event study: not estimated, so not drawn: Hospital admissions: ")
    assert "no pre-period" in line and "Cost" not in line and "health" not in line


def test_did_save_writes_the_writers_files_byte_for_byte(
    design: SiteDesign, did: DidResults, tmp_path: Path
) -> None:
    old = site_results.write_results(tmp_path / "old", "did", did.table(), did.results)
    site_results.write_tables(tmp_path / "old", did_sensitivity=did.sensitivity)
    new = did.save(tmp_path / "new")
    assert [p.name for p in new] == [p.name for p in old] + ["did_sensitivity.csv"]
    assert _files(tmp_path / "new") == _files(tmp_path / "old")


def test_did_event_studies_have_one_panel_per_estimated_outcome(did: DidResults) -> None:
    fig = did.event_studies()
    assert _titles(fig) == [plots.outcome_title(COST), plots.outcome_title(HEALTH)]
    assert "Site" in fig.get_suptitle()


# --- interrupted time series ------------------------------------------------------------------


@pytest.fixture(scope="module")
def its(design: SiteDesign) -> ItsResults:
    return ItsResults.run(design, [COST, MORT], **OPTIONS)


def test_its_tables_are_its_analysis_tables(design: SiteDesign, its: ItsResults) -> None:
    fits = its_analysis.run_its(design, [COST, MORT], **OPTIONS)
    pd.testing.assert_frame_equal(its.table(), its_analysis.its_table(design, fits))
    pd.testing.assert_frame_equal(its.in_time(), its_analysis.in_time(fits))
    assert not its.in_time().empty
    refused = its.refused()
    assert list(refused.index) == ["Cost, fixed basket (age-sex std.)"]
    assert refused["reason"].iloc[0].startswith("2 pre-period years (2011-2012)")
    lead = its.table()[its.table()["lead"]]
    assert set(lead["outcome"]) == {MORT} and set(lead["method"]) == {its_analysis.LEAD}


def test_its_save_writes_the_writers_files_byte_for_byte(its: ItsResults, tmp_path: Path) -> None:
    old = its_analysis.write_results(tmp_path / "old", its.table(), its.results)
    new = its.save(tmp_path / "new")
    names = ["its_estimates.csv", "its_in_time.csv", "its.json"]
    assert [p.name for p in new] == [p.name for p in old] == names
    assert _files(tmp_path / "new") == _files(tmp_path / "old")


def test_its_figures_draw_the_estimated_outcome_only(its: ItsResults) -> None:
    assert _titles(its.panels()) == [plots.outcome_title(MORT)]
    placebos = its.placebos()
    assert len(placebos.axes) == 2  # one row (mortality): level and slope change
    assert all(t.startswith("All-cause mortality") for t in _titles(placebos))
    refused = ItsResults(its.design, [r for r in its.results if r.controlled is None])
    assert refused.panels() is None and refused.placebos() is None


# --- synthetic control and synthetic DiD ------------------------------------------------------


@pytest.fixture(scope="module")
def synth(design: SiteDesign) -> SynthResults:
    return SynthResults.run(design, [COST, ADMISSIONS], **OPTIONS)


def test_synth_tables_are_the_synthetic_modules(design: SiteDesign, synth: SynthResults) -> None:
    fits = synthetic.run_synth(design, [COST, ADMISSIONS], **OPTIONS)
    table = synthetic.synth_table(design, fits)
    weights = synthetic.weights_table(design, fits)
    pd.testing.assert_frame_equal(synth.table(), table)
    pd.testing.assert_frame_equal(synth.weights(), weights)
    pd.testing.assert_frame_equal(synth.fit_table(), synthetic.fit_table(design, table))
    pd.testing.assert_frame_equal(synth.top_donors(), synthetic.top_donors(weights))
    pd.testing.assert_frame_equal(synth.time_weights(), synthetic.time_weights(weights))
    assert [(r.outcome, r.estimator) for r in synth.results] == [
        (COST, "sdid"), (COST, "sc"), (ADMISSIONS, "sdid"), (ADMISSIONS, "sc"),
    ]  # fmt: skip
    assert len(synth.top_donors(2)) == 4  # two per estimator of the one estimated outcome
    line = synth.not_estimated(label="Synthetic control figures")
    assert line.startswith("Synthetic control figures: not estimated, so not drawn: Hospital ")


def test_synth_save_writes_the_writers_files_byte_for_byte(
    design: SiteDesign, synth: SynthResults, tmp_path: Path
) -> None:
    table = synthetic.synth_table(design, synth.results)
    weights = synthetic.weights_table(design, synth.results)
    old = site_results.write_results(tmp_path / "old", "synth", table, synth.results)
    old_tables = site_results.write_tables(tmp_path / "old", synth_weights=weights)
    new = synth.save(tmp_path / "new")
    names = ["synth_estimates.csv", "synth.json", "synth_weights.csv"]
    assert [p.name for p in new] == [*(p.name for p in old), *old_tables] == names
    assert all(p.parent == tmp_path / "new" for p in new)
    assert _files(tmp_path / "new") == _files(tmp_path / "old")


def test_synth_figures_draw_the_estimated_outcome_only(synth: SynthResults) -> None:
    paths = synth.paths()
    assert _titles(paths) == [plots.outcome_title(COST)]
    labels = {t.get_text() for t in paths.legends[0].get_texts()}  # once, below the panels
    assert {"Site", "synthetic control", "synthetic DiD (+ intercept)"} <= labels
    assert _titles(synth.placebos()) == [plots.outcome_title(COST)]
