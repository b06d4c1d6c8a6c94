"""Figures draw only what was estimated, and name sites and municipalities: one panel per
estimated outcome, no file when nothing was estimated, names instead of ids and GM codes,
the event study's bands said to be pointwise CRV1, and the visual Triple Aim scorecard.
Small synthetic inputs, no data files."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from proeftuin.data.outcomes import get_outcome  # noqa: E402
from proeftuin.designs import did, robustness, synth
from proeftuin.designs import figures as plots
from proeftuin.designs import results as site_results
from proeftuin.designs.comparison import SiteDesign  # noqa: E402
from proeftuin.designs.results import OutcomeResult  # noqa: E402
from proeftuin.estimators.results import DidResult  # noqa: E402
from proeftuin.synthesis import figures as plots_synthesis
from proeftuin.synthesis import side_by_side as compare  # noqa: E402

COST, QUALITY, HEALTH = "cost_basket_std", "hospital_gp_ratio", "health_good_pct"
ADMISSIONS = "admissions_per_1000"
NAMES = {"maastricht-heuvelland": "Maastricht-Heuvelland", "vechtdal": "Vechtdal"}
TOWNS = {"GM0888": "Beek", "GM0899": "Brunssum", "GM0917": "Heerlen"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def _design() -> SiteDesign:
    rows = [
        {"municipality": code, "name": town, "year": year, "outcome": COST,
         "value": 2000.0 + year, "weight": 1.0}
        for code, town in [*TOWNS.items(), ("GM0001", "Elders")] for year in range(2011, 2016)
    ]  # fmt: skip
    return SiteDesign(
        "oostelijk-zuid-limburg", "Oostelijk Zuid-Limburg", tuple(TOWNS), ("GM0001",), 2013,
        2011, 2015, "all", False, pd.DataFrame(rows), dict.fromkeys([*TOWNS, "GM0001"], "a"),
    )  # fmt: skip


def _did(estimate: float) -> DidResult:
    study = pd.DataFrame({"event_time": [-2, -1, 0, 1], "estimate": [0.5, 0.0, estimate, 2.0],
                          "ci_low": [-1.0, 0.0, -3.0, -1.0],
                          "ci_high": [2.0, 0.0, 5.0, 5.0]})  # fmt: skip
    return DidResult(estimate, 1.0, estimate - 2, estimate + 2, {}, 10, 3, 5, "twfe", study)


def _titles(fig) -> list[str]:
    return [" ".join(ax.get_title().split()) for ax in fig.axes if ax.get_visible()]


def _yticks(fig) -> set[str]:
    return {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}


def _saved(fig, folder: Path) -> list[str]:
    plots.save_figure(fig, folder, "fig-x")
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- one panel per estimated outcome; nothing estimated, no file ------------------------------


def test_event_study_panels_are_the_estimated_outcomes_and_say_their_bands_are_crv1(
    tmp_path: Path,
) -> None:
    design = _design()
    results = [OutcomeResult(COST, _did(1.0)), OutcomeResult(ADMISSIONS, None, "no pre-period"),
               OutcomeResult(HEALTH, _did(-1.0))]  # fmt: skip
    fig = did.event_study_figure(design, results)
    assert _titles(fig) == [plots.outcome_title(COST), plots.outcome_title(HEALTH)]
    title = " ".join(fig.get_suptitle().split())
    assert "Oostelijk Zuid-Limburg" in title and "pointwise 95% CRV1" in title
    refused = [OutcomeResult(ADMISSIONS, None, "no pre-period")]
    assert did.event_study_figure(design, refused) is None
    assert _saved(did.event_study_figure(design, refused), tmp_path / "out") == []
    assert _saved(fig, tmp_path / "kept") == ["fig-x.png"]


def _estimates() -> pd.DataFrame:
    pairs = ((COST, -5.0), (HEALTH, 1.0))
    rows = [(site, outcome, est) for site in NAMES for outcome, est in pairs]
    table = pd.DataFrame(rows, columns=["site", "outcome", "estimate"])
    table = table.assign(ci_low=table["estimate"] - 3, ci_high=table["estimate"] + 3)
    missing = pd.DataFrame({"site": list(NAMES), "outcome": ADMISSIONS, "estimate": np.nan,
                            "ci_low": np.nan, "ci_high": np.nan})  # fmt: skip
    return pd.concat([table, missing], ignore_index=True)


def test_forest_draws_no_panel_for_an_outcome_no_site_estimated_and_names_sites(
    tmp_path: Path,
) -> None:
    pooled = pd.DataFrame({"outcome": [COST], "estimate": [-5.0], "ci_low": [-8.0],
                           "ci_high": [-2.0]})  # fmt: skip
    fig = plots_synthesis.forest(_estimates(), pooled, [COST, ADMISSIONS, HEALTH], NAMES)
    assert _titles(fig) == [plots.outcome_title(COST), plots.outcome_title(HEALTH)]
    assert set(NAMES.values()) <= _yticks(fig) and not set(NAMES) & _yticks(fig)
    nothing = _estimates().assign(estimate=np.nan)
    assert _saved(plots_synthesis.forest(nothing, pooled, [COST], NAMES), tmp_path) == []


def _checks() -> pd.DataFrame:
    rows = [("control_pool", pool, COST, -4.0) for pool in ("all", "province")]
    rows += [("leave_one_out", code, COST, -3.0) for code in TOWNS]
    rows += [("control_pool", "all", HEALTH, np.nan), ("placebo_year", "2012", HEALTH, np.nan)]
    table = pd.DataFrame(rows, columns=["check", "variant", "outcome", "estimate"])
    return table.assign(site="oostelijk-zuid-limburg", ci_low=table["estimate"] - 2,
                        ci_high=table["estimate"] + 2, note="")  # fmt: skip


def test_robustness_panels_are_estimated_outcomes_with_municipality_names(tmp_path: Path) -> None:
    design = _design()
    fig = robustness.robustness_figure(design, _checks(), ["control_pool", "leave_one_out"])
    assert _titles(fig) == [plots.outcome_title(COST)]
    assert fig.get_suptitle() == "Oostelijk Zuid-Limburg"
    ticks = _yticks(fig)
    assert {f"without: {town}" for town in TOWNS.values()} <= ticks
    assert not any(code in tick for code in TOWNS for tick in ticks)
    assert _saved(robustness.robustness_figure(design, _checks(), ["placebo_year"]), tmp_path) == []


def test_the_notebook_line_names_what_was_not_estimated_and_why() -> None:
    checks = _checks().assign(note=lambda t: np.where(t["estimate"].isna(), "no pre-period", ""))
    line = site_results.not_estimated(checks, [COST, HEALTH], label="Placebo start years",
                                  check=["placebo_year"])  # fmt: skip
    cost, health = get_outcome(COST).label, get_outcome(HEALTH).label
    assert line == (
        f"Placebo start years: not estimated, so not drawn: {cost}: no estimate; "
        f"{health}: no pre-period."
    )
    assert site_results.not_estimated(checks, [COST], check=["control_pool"]) == (
        "every outcome was estimated."
    )


def test_synth_figures_draw_only_estimated_outcomes() -> None:
    refused = [OutcomeResult(COST, None, "no pre-period", e) for e in ("sdid", "sc")]
    assert synth.synth_paths(_design(), refused) is None
    assert synth.synth_placebos(refused) is None


def _sides() -> pd.DataFrame:
    rows = [(site, COST, design, est) for site in NAMES
            for design, est in (("did", -4.0), ("sdid", -2.0))]  # fmt: skip
    rows.append(("vechtdal", HEALTH, "did", np.nan))
    table = pd.DataFrame(rows, columns=["site", "outcome", "design", "estimate"])
    return table.assign(variant="", role=np.where(table["design"] == "did", "pooled", "other"),
                        ci_low=table["estimate"] - 3, ci_high=table["estimate"] + 3)  # fmt: skip


def test_designs_side_by_side_names_sites_and_skips_what_was_not_estimated(
    tmp_path: Path,
) -> None:
    fig = plots_synthesis.side_by_side(_sides(), NAMES)
    assert _titles(fig) == [plots.outcome_title(COST)] * len(NAMES)
    assert [sub._suptitle.get_text() for sub in fig.subfigs] == list(NAMES.values())
    nothing = _sides().assign(estimate=np.nan)
    assert compare.save_design_figures(nothing, tmp_path, NAMES) == []
    assert list(tmp_path.iterdir()) == []


def test_each_sites_row_is_cut_from_the_designs_figure(tmp_path: Path) -> None:
    """One drawing: the whole figure as savefig writes it, and per site its row (its name,
    its panels), pieces of the whole image in order, together all of it but its margins."""
    from PIL import Image

    sides = _sides()
    labels = compare.save_design_figures(sides, tmp_path / "cut", NAMES)
    assert labels == [f"fig-designs-{site}" for site in dict.fromkeys(sides["site"])]
    plots.save_figure(plots_synthesis.side_by_side(sides, NAMES), tmp_path / "whole", "fig")
    whole = np.asarray(Image.open(tmp_path / "whole" / "fig.png"))
    cut = np.asarray(Image.open(tmp_path / "cut" / "fig-designs.png"))
    assert cut.shape == whole.shape and np.abs(cut.astype(int) - whole).mean() < 1.0
    rows = [np.asarray(Image.open(tmp_path / "cut" / f"{label}.png")) for label in labels]
    assert cut.shape[0] - sum(r.shape[0] for r in rows) <= 0.2 * plots.DPI  # the margins
    top = 0
    for row in rows:
        assert (row[..., :3] < 128).any()  # ink: marks and text, not a blank strip
        found = [i for i in range(top, cut.shape[0] - len(row) + 1)
                 if np.array_equal(cut[i : i + len(row), : row.shape[1]], row)]  # fmt: skip
        assert found, "a row is not a piece of the whole figure (in order, apart)"
        top = found[0] + len(row)


# --- the visual scorecard ---------------------------------------------------------------------


def _card() -> pd.DataFrame:
    """Three verdicts: a clear fall in costs (better), a clear fall in good health (worse) and
    a null with its MDE; one outcome and one site with no estimate at all."""
    rows = [
        ("maastricht-heuvelland", COST, -30.0, -50.0, -10.0, "ri", 60.0),
        ("maastricht-heuvelland", HEALTH, -2.0, -3.5, -0.5, "ri", np.nan),
        ("vechtdal", COST, 5.0, -20.0, 30.0, "wild_restricted", 45.0),
        ("vechtdal", HEALTH, 0.5, -1.0, 2.0, "ri", 2.5),
        ("vechtdal", QUALITY, np.nan, np.nan, np.nan, None, np.nan),
        ("zeeuws-vlaanderen", COST, np.nan, np.nan, np.nan, None, np.nan),
    ]
    return pd.DataFrame(
        rows, columns=["site", "outcome", "estimate", "ci_low", "ci_high", "method", "mde"]
    )


def test_scorecard_grid_is_sites_by_estimated_outcomes_with_verdict_markers() -> None:
    fig = plots_synthesis.scorecard(_card(), NAMES)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().splitlines()[0] for ax in axes] == ["Costs", "Population health"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(NAMES.values())
    markers = {
        (round(line.get_xdata()[0], 1), line.get_marker(), line.get_markerfacecolor() == "white")
        for ax in axes
        for line in ax.get_lines()
        if len(line.get_xdata()) == 1 and line.get_marker() not in ("None", None, "")
    }
    assert markers == {(-30.0, "^", False), (5.0, "o", True), (-2.0, "v", False),
                       (0.5, "o", True)}  # fmt: skip
    mde_bands = sorted(round(p.get_width(), 1) for ax in axes for p in ax.patches)
    assert mde_bands == [5.0, 90.0, 120.0]  # ± the MDE where known
    title = " ".join(fig.get_suptitle().split())
    assert "randomization inference over placebo sites" in title and "restricted" in title


def test_scorecard_verdict_needs_the_interval_to_exclude_zero() -> None:
    assert plots_synthesis.verdict(-3.0, -5.0, -1.0, higher_is_better=False) == "better"
    assert plots_synthesis.verdict(-3.0, -5.0, -1.0, higher_is_better=True) == "worse"
    assert plots_synthesis.verdict(-3.0, -5.0, 0.5, higher_is_better=False) == "unclear"


def test_scorecard_with_no_estimate_saves_no_file(tmp_path: Path) -> None:
    card = _card().assign(estimate=np.nan)
    assert _saved(plots_synthesis.scorecard(card, NAMES), tmp_path) == []


def test_scorecard_cell_without_estimate_says_why_instead_of_an_interval() -> None:
    card = _card().assign(direction="inconclusive")
    gone = (card["site"] == "vechtdal") & (card["outcome"] == HEALTH)
    card.loc[gone, ["estimate", "ci_low", "ci_high", "direction"]] = [
        np.nan, np.nan, np.nan, "not estimable"
    ]  # fmt: skip
    fig = plots_synthesis.scorecard(card, NAMES)
    health = [ax for ax in fig.axes if ax.get_title().startswith("Population health")][0]
    assert [t.get_text() for t in health.texts] == ["not estimable"]
    assert len([line for line in health.get_lines() if line.get_marker() == "o"]) == 0
