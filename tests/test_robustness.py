"""Robustness checks as small objects: each turns a site's design into named variants."""

from __future__ import annotations

import pandas as pd

from proeftuin.design import DesignInputs, site_design
from proeftuin.robustness import CHECKS, ControlPools, LeaveOneOut, PlaceboYears
from proeftuin.sites import CONTROL_POOLS, Registry, Site

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
    assert names == ["control_pool", "leave_one_out", "placebo_year"]
