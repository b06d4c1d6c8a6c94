"""What each design could detect (the minimum detectable effect from a placebo distribution),
the scorecard's two kinds of null, and the designs side by side read from results files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from proeftuin.designs import did as analysis
from proeftuin.designs.comparison import SiteDesign
from proeftuin.synthesis import pooling as synthesis
from proeftuin.synthesis import side_by_side as compare

OUTCOMES = ["cost_basket_std", "hospital_gp_ratio", "health_good_pct"]


# --- minimum detectable effect ---------------------------------------------------------------


def test_mde_is_2_8_times_the_sd_of_a_simulated_placebo_distribution() -> None:
    sd = 7.0
    draws = np.random.default_rng(1).normal(3.0, sd, 200_000)
    assert analysis.mde_factor() == pytest.approx(2.8016, abs=1e-4)  # 1.960 + 0.842
    assert analysis.minimum_detectable_effect(draws) == pytest.approx(2.8016 * sd, rel=0.01)
    # weights count a draw as often as its weight; non-finite draws are ignored
    few = np.array([1.0, 2.0, 4.0, np.nan])
    repeated = np.array([1.0, 2.0, 2.0, 4.0])
    assert analysis.minimum_detectable_effect(few, [1, 2, 1, 5]) == pytest.approx(
        analysis.minimum_detectable_effect(repeated)
    )
    assert np.isnan(analysis.minimum_detectable_effect([np.nan, 1.0]))


def _design() -> SiteDesign:
    years = range(2011, 2016)
    rows = [
        {"municipality": m, "name": m, "year": y, "outcome": "cost_basket_std",
         "value": (100.0 if m in ("A", "B") else 90.0) + y - 2011, "weight": w}
        for m, w in (("A", 1.0), ("B", 3.0), ("C", 1.0), ("D", 1.0)) for y in years
    ]  # fmt: skip
    return SiteDesign("site", "Site", ("A", "B"), ("C", "D"), 2013, 2011, 2015, "all", False,
                        pd.DataFrame(rows), dict.fromkeys("ABCD", "area"))  # fmt: skip


def test_mde_columns_from_the_ri_placebo_sd_and_the_pre_period_mean() -> None:
    design = _design()
    assert analysis.pre_period_mean(design, "cost_basket_std") == pytest.approx(100.5)
    table = pd.DataFrame(
        {"outcome": ["cost_basket_std"] * 2, "method": ["crv1", "ri"], "se": [1.0, 10.0]}
    )
    out = analysis.add_mde(table, design)
    assert out["mde"].tolist() == pytest.approx([28.016, 28.016], abs=1e-3)  # every row: RI's
    assert out["mde_pct"].iloc[0] == pytest.approx(100 * 28.016 / 100.5, abs=1e-3)


# --- the scorecard's two nulls ---------------------------------------------------------------


def _did_rows(site: str, p: float, mde_pct: float) -> list[dict]:
    return [{"site": site, "outcome": "cost_basket_std", "method": "ri", "estimate": 5.0,
             "ci_low": -20.0, "ci_high": 30.0, "p_value": p, "mde": 20 * mde_pct,
             "mde_pct": mde_pct}]  # fmt: skip


def test_scorecard_tells_no_effect_larger_than_x_from_too_noisy() -> None:
    table = pd.DataFrame(
        _did_rows("precise", 0.6, 2.0)
        + _did_rows("noisy", 0.6, 12.0)
        + _did_rows("found", 0.001, 2.0)
    )
    card = synthesis.scorecard(table, OUTCOMES)
    assert (card.loc[card["outcome"] != "cost_basket_std", "direction"] == "not estimable").all()
    card = card[card["outcome"] == "cost_basket_std"].set_index("site")
    assert card.loc["precise", "detectable"] == (
        "no effect larger than 40 (2.0% of the pre-period mean)"
    )
    assert card.loc["noisy", "detectable"].startswith("too noisy to say: only effects of 240")
    assert card.loc["found", "detectable"] == "" and card.loc["found", "direction"] == "worse"
    assert card.loc["noisy", "mde_pct"] == 12.0 and card.loc["noisy", "design"] == "did"


# --- the designs side by side, from fixture results files ---------------------------------


def _write(root: Path, site: str, name: str, rows: list[dict]) -> None:
    (root / site).mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / site / name, index=False)


def _est(outcome: str, estimate: float, lo: float, hi: float, **extra: object) -> dict:
    return {"outcome": outcome, "estimate": estimate, "ci_low": lo, "ci_high": hi,
            "p_value": 0.3, **extra}  # fmt: skip


@pytest.fixture()
def results_root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    pool = "interval and p-value: ri"
    _write(root, "site", "robustness.csv", [
        {"site": "site", "check": "control_pool", "variant": "all", "note": pool,
         **_est("cost_basket_std", 90.0, 20.0, 160.0)},
        {"site": "site", "check": "control_pool", "variant": "province", "note": pool,
         **_est("cost_basket_std", 60.0, -20.0, 100.0)},
        {"site": "site", "check": "placebo_year", "variant": "2012", "note": pool,
         **_est("cost_basket_std", 1.0, -5.0, 7.0)},
    ])  # fmt: skip
    _write(root, "site", "did_estimates.csv", [
        {"site": "site", "method": m, "mde": 150.0, "mde_pct": 7.5,
         **_est("cost_basket_std", 90.0, lo, hi)}
        for m, lo, hi in (("crv1", 50.0, 130.0), ("ri", 20.0, 160.0))
    ])  # fmt: skip
    _write(root, "site", "synth_estimates.csv", [
        {"site": "site", "estimator": e, "method": m, "mde": mde, "mde_pct": mde / 20,
         **_est("cost_basket_std", est, est - w, est + w)}
        for e, est, mde in (("sdid", 80.0, 140.0), ("sc", 120.0, 190.0))
        for m, w in (("placebo", 40.0), ("ri", 70.0))
    ])  # fmt: skip
    _write(root, "site", "its_estimates.csv", [
        {"site": "site", "effect": "level_change", **_est("cost_basket_std", 30.0, -10.0, 70.0)},
        {"site": "site", "effect": "level_change", "note": "too few pre-period points",
         **_est("hospital_gp_ratio", np.nan, np.nan, np.nan)},
    ])  # fmt: skip
    return root


def test_side_by_side_table_from_results_files(results_root: Path) -> None:
    table = compare.side_by_side(["site"], OUTCOMES, root=results_root)
    cost = table[table["outcome"] == "cost_basket_std"]
    assert list(zip(cost["design"], cost["variant"].fillna(""), strict=True)) == [
        ("did", "all"),
        ("did", "province"),
        ("sdid", ""),
        ("sc", ""),
        ("its", "level change"),
    ]  # no placebo years: they are checks, not estimates of the effect
    by = cost.set_index(["design", "variant"])
    assert by.loc[("sdid", ""), "method"] == "ri"  # RI leads the over-rejecting placebo SE
    assert by.loc[("sdid", ""), ["ci_low", "ci_high"]].tolist() == [10.0, 150.0]
    assert by.loc[("did", "all"), "mde"] == 150.0 and np.isnan(by.loc[("did", "province"), "mde"])
    assert by.loc[("sc", ""), "mde_pct"] == pytest.approx(9.5)
    assert by["role"].tolist().count("pooled") == 1 and by.loc[("did", "all"), "role"] == "pooled"
    assert table["note"].isna().all()  # the role says which row is pooled; no orphan note
    assert table[table["outcome"] == "hospital_gp_ratio"].empty  # the ITS could not estimate it

    chosen = compare.side_by_side(
        ["site"], OUTCOMES, {"cost_basket_std": "sdid"}, root=results_root
    ).set_index(["design", "variant"])
    assert chosen.loc[("sdid", ""), "role"] == "pooled"
    assert chosen.loc[("did", "all"), "role"] == "sensitivity"


def test_side_by_side_figure_per_site(results_root: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    table = compare.side_by_side(["site"], OUTCOMES, root=results_root)
    assert compare.save_design_figures(table, tmp_path / "out") == ["fig-designs-site"]
    assert (tmp_path / "out" / "fig-designs-site.png").stat().st_size > 0
    assert (tmp_path / "out" / "fig-designs.png").stat().st_size > 0


def test_the_synthesis_pools_the_declared_design(results_root: Path) -> None:
    did = pd.concat([pd.read_csv(results_root / "site" / "did_estimates.csv").assign(site=r)
                     for r in ("a", "b")], ignore_index=True)  # fmt: skip
    synth = pd.concat([pd.read_csv(results_root / "site" / "synth_estimates.csv").assign(site=r)
                       for r in ("a", "b")], ignore_index=True)  # fmt: skip
    default = synthesis.pooling_table(did, synth, {})
    assert set(default["design"]) == {"did"}
    table = synthesis.pooling_table(did, synth, {"cost_basket_std": "sc"})
    assert set(table["design"]) == {"sc"} and set(table["estimator"]) == {"sc"}
    pooled = synthesis.pool(table)
    assert pooled.loc[0, "design"] == "sc" and pooled.loc[0, "estimate"] == pytest.approx(120.0)
