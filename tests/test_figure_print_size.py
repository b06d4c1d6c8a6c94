"""Every figure the report embeds keeps its text at least 7 pt on paper: the PDF scales a
figure to its text width (6.3 in) or, when tall, to the page's height, so a figure's
smallest font times that scale must be at least 7 pt (``designs.figures.print_font_size``).
Drawn from small simulated inputs at the report's largest counts (eleven outcomes, five
sites, three headline outcomes); no data files."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from proeftuin.designs import decomposition, did, its, robustness, synth  # noqa: E402
from proeftuin.designs import figures as plots  # noqa: E402
from proeftuin.designs.comparison import SiteDesign  # noqa: E402
from proeftuin.designs.results import OutcomeResult  # noqa: E402
from proeftuin.estimators.results import DidResult  # noqa: E402
from proeftuin.synthesis import figures as plots_synthesis  # noqa: E402
from proeftuin.synthesis import validation  # noqa: E402

#: The plan's outcomes (analysis.yml): the report's largest grid of small multiples.
OUTCOMES = [
    "cost_basket_std", "cost_hospital_std", "cost_gp_std", "cost_pharmacy_std",
    "hospital_gp_ratio", "admissions_per_1000", "health_good_pct", "smr_all",
    "smr_cardiovascular", "mortality_all_per_1000", "mortality_cardiovascular_per_1000",
]  # fmt: skip
HEADLINE = ["cost_basket_std", "hospital_gp_ratio", "health_good_pct"]
SITES = {
    "maastricht-heuvelland": "Maastricht-Heuvelland",
    "oostelijk-zuid-limburg": "Oostelijk Zuid-Limburg",
    "vechtdal": "Vitaal Vechtdal",
    "zeeuws-vlaanderen": "Zeeuws-Vlaanderen",
    "slimmer-met-zorg": "Slimmer met Zorg (Zuid-Oost Brabant)",
}
TOWNS = [f"GM{i:04d}" for i in range(12)]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def _assert_legible(fig) -> None:
    assert fig is not None
    size = plots.print_font_size(fig)
    width, height = fig.get_size_inches()
    assert size >= plots.MIN_PRINT_PT, f"{size:.1f} pt on paper ({width:.1f} x {height:.1f} in)"


def _design() -> SiteDesign:
    rows = [
        {"municipality": code, "name": f"Gemeente {code[-2:]}-Noord", "year": year,
         "outcome": outcome, "value": 100.0 + year % 7 + i, "weight": 1.0}
        for i, code in enumerate(TOWNS) for year in range(2011, 2024) for outcome in OUTCOMES
    ]  # fmt: skip
    return SiteDesign(
        "oostelijk-zuid-limburg", "Oostelijk Zuid-Limburg", tuple(TOWNS[:6]), tuple(TOWNS[6:]),
        2014, 2011, 2023, "all", False, pd.DataFrame(rows), dict.fromkeys(TOWNS, "a"),
    )  # fmt: skip


def _interval(table: pd.DataFrame, half: float = 3.0) -> pd.DataFrame:
    return table.assign(ci_low=table["estimate"] - half, ci_high=table["estimate"] + half)


def test_the_style_is_one_width_and_its_smallest_font_prints_at_7_pt() -> None:
    smallest = min(v for k, v in plots.STYLE.items() if k.endswith("size"))
    assert smallest * plots.PRINT_WIDTH / plots.FIGURE_WIDTH >= plots.MIN_PRINT_PT


def test_a_figure_twice_as_wide_prints_its_text_at_half_size() -> None:
    fig = matplotlib.pyplot.figure(figsize=(2 * plots.PRINT_WIDTH, 2.0))
    fig.text(0.5, 0.5, "label", fontsize=10)
    assert plots.print_font_size(fig) == pytest.approx(5.0)


def test_site_trends_and_event_studies_of_every_outcome() -> None:
    design = _design()
    _assert_legible(plots.trends(design, OUTCOMES))
    study = pd.DataFrame({"event_time": range(-17, 10), "estimate": 1.0, "ci_low": -1.0,
                          "ci_high": 3.0})  # fmt: skip
    fit = DidResult(1.0, 1.0, -1.0, 3.0, {}, 10, 3, 5, "twfe", study)
    _assert_legible(did.event_study_figure(design, [OutcomeResult(o, fit) for o in OUTCOMES]))


@pytest.fixture(scope="module")
def its_results() -> tuple[SiteDesign, list]:
    """One fitted count-model ITS (few placebo draws), standing in for each mortality outcome."""
    mort = "mortality_all_per_1000"
    rng = np.random.default_rng(3)
    rows = []
    for unit in TOWNS:
        pop = rng.uniform(2e5, 8e5)
        for year in range(1996, 2019):
            deaths = float(rng.poisson(0.009 * pop))
            rows += [(unit, year, "deaths_all", deaths), (unit, year, "person_years", pop),
                     (unit, year, mort, 1000 * deaths / pop)]  # fmt: skip
    panel = pd.DataFrame(rows, columns=["municipality", "year", "outcome", "value"])
    design = SiteDesign(
        "site", "Site", tuple(TOWNS[:2]), tuple(TOWNS[2:]), 2013, 2011, 2023, "all", False,
        panel.assign(weight=1.0, name=panel["municipality"]),
        {u: f"area{i % 4}" for i, u in enumerate(TOWNS)}, periods={mort: (1996, 2018)},
    )  # fmt: skip
    [fitted] = its.run_its(design, [mort], draws=39, seed=1)
    causes = ["smr_all", "smr_cardiovascular", mort, "mortality_cardiovascular_per_1000"]
    return design, [replace(fitted, outcome=o) for o in causes]


def test_its_series_and_placebo_histograms(its_results) -> None:
    design, results = its_results
    _assert_legible(its.its_panels(design, results))
    _assert_legible(its.its_placebos(results))


def test_synthetic_control_paths_and_placebos() -> None:
    years = np.arange(2011, 2024)
    path = pd.DataFrame({"time": years, "treated": years * 1.0, "synthetic_shifted": years + 0.5})
    weights = pd.DataFrame({"time": years[:3], "weight": [0.2, 0.3, 0.5]})
    fit = SimpleNamespace(path=path, time_weights=weights, estimate=1.5,
                          placebo_estimates=np.linspace(-3, 3, 40),
                          inference={"ri": SimpleNamespace(p_value=0.123)})  # fmt: skip
    results = [OutcomeResult(o, fit, None, e) for o in HEADLINE for e in ("sdid", "sc")]
    _assert_legible(synth.synth_paths(_design(), results))
    _assert_legible(synth.synth_placebos(results))


def _checks() -> pd.DataFrame:
    rows = [("control_pool", pool, o) for pool in ("all", "province", "care_office", "size",
                                                   "age") for o in HEADLINE]  # fmt: skip
    rows += [("leave_one_out", code, o) for code in TOWNS[:6] for o in HEADLINE]
    rows += [("placebo_year", str(year), o) for year in (2012, 2013) for o in HEADLINE]
    table = pd.DataFrame(rows, columns=["check", "variant", "outcome"])
    return _interval(table.assign(site="oostelijk-zuid-limburg", estimate=-4.0, note=""))


def test_robustness_and_placebo_start_years() -> None:
    design, checks = _design(), _checks()
    _assert_legible(robustness.robustness_figure(design, checks, ["control_pool", "leave_one_out"]))
    placebo = robustness.placebo_year_figure(design, checks)
    _assert_legible(placebo)
    ticks = {t.get_text() for t in placebo.axes[0].get_yticklabels()}
    assert ticks == {"real start 2014", "placebo start 2012", "placebo start 2013"}
    assert placebo.get_size_inches()[1] <= 3.0  # compact: a few lines, not a tall empty panel


def test_cost_decomposition() -> None:
    parts = [("category", p) for p in ("hospital", "gp", "pharmacy", "paramedical", "devices",
                                       "dental", "transport", "maternity", "cross border",
                                       "primary support")]  # fmt: skip
    parts += [("age_band", p) for p in ("0-19", "20-64", "65-74", "75+")]
    table = pd.DataFrame([("total", "basket"), *parts], columns=["kind", "part"])
    _assert_legible(decomposition.decomposition_figure(_interval(table.assign(estimate=5.0)),
                                                       "Oostelijk Zuid-Limburg"))  # fmt: skip


def test_validation_of_published_results() -> None:
    quantities = [f"att_gt g=2004 t={t}" for t in range(31)]
    table = pd.DataFrame({"case": "mpdta", "quantity": quantities, "abs_diff": 1e-5,
                          "tolerance": 5e-5, "passed": True})  # fmt: skip
    _assert_legible(validation.validation_figure(table))


def test_synthesis_forest_designs_and_scorecard_for_five_sites() -> None:
    table = pd.DataFrame([(s, o, -5.0) for s in SITES for o in OUTCOMES],
                         columns=["site", "outcome", "estimate"])  # fmt: skip
    pooled = _interval(pd.DataFrame({"outcome": OUTCOMES, "estimate": -5.0}))
    _assert_legible(plots_synthesis.forest(_interval(table), pooled, OUTCOMES, SITES))
    designs = [("did", ""), ("sdid", ""), ("sc", ""), ("its", "count model")]
    sides = pd.DataFrame([(o, d, v) for o in HEADLINE for d, v in designs],
                         columns=["outcome", "design", "variant"])  # fmt: skip
    sides = _interval(
        sides.assign(
            site="vechtdal",
            estimate=2.0,
            role=np.where(sides["design"] == "did", "pooled", "other"),
        )
    )
    _assert_legible(plots_synthesis.side_by_side(sides, SITES))  # one site's row, as embedded
    card = pd.DataFrame([(s, o, -5.0, "ri", 10.0) for s in SITES for o in HEADLINE],
                        columns=["site", "outcome", "estimate", "method", "mde"])  # fmt: skip
    card.loc[0, "estimate"] = np.nan
    _assert_legible(plots_synthesis.scorecard(_interval(card).assign(direction="not estimable"),
                                              SITES))  # fmt: skip
