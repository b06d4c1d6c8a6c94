"""The placebo study: pseudo-sites drawn like the real sites, and a tiny study end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO, link_project
from proeftuin.cli import app
from proeftuin.core import settings
from proeftuin.core.errors import DataError
from proeftuin.data import pseudo_sites
from proeftuin.data.outcomes import OUTCOMES
from proeftuin.data.sites import control_pool, load_registry
from proeftuin.pipeline import results
from proeftuin.report import calibration as report_calibration
from proeftuin.synthesis import calibration

REGISTRY = REPO / "data" / "sites" / "pioneer_sites.yml"


@pytest.fixture(scope="module")
def real(built_panel) -> tuple:
    root, _ = built_panel
    registry = load_registry(REGISTRY)
    excluded = pseudo_sites.named_codes(REGISTRY) | registry.pioneer_municipalities()
    covariates = pd.read_parquet(root / "data" / "processed" / "covariates.parquet")
    return registry, covariates, excluded


def test_forty_pseudo_sites_are_shaped_like_the_real_ones_and_reproducible(real) -> None:
    registry, covariates, excluded = real
    drawn = pseudo_sites.draw_pseudo_sites(registry, covariates, excluded, 40, seed=7)
    assert drawn == pseudo_sites.draw_pseudo_sites(registry, covariates, excluded, 40, seed=7)
    assert drawn != pseudo_sites.draw_pseudo_sites(registry, covariates, excluded, 40, seed=8)
    codes = [c for p in drawn for c in p.municipalities]
    assert len(codes) == len(set(codes))  # disjoint
    assert not set(codes) & excluded  # never a site's, later or other-initiative municipality
    assert {"GM0109", "GM0160", "GM0935"} <= excluded  # a later one (Coevorden) among them
    area = dict(zip(covariates["municipality"], covariates["corop_region"], strict=True))
    for p in drawn:
        like = registry.sites[p.shaped_like]
        assert len(p.municipalities) == len(like.municipalities)
        assert p.start_year == like.start_year in (2013, 2014)
        assert {area[c] for c in p.municipalities} == {p.area}  # within one COROP area
    assert [p.shaped_like for p in drawn[:5]] == sorted(registry.sites)


def test_too_many_pseudo_sites_is_one_line(real) -> None:
    registry, covariates, excluded = real
    with pytest.raises(DataError, match=r"cannot hold 80 disjoint pseudo-sites.*ask for fewer"):
        pseudo_sites.draw_pseudo_sites(registry, covariates, excluded, 80, seed=1)


def test_a_pseudo_sites_controls_leave_out_the_real_sites_not_the_other_pseudo_sites(
    real, tmp_path: Path
) -> None:
    registry, covariates, excluded = real
    drawn = pseudo_sites.draw_pseudo_sites(registry, covariates, excluded, 3, seed=3)
    path = pseudo_sites.write_registry(tmp_path / "r.yml", drawn, excluded, seed=3)
    study = load_registry(path)
    assert list(study.sites) == ["pseudo-01", "pseudo-02", "pseudo-03"]
    first, second = study.sites["pseudo-01"], study.sites["pseudo-02"]
    controls = set(control_pool(study, "pseudo-01", covariates))
    assert not controls & excluded and not controls & set(first.municipalities)
    assert set(second.municipalities) <= controls
    assert len(controls) == len(covariates) - len(excluded) - len(first.municipalities)
    assert registry.placebo_excluded is None  # the real registry keeps its rule


def test_calibration_labels_rates_and_ranks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = pd.DataFrame({
        "kind": ["pseudo"] * 4 + ["real"],
        "site": ["p1", "p2", "p3", "p4", "r1"],
        "outcome": ["cost_basket_std"] * 5,
        "design": ["did"] * 5,
        "estimate": [10.0, -3.0, 1.0, 40.0, 20.0],
        "p_value": [0.004, 0.03, 0.5, 0.08, 0.01],
        "method": ["ri"] * 5,
    })  # fmt: skip
    better = {n: o.higher_is_better for n, o in OUTCOMES.items()}
    labelled = calibration.label_cells(labels, better)
    assert labelled["evidence"].tolist() == ["strong", "moderate", "none", "weak", "moderate"]
    assert labelled["direction"].tolist()[:3] == ["worse", "better", "inconclusive"]
    rates = calibration.rates(labelled).iloc[0]
    assert (rates["n"], rates["strong_or_moderate"], rates["worse"]) == (4, 0.5, 0.5)
    per_site, summary = calibration.familywise(labelled)
    assert summary.loc[0, "share_any_labelled"] == 0.75
    ranked = calibration.ranks(labelled).iloc[0]
    assert (ranked["rank"], ranked["placebo_p"]) == (2, 0.4)  # only p4's 40 is larger

    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "templates").symlink_to(REPO / "reports" / "templates")
    assert report_calibration.page_text().startswith("The placebo study has not been run")
    folder = tmp_path / "reports" / "placebo" / "results" / "calibration"
    folder.mkdir(parents=True)
    tables = {
        "rates": calibration.rates(labelled),
        "familywise_summary": summary,
        "ranks": calibration.ranks(labelled),
        "status": pd.DataFrame({"site": ["p1", "p2"], "status": ["complete", "did failed"]}),
    }
    for stem, table in tables.items():
        table.to_csv(folder / f"{stem}.csv", index=False)
    page = report_calibration.page_text()
    assert "Pseudo-sites completed: **1 of 2**" in page and "**50%**" in page
    assert "tbl-calibration-rates" in page and "tbl-calibration-ranks" in page


def test_the_area_rule_is_graded_like_the_scorecard_and_compared_with_the_raw_p() -> None:
    labels = pd.DataFrame({
        "kind": ["pseudo"] * 4 + ["real"],
        "site": ["p1", "p2", "p3", "p4", "r1"],
        "outcome": ["cost_basket_std"] * 5,
        "design": ["did", "did", "did", "its_level", "did"],
        "estimate": [10.0, -3.0, 1.0, 40.0, 20.0],
        "p_value": [0.004, 0.03, 0.5, 0.08, 0.01],
        "p_resolution": [1 / 24, None, None, 1 / 24, 1 / 10],  # 23 and 9 areas
        "method": ["ri"] * 5,
    })  # fmt: skip
    better = {n: o.higher_is_better for n, o in OUTCOMES.items()}
    labelled = calibration.label_cells(labels, better)
    assert labelled["evidence_raw"].tolist() == ["strong", "moderate", "none", "weak", "moderate"]
    assert labelled["evidence"].tolist() == ["moderate", "moderate", "none", "weak", "none"]
    per_site, summary = calibration.familywise(labelled)
    assert per_site["strong_or_moderate"].tolist() == [1, 1, 0, 0]
    assert summary.loc[0, "mean_strong_or_moderate"] == 0.5
    rule = calibration.area_rule(labelled, per_site).set_index(["design", "scope"])
    did = rule.loc[("did", "cell")]
    assert (did["n"], did["false_raw"], did["false_capped"]) == (3, 2 / 3, 2 / 3)
    assert (did["strong_raw"], did["strong_capped"]) == (1 / 3, 0)  # 0.004 graded at 1/24
    assert (did["real_raw"], did["real_capped"], did["real_n"]) == (1, 0, 1)  # 1/10 > 0.05
    every = rule.loc[("all", "cell")]
    assert (every["n"], every["capped_share"]) == (4, 0.5)
    within = rule.loc[("all within areas", "cell")]  # p1 (strong -> moderate) and p4 (weak)
    assert (within["n"], within["strong_raw"], within["strong_capped"]) == (2, 0.5, 0.0)
    assert rule.loc[("all", "site (any cell)"), "false_capped"] == 0.5

    scorecard = pd.DataFrame({
        "site": ["p1", "p2", "p3", "p4", "p1"],
        "p_value": [0.004, 0.3, 0.5, 0.2, 0.6],
        "evidence": ["moderate", "none", "none", "none", "none"],
    })  # fmt: skip
    _, summary = calibration.familywise(labelled, scorecard)
    assert summary.loc[0, "scorecard_cells"] == 1.25
    assert summary.loc[0, "scorecard_share_any_strong_or_moderate"] == 0.25
    assert summary.loc[0, "scorecard_mean_strong_or_moderate_raw"] == 0.25


def test_the_overview_and_methods_read_the_study_or_say_it_has_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "templates").symlink_to(REPO / "reports" / "templates")
    assert report_calibration.study_summary() is None
    assert "has not been run with these results" in report_calibration.area_rule_text()
    folder = tmp_path / "reports" / "placebo" / "results" / "calibration"
    folder.mkdir(parents=True)
    pd.DataFrame([{"pseudo_sites": 40, "mean_cells": 26.2, "share_any_strong_or_moderate": 0.5}]
                 ).to_csv(folder / "familywise_summary.csv", index=False)  # fmt: skip
    assert report_calibration.study_summary() is None  # an older study's files: not read
    pd.DataFrame([{"pseudo_sites": 40, "mean_cells": 26.2, "share_any_strong_or_moderate": 0.575,
                   "share_any_strong_or_moderate_raw": 0.6, "mean_strong_or_moderate": 0.96,
                   "scorecard_cells": 3.0, "scorecard_share_any_strong_or_moderate": 0.15}]
                 ).to_csv(folder / "familywise_summary.csv", index=False)  # fmt: skip
    pd.DataFrame([
        {"design": "all", "scope": "cell", "n": 1040, "capped_share": 0.6, "false_raw": 0.061,
         "false_capped": 0.048, "strong_raw": 0.02, "strong_capped": 0.0, "real_raw": 9,
         "real_capped": 7, "real_n": 130},
        {"design": "all within areas", "scope": "cell", "n": 624, "false_raw": 0.07,
         "false_capped": 0.04, "strong_raw": 0.03, "strong_capped": 0.0},
        {"design": "all", "scope": "site (any cell)", "n": 40, "false_raw": 0.6,
         "false_capped": 0.575},
    ]).to_csv(folder / "area_rule.csv", index=False)  # fmt: skip
    summary = report_calibration.study_summary()
    assert summary is not None and summary["pseudo_sites"] == 40
    methods = report_calibration.area_rule_text()
    assert "60.0% come from placebo sites drawn within areas" in methods
    assert "raw p-value, 7.0% are labelled strong or moderate and 3.0% strong" in methods
    assert "4.0% and 0.0% (nominal 5% and 1%)" in methods
    assert "60.0% carry at least one" in methods and "9 are strong or moderate" in methods
    from proeftuin.report import estimates as est

    card = [{"site": "s", "dimension": "costs", "outcome": "cost_basket_std", "direction": "x"}]
    monkeypatch.setattr(est, "site_name", str)
    text = est.render("answer.md.j2", card=card, found=[], tried=0, extras=[], sites=["S"],
                      placebo=summary)  # fmt: skip
    assert "placebo study](calibration.qmd) of 40 untreated look-alike regions" in text
    assert "15% showed at least one strong or moderate label on the scorecard's 3" in text
    assert "about 1.0 false strong or moderate labels per region" in text
    quiet = est.render("answer.md.j2", card=card, found=[], tried=0, extras=[], sites=["S"],
                       placebo=None)  # fmt: skip
    assert "has not been measured for these results" in quiet


@pytest.mark.slow
def test_a_tiny_placebo_study_end_to_end(
    built_panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pseudo-sites, 99 draws, two outcomes: every design and the synthesis, its own
    manifest and results folder, the real results untouched, then the calibration."""
    panel_root, _ = built_panel
    root = link_project(tmp_path, panel_root)
    monkeypatch.setenv(settings.ROOT_ENV, str(root))
    monkeypatch.delenv(settings.STUDY_ENV, raising=False)
    plan = yaml.safe_load((REPO / "analysis.yml").read_text())
    plan["outcomes"] = ["cost_basket_std", "mortality_all_per_1000"]
    (root / "analysis.yml").write_text(yaml.safe_dump(plan))

    run = CliRunner().invoke(app, ["placebo-study", "--sites", "2", "--draws", "99", "-j", "2"])
    assert run.exit_code == 0, run.output
    assert "2 of 2 pseudo-sites completed" in run.output
    study = root / "reports" / "placebo"
    manifest = results.read_manifest(study / "results" / "manifest.json")
    assert manifest.state == "complete" and len(manifest.tasks) == 2 * 4 + 2
    assert {t.status for t in manifest.tasks} == {"ok"}
    assert not (root / "reports" / "results").exists()  # never mixed with the real results
    listed = pd.read_csv(study / "pseudo_sites.csv")
    assert listed["site"].tolist() == ["pseudo-01", "pseudo-02"]
    assert listed["municipalities"].str.startswith("GM").all()
    did = pd.read_csv(study / "results" / "pseudo-01" / "did_estimates.csv")
    assert set(did["outcome"]) == {"cost_basket_std", "mortality_all_per_1000"}
    rates = pd.read_csv(study / "results" / "calibration" / "rates.csv")
    assert {("cost_basket_std", "did"), ("cost_basket_std", "sdid")} <= set(
        zip(rates["outcome"], rates["design"], strict=True)
    )
    assert rates["n"].between(1, 2).all() and rates["strong_or_moderate"].between(0, 1).all()
    synthesis = next(t for t in manifest.tasks if t.notebook == "synthesis")
    assert synthesis.parameters["draw_figures"] is False  # the calibration shows none
    assert not list((study / "results" / "synthesis").glob("*.png"))
    assert (study / "results" / "synthesis" / "designs.csv").is_file()  # the cells it reads
    rule = pd.read_csv(study / "results" / "calibration" / "area_rule.csv")
    assert "site (any cell)" in set(rule["scope"]) and rule["false_capped"].between(0, 1).all()

    again = CliRunner().invoke(
        app, ["placebo-study", "--sites", "2", "--draws", "99", "--site", "pseudo-02"]
    )
    assert again.exit_code == 0, again.output  # the same draw: every task cached
    statuses = {t.status for t in results.read_manifest(study / "results" / "manifest.json").tasks}
    assert statuses == {"cached"}

    shutil.copytree(study / "results", root / "reports" / "results")  # stand-in real results
    better = {n: o.higher_is_better for n, o in OUTCOMES.items()}
    tables = calibration.calibrate(study / "results", root / "reports" / "results", better)
    assert set(tables["ranks"]["site"]) == {"pseudo-01", "pseudo-02"}
    assert tables["ranks"]["n_pseudo"].between(1, 2).all()
    assert (tables["ranks"]["rank"] >= 2).all()  # its own twin is among the pseudo-sites
