"""The sites of one COROP area against a common regional shock (designs.regional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from proeftuin.data.sites import Registry, Site
from proeftuin.designs.comparison import DesignInputs
from proeftuin.designs.regional import regional_checks, regional_sentence

CODES = [f"GM{i:04d}" for i in range(1, 25)]


def _inputs(shift: float, effect_a: float) -> DesignInputs:
    """Area R: site a (GM0001-3, from 2013), site b (GM0004-6, from 2014), three other
    municipalities of R; eighteen controls elsewhere. The whole of R shifts by ``shift``
    from 2013; site a adds ``effect_a``."""

    def site(sid: str, codes: list[str], start: int) -> Site:
        return Site(
            id=sid,
            name=sid.upper(),
            municipalities=codes,
            start_year=start,
            lead_insurer="X",
            status="confirmed",
            sources={k: "s" for k in ("site", "municipalities", "start_year", "lead_insurer")},
        )

    reg = Registry(sites={"a": site("a", CODES[:3], 2013), "b": site("b", CODES[3:6], 2014)})
    cov = pd.DataFrame({"municipality": CODES, "corop_region": ["R"] * 9 + ["S"] * 15})
    rng = np.random.default_rng(5)
    rows = []
    for i, code in enumerate(CODES):
        for year in range(2011, 2019):
            value = 100 + i + 2 * (year - 2011) + rng.normal(0, 0.5)
            value += shift * (i < 9 and year >= 2013) + effect_a * (i < 3 and year >= 2013)
            rows.append(
                {"municipality": code, "year": year, "outcome": "y", "value": value, "weight": 1.0}
            )
    return DesignInputs(reg, cov, pd.DataFrame(rows))


def test_a_shared_regional_shift_is_told_apart_from_a_site_effect():
    inputs = _inputs(shift=10.0, effect_a=5.0)
    table = regional_checks(inputs, "a", "y", controls=CODES[9:], first_year=2011, last_year=2018)
    est = table.set_index(["model", "term"])["estimate"]
    assert est[("joint", "d_a")] == pytest.approx(15, abs=1)  # shift and effect together
    assert est[("shared_shift", "d_a")] == pytest.approx(5, abs=1)  # the effect alone
    assert est[("shared_shift", "d_b")] == pytest.approx(0, abs=1)
    assert est[("shared_shift", "area_post")] == pytest.approx(10, abs=1)
    assert set(table["n_area_other"]) == {3}
    words = regional_sentence(table, {"a": "Site A"})
    assert "Site A: joint +1" in words and "shared shift +5" in words
    assert "area shift itself is +10" in words


def test_no_area_term_without_municipalities_outside_the_sites():
    inputs = _inputs(shift=0.0, effect_a=0.0)
    inputs.covariates.loc[6:8, "corop_region"] = "S"  # the area holds only the two sites
    table = regional_checks(inputs, "b", "y", controls=CODES[6:], first_year=2011, last_year=2018)
    shared = table[table["model"] == "shared_shift"]
    assert len(shared) == 1 and shared["note"].iloc[0].startswith("not identified")
    assert table[table["model"] == "joint"]["estimate"].notna().all()
