"""The basket's parts (data.components) and the decomposition of a site's cost effect
(designs.decomposition): the parts add up to the whole, in the panel and in the estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proeftuin.data import components, outcomes
from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.decomposition import (
    additivity,
    decomposition_figure,
    run_decomposition,
    where_sentence,
)
from proeftuin.sources.vektis import AGE_CLASSES

PARTS = {"category": ["p_a", "p_b", "p_c"], "age_band": ["g_young", "g_old"]}


def test_categories_partition_the_basket_and_bands_cover_every_age_class():
    listed = [c for cols in components.CATEGORIES.values() for c in cols]
    assert sorted(listed) == sorted(outcomes.BASKET) and len(set(listed)) == len(listed)
    bands = [
        b
        for age in map(components.age_of_class, AGE_CLASSES)
        for b, (lo, hi) in components.AGE_BANDS.items()
        if lo <= age <= (hi if hi is not None else 200)
    ]
    assert len(bands) == len(AGE_CLASSES)  # each class in exactly one band
    assert all(components.outcome_name(c) in outcomes.OUTCOMES for c in components.COLUMNS)


def test_the_parts_columns_add_up_to_the_basket_in_every_cell():
    rng = np.random.default_rng(3)
    raw = pd.DataFrame(
        rng.integers(0, 1000, (len(AGE_CLASSES), len(outcomes.BASKET))), columns=outcomes.BASKET
    )
    cells = raw.assign(age=list(AGE_CLASSES), cost_basket=raw.sum(axis=1))
    out = components.add_columns(cells[["age", "cost_basket"]], raw)
    cats = [components.category_column(c) for c in components.CATEGORIES]
    bands = [components.band_column(b) for b in components.AGE_BANDS]
    assert (out[cats].sum(axis=1) == out["cost_basket"]).all()
    assert (out[bands].sum(axis=1) == out["cost_basket"]).all()
    assert out.loc[out["age"] == "90+", components.band_column("75plus")].iloc[0] > 0


def _design(seed: int = 7) -> SiteDesign:
    """Six municipalities, 2011-2018, three treated from 2014; random parts whose sum is
    the total, with a planted effect on part ``p_a`` only, and unequal weights."""
    rng = np.random.default_rng(seed)
    codes = [f"GM{i:04d}" for i in range(1, 9)]
    rows = []
    for c_i, code in enumerate(codes):
        weight = 100.0 + 50 * c_i
        for year in range(2011, 2019):
            effect = 30.0 if (c_i < 3 and year >= 2014) else 0.0
            a = 100 + rng.normal(0, 5) + effect + 2 * c_i
            b, c = 50 + rng.normal(0, 3), 20 + rng.normal(0, 2) + year - 2011
            old = rng.uniform(0.3, 0.6) * (a + b + c)
            values = {
                "p_a": a,
                "p_b": b,
                "p_c": c,
                "g_old": old,
                "g_young": a + b + c - old,
                "cost_basket_std": a + b + c,
            }
            rows += [
                {
                    "municipality": code,
                    "name": code,
                    "year": year,
                    "outcome": o,
                    "value": v,
                    "weight": weight,
                }
                for o, v in values.items()
            ]
    panel = pd.DataFrame(rows)
    return SiteDesign(
        site="s",
        name="Site",
        treated=tuple(codes[:3]),
        controls=tuple(codes[3:]),
        start_year=2014,
        first_year=2011,
        last_year=2018,
        control_pool="all",
        buffer=False,
        panel=panel,
        areas={c: ("A" if i % 2 else "B") for i, c in enumerate(codes)},
    )


def test_the_parts_estimates_add_up_to_the_total_effect():
    table = run_decomposition(_design(), inference=["crv1"], draws=19, seed=1, parts=PARTS)
    gaps = additivity(table)
    assert list(gaps["kind"]) == ["category", "age_band"]
    assert np.allclose(gaps["gap"], 0, atol=1e-8)  # linear estimator, fixed sample and weights
    total = table.loc[table["kind"] == "total", "estimate"].iloc[0]
    assert total == pytest.approx(30, abs=8)  # the planted effect, in p_a
    by_part = table.set_index("part")
    assert by_part.loc["p a", "estimate"] == pytest.approx(total, abs=6)
    assert table["share"].sum() == pytest.approx(3.0)  # total + each kind sums to one
    sentence = where_sentence(table, "Site")
    assert sentence.startswith("Of Site's +") and "p a care" in sentence
    fig = decomposition_figure(table, "Site")
    assert len(fig.axes) == 2


def test_randomization_inference_keeps_the_parts_additive():
    table = run_decomposition(_design(11), inference=["ri"], draws=19, seed=2, parts=PARTS)
    assert set(table["method"].dropna()) <= {"ri"}
    assert np.allclose(additivity(table)["gap"], 0, atol=1e-8)
