"""Robustness checks as small objects: each turns a site's design into named variants."""

from __future__ import annotations

import numpy as np
import pandas as pd

from proeftuin.data.sites import CONTROL_POOLS, Registry, Site
from proeftuin.designs.comparison import DesignInputs, site_design
from proeftuin.designs.robustness import (
    CHECKS,
    ROBUSTNESS_COLUMNS,
    Contested,
    ControlPools,
    LeaveOneOut,
    NearbyPlacebo,
    OtherInitiatives,
    PlaceboYears,
    region_checks,
    run_checks,
)

CODES = [f"GM{i:04d}" for i in range(1, 9)]


def _inputs() -> DesignInputs:
    site = Site(
        id="s", name="Site", municipalities=CODES[:3], start_year=2014, lead_insurer="CZ",
        status="confirmed", sources={k: "x" for k in ("site", "municipalities", "start_year")},
    )  # fmt: skip
    covariates = pd.DataFrame(
        {
            "municipality": CODES,
            "province": ["A"] * 5 + ["B"] * 3,
            "care_office_region": ["Z1"] * 4 + ["Z2"] * 4,
            "corop_region": ["C1", "C1", "C2", "C2", "C3", "C3", "C4", "C4"],
            "population_2009": [10.0, 20, 30, 40, 50, 60, 70, 80],
            "share_65plus_2009": [0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.22, 0.24],
        }
    )
    years = range(2011, 2018)
    panel = pd.DataFrame(
        [
            {"municipality": c, "name": c, "year": y, "outcome": "y", "value": 1.0, "weight": 1.0}
            for c in CODES
            for y in years
        ]
    )
    return DesignInputs(Registry(sites={"s": site}), covariates, panel)


def test_control_pools_give_one_design_per_pool_from_the_same_inputs():
    inputs = _inputs()
    design = site_design("s", inputs, start_year=2014, first_year=2011, last_year=2017)
    variants = ControlPools().variants(design, inputs)
    assert list(variants) == list(CONTROL_POOLS)
    assert variants["all"].controls == tuple(CODES[3:])
    assert variants["province"].controls == ("GM0004", "GM0005")
    assert all(v.treated == design.treated for v in variants.values())


def test_leave_one_out_drops_each_municipality_and_needs_two_left():
    inputs = _inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2017)
    variants = LeaveOneOut().variants(design, inputs)
    assert list(variants) == CODES[:3]
    assert variants["GM0002"].treated == ("GM0001", "GM0003")
    assert "GM0002" not in set(variants["GM0002"].panel["municipality"])
    assert LeaveOneOut(min_left=3).variants(design, inputs) == {}


def test_placebo_years_keep_only_the_pre_period():
    inputs = _inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2017)
    variants = PlaceboYears().variants(design, inputs)
    assert list(variants) == ["2012", "2013"]
    assert variants["2013"].start_year == 2013
    assert variants["2013"].panel["year"].max() == 2013


def test_the_default_checks_have_distinct_names():
    names = [check.name for check in CHECKS]
    assert names == [
        "control_pool", "leave_one_out", "placebo_year", "initiatives", "contested",
        "nearby_placebo",
    ]  # fmt: skip


def _registry_inputs() -> DesignInputs:
    """Site s (GM0001-3) with GM0003 contested (alternatives: site t, drop); site t
    (GM0008); an initiative on GM0006; a site-less COROP area C3 (GM0005-6)."""
    from proeftuin.data.initiatives import ContestedMunicipality, OtherInitiative

    inputs = _inputs()
    src = {k: "x" for k in ("site", "municipalities", "start_year")}
    t = Site(
        id="t",
        name="T",
        municipalities=["GM0008"],
        start_year=2014,
        lead_insurer="CZ",
        status="confirmed",
        sources=src,
    )
    contested = ContestedMunicipality(
        code="GM0003",
        name="Three",
        default="s",
        alternatives=["t", "drop"],
        basis="b",
        sources={"a": "s"},
    )
    other = OtherInitiative(
        id="o",
        name="O",
        municipalities=["GM0006"],
        years=(2013, 2020),
        exclude_from_controls="default",
        status="confirmed",
        sources={"initiative": "s", "municipalities": "s", "years": "s"},
    )
    reg = Registry(
        sites={**inputs.registry.sites, "t": t},
        contested={"GM0003": contested},
        other_initiatives={"o": other},
    )
    return DesignInputs(reg, inputs.covariates, inputs.panel)


def test_other_initiatives_leave_the_pool_and_come_back_in_a_variant():
    inputs = _registry_inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2017)
    assert design.controls == ("GM0004", "GM0005", "GM0007")
    variants = OtherInitiatives().variants(design, inputs)
    assert list(variants) == ["included"]  # strict changes nothing here
    assert variants["included"].controls == ("GM0004", "GM0005", "GM0006", "GM0007")


def test_contested_assignments_give_one_variant_per_distinct_site():
    inputs = _registry_inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2017)
    variants = Contested().variants(design, inputs)
    assert list(variants) == ["without Three"]  # to t and dropped give the same site s
    assert variants["without Three"].treated == ("GM0001", "GM0002")
    assert "GM0003" not in variants["without Three"].controls
    other = Contested().variants(site_design("t", inputs, first_year=2011, last_year=2017), inputs)
    assert other["with Three"].treated == ("GM0008", "GM0003")


def test_nearby_placebo_sites_are_the_controls_of_the_province_by_area():
    inputs = _inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2017)
    variants = NearbyPlacebo().variants(design, inputs)
    assert list(variants) == ["placebo site C2", "placebo site C3"]  # province A: GM0004-5
    placebo = variants["placebo site C2"]
    assert placebo.treated == ("GM0004",) and "GM0004" not in placebo.controls
    assert not set(placebo.panel["municipality"]) & set(design.treated)


def _noisy_inputs() -> DesignInputs:
    """36 municipalities in six COROP areas, the first three a site starting in 2014; two
    headline outcomes (costs, health) with noise and a planted effect on costs."""
    codes = [f"GM{i:04d}" for i in range(1, 37)]
    site = Site(
        id="s", name="Site", municipalities=codes[:3], start_year=2014, lead_insurer="CZ",
        status="confirmed", sources={k: "x" for k in ("site", "municipalities", "start_year")},
    )  # fmt: skip
    covariates = pd.DataFrame(
        {
            "municipality": codes,
            "province": ["A"] * 18 + ["B"] * 18,
            "care_office_region": ["Z1"] * 12 + ["Z2"] * 24,
            "corop_region": [f"C{i // 6}" for i in range(36)],
            "population_2009": [10.0 + 5 * i for i in range(36)],
            "share_65plus_2009": [0.1 + 0.005 * i for i in range(36)],
        }
    )
    rng = np.random.default_rng(3)
    rows = [
        {"municipality": c, "name": c, "year": y, "outcome": o, "weight": 1.0 + i % 3,
         "value": 100 + i + 2 * y - 4000 + rng.normal(0, 3 if o == "cost_basket_std" else 30)
         + (8.0 if o == "cost_basket_std" and i < 3 and y >= 2014 else 0.0)}
        for i, c in enumerate(codes)
        for y in range(2011, 2019)
        for o in ("cost_basket_std", "health_good_pct")
    ]  # fmt: skip
    return DesignInputs(Registry(sites={"s": site}), covariates, pd.DataFrame(rows))


def _fitting_everything(design, inputs, outcomes, **options) -> pd.DataFrame:
    """The rows as fitting every variant with every method and the event study gives them."""
    from proeftuin.designs.did import did_table, run_did
    from proeftuin.designs.headline import headline

    frames = []
    for check in CHECKS:
        for name, variant in check.variants(design, inputs).items():
            table = did_table(variant, run_did(variant, outcomes, **options))
            best = headline(table)
            missing = table[~table["outcome"].isin(best["outcome"])].drop_duplicates("outcome")
            best = best.assign(note=best["method"].map(lambda m: f"interval and p-value: {m}"))
            rows = pd.concat([best, missing], ignore_index=True)
            frames.append(rows.assign(check=check.name, variant=name))
    return pd.concat(frames, ignore_index=True).reindex(columns=ROBUSTNESS_COLUMNS)


def test_shared_work_gives_the_rows_of_fitting_everything():
    inputs = _noisy_inputs()
    design = site_design("s", inputs, first_year=2011, last_year=2018)
    outcomes = ["cost_basket_std", "health_good_pct"]
    options = {"inference": ["crv1", "wild", "ri"], "draws": 49, "seed": 11}
    shared = run_checks(design, inputs, outcomes, **options)
    assert shared.to_csv(index=False) == _fitting_everything(
        design, inputs, outcomes, **options
    ).to_csv(index=False)
    # both paths ran: rows led by RI, and rows refitted where RI gave no finite interval
    assert {"interval and p-value: ri", "interval and p-value: crv1"} <= set(shared["note"])


def test_region_checks_keep_the_cost_rows_of_the_regional_checks():
    table = pd.DataFrame(
        {
            "check": ["control_pool", "control_pool", "initiatives", "nearby_placebo", "contested"],
            "variant": ["all", "province", "included", "placebo site C2", "without X"],
            "outcome": ["cost_basket_std"] * 4 + ["health_good_pct"],
            "estimate": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    ).reindex(columns=ROBUSTNESS_COLUMNS)
    rows = region_checks(table)
    assert list(rows["variant"]) == ["province", "included", "placebo site C2"]
    assert list(rows.columns) == [
        "check", "variant", "estimate", "ci_low", "ci_high", "p_value", "note",
    ]  # fmt: skip
