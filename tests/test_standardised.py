"""Indirectly standardised mortality: the national rate tables parsed and verified, the
three checks of the standardisation (issue 25), and the panel's SMR outcomes.

(1) Per year, the sum of expected deaths over the 342 municipalities against the national
observed deaths, within the gap of the population sources (stated per year in
``GAP_BOUNDS``). (2) CBS's standardised mortality (37979ned: directly standardised to the
mean population of 1990 by age and sex) is *not* reproduced within rounding by the same
routine on 7052_95's 21 age groups; what is established is agreement within 0.35 per
1,000, measured here. (3) A municipality with the national rates and age structure has an
SMR of exactly 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from proeftuin.data import smr
from proeftuin.data import standardised as std
from proeftuin.data.geography import build_geography
from proeftuin.data.panel import harmonise_cells
from proeftuin.sources import DataError, cbs, vektis
from proeftuin.sources.fetch import acquire, checksum_table

NEW_FILES = (cbs.DEATHS_AGE_SEX_FILE, cbs.KEY_MORTALITY_FILE)
YEARS = range(smr.FIRST_YEAR, smr.LAST_YEAR + 1)
#: Check (1): largest |gap| (%) between the summed expected and the national observed
#: deaths. 1999-2009: the 80860ned rates use the file's own national counts (gap 0 before
#: the splice); the 2011 fine/coarse ratio, applied to earlier years, leaves a gap that
#: grows back in time (all causes +0.29% in 1999 to -0.29% in 2009; circulatory and
#: respiratory up to +0.50%). 2010: the interpolated index times person-years (0.03%).
#: 2011-2019: Vektis insured-years are 1.4-1.6% below the mean population (the residual
#: row and the uninsured), which leaves 0.4-0.7% fewer expected deaths.
GAP_BOUNDS = {y: 0.55 for y in range(1999, 2010)} | {2010: 0.05}
GAP_BOUNDS |= {y: 0.75 for y in range(2011, 2020)}


@pytest.mark.parametrize("name", NEW_FILES)
def test_recorded_with_checksum_and_official_source(mirror_dir: Path, name: str) -> None:
    record = checksum_table()[("cbs", name)]
    assert record.url.startswith("https://opendata.cbs.nl/ODataApi/odata/")
    path, sha = acquire("cbs", name, mirror_dir)
    assert sha == record.sha256


@pytest.fixture(scope="module")
def rates(mirror_dir: Path) -> pd.DataFrame:
    return cbs.deaths_by_age_sex(mirror_dir / "cbs" / cbs.DEATHS_AGE_SEX_FILE)


def test_national_rates_add_up(rates: pd.DataFrame) -> None:
    assert rates["year"].min() == 1950 and rates["year"].max() == 2023
    assert rates["age"].nunique() == 21
    both = rates[(rates["sex"] == "T") & (rates["cause"] == "all")].groupby("year")["deaths"]
    assert both.sum()[2013] == 141245 and both.sum()[2023] == 169521  # CBS's totals
    by_sex = rates[rates["sex"] != "T"].groupby(["year", "cause"])["deaths"].sum()
    assert (by_sex == rates[rates["sex"] == "T"].groupby(["year", "cause"])["deaths"].sum()).all()


def test_bad_label_names_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    cols = ["ID", "Geslacht", "Leeftijd", "Perioden", "GemiddeldeBevolking_96"]
    cols += list(cbs.AGE_SEX_CAUSES)
    row = ["0", "Mannen", "100 jaar", "2000", "5", "1", "1", "1", "1"]
    path.write_text(";".join(cols) + "\n" + ";".join(row) + "\n")
    with pytest.raises(DataError, match=r"r\.csv: line 2: column Leeftijd: unexpected value"):
        cbs.deaths_by_age_sex(path)


@pytest.mark.parametrize("basis", std.BASES)
def test_regrouping_keeps_deaths(rates: pd.DataFrame, basis: str) -> None:
    year = rates[(rates["year"] == 2015) & (rates["sex"] != "T")]
    out = std.regroup_rates(year, cbs.AGE_GROUPS, smr.VEKTIS_CLASSES, basis)
    assert out["deaths"].sum() == pytest.approx(year["deaths"].sum(), rel=1e-12)
    assert set(out["age"]) == {c for c, _, _ in smr.VEKTIS_CLASSES}


def test_attained_age_shifts_the_young_and_old_classes(rates: pd.DataFrame) -> None:
    """Attained age is half a year older: fewer people aged 0-4, more aged 90+."""
    year = rates[(rates["year"] == 2011) & (rates["sex"] == "T") & (rates["cause"] == "all")]
    done = std.regroup_rates(year, cbs.AGE_GROUPS, smr.VEKTIS_CLASSES, "completed")
    att = std.regroup_rates(year, cbs.AGE_GROUPS, smr.VEKTIS_CLASSES, "attained")
    ratio = att.set_index("age")["pop"] / done.set_index("age")["pop"]
    assert ratio["0 t/m 4 jaar"] == pytest.approx(0.9, abs=0.01)
    assert ratio["90+"] > 1.1


def test_unknown_basis_and_missing_rate_are_errors(rates: pd.DataFrame) -> None:
    year = rates[(rates["year"] == 2015) & (rates["sex"] == "T")]
    with pytest.raises(DataError, match="age basis 'birthday'"):
        std.regroup_rates(year, cbs.AGE_GROUPS, smr.VEKTIS_CLASSES, "birthday")
    pop = pd.DataFrame({"unit": ["A"], "year": [2015], "sex": ["T"], "age": ["old"], "pop": [1]})
    with pytest.raises(DataError, match="no national rate for 2015 T 'old'"):
        std.expected_deaths(pop, year.assign(rate=1.0))


@pytest.mark.parametrize(
    ("classes", "sexes", "basis"),
    [
        (smr.VEKTIS_CLASSES, ("M", "V"), "attained"),
        (smr.COARSE_CLASSES, ("T",), "jan1"),
        (smr.COARSE_CLASSES, ("T",), "attained"),
    ],
)
@pytest.mark.parametrize("year", [1999, 2010, 2019])
def test_check3_national_structure_gives_smr_one(rates, classes, sexes, basis, year) -> None:
    """Check (3): a municipality of 20,000 with the national age-sex structure (the rates'
    own denominators) and national death rates has an SMR of 1 for every cause."""
    sel = rates[(rates["year"] == year) & rates["sex"].isin(sexes)]
    r = std.regroup_rates(sel, cbs.AGE_GROUPS, classes, basis)
    pop = r[r["cause"] == "all"][["year", "sex", "age", "pop"]].assign(unit="SYN")
    scale = 20_000 / pop["pop"].sum()
    pop["pop"] *= scale
    obs = sel.groupby("cause", as_index=False)["deaths"].sum()
    obs = obs.assign(unit="SYN", year=year, observed=obs["deaths"] * scale)
    out = std.smr(obs[["unit", "year", "cause", "observed"]], std.expected_deaths(pop, r))
    assert len(out) == 4
    assert np.abs(out["smr"] - 1).max() < 1e-12


def test_check2_cbs_standardised_mortality_not_reproduced_within_rounding(
    rates: pd.DataFrame, mirror_dir: Path
) -> None:
    """Check (2), as far as it goes. CBS (37979ned's description) standardises to the mean
    population of 1990 by age and sex. Direct standardisation with that standard on the
    21 groups of 7052_95 comes within 0.35 per 1,000 of CBS's figures for 1990-2023 (both
    sexes, men, women) but matches after rounding in fewer than two thirds of the cells, so
    the routine CBS uses (perhaps single years of age) is not established."""
    key = cbs.key_mortality(mirror_dir / "cbs" / cbs.KEY_MORTALITY_FILE)
    allc = rates[(rates["cause"] == "all") & (rates["year"] >= 1990)]
    allc = allc.assign(rate=allc["deaths"] / allc["pop"])
    rows = []
    for sex, sexes in (("T", ["M", "V"]), ("M", ["M"]), ("V", ["V"])):
        base = allc[(allc["year"] == 1990) & allc["sex"].isin(sexes)]
        standard = base[["sex", "age"]].assign(weight=base["pop"].to_numpy())
        dsr = std.direct_standardised(allc[allc["sex"].isin(sexes)], standard)
        rows.append(dsr.assign(sex=sex))
    got = pd.concat(rows).merge(key, on=["year", "sex"])
    diff = got["dsr"] - got["standardised_per_1000"]
    assert len(got) == 3 * 34
    assert diff.abs().max() < 0.35
    matched = (got["dsr"].round(1) == got["standardised_per_1000"]).mean()
    assert 0.3 < matched < 2 / 3


# --------------------------------------------------------------------------- real panel rows
@pytest.fixture(scope="module")
def computed(mirror_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = mirror_dir / "cbs"
    pop09 = cbs.population_2009(c / cbs.POPULATION_2009_FILE)
    geo = build_geography(c / cbs.LIST_FILES[2021], c / cbs.LIST_FILES[2023], pop09)
    cells = {}
    for year in smr.VEKTIS_YEARS:
        key = f"vektis_{year}_gemeente.csv"
        parsed = vektis.parse_vektis(mirror_dir / "vektis" / key, year)
        cells[year] = harmonise_cells(parsed.cells, geo, key)
    files = [cbs.DEATHS_FILE, cbs.POPULATION_1960_FILE, cbs.REGION_METADATA_FILE]
    files += [cbs.CHANGES_FILE, cbs.DEATHS_AGE_SEX_FILE, cbs.POPULATION_2009_FILE]
    return smr.compute({f"cbs/{f}": c / f for f in files}, geo, cells)


@pytest.mark.parametrize("year", YEARS)
def test_check1_expected_add_up_to_national_deaths(computed, year: int) -> None:
    _, gap = computed
    got = gap[gap["year"] == year].set_index("cause")
    assert len(got) == 4
    assert (got["gap_pct"].abs() < GAP_BOUNDS[year]).all(), got["gap_pct"].to_dict()
    if year >= 2011:  # fewer insured-years than inhabitants: fewer expected deaths
        assert (got["gap_pct"] < 0).all() and (got["pop_gap_pct"] < -1.3).all()


def test_panel_rows_cover_342_municipalities_and_conserve_observed(
    computed, mirror_dir: Path
) -> None:
    out, _ = computed
    assert out.groupby(["year", "cause"])["unit"].nunique().eq(342).all()
    assert sorted(out["year"].unique()) == list(YEARS)
    assert (out["expected"] > 0).all()
    nl = cbs.deaths_by_cause(mirror_dir / "cbs" / cbs.DEATHS_FILE)
    nl = nl[nl["region"] == "Nederland"].set_index("year")
    for cause in smr.CAUSES:
        got = out[out["cause"] == cause].groupby("year")["observed"].sum()
        assert (got == nl.loc[list(YEARS), f"deaths_{cause}"]).all()
    assert out.groupby("method")["year"].agg(["min", "max"]).to_dict("index") == {
        "80860ned, spliced": {"min": 1999, "max": 2009},
        "interpolated": {"min": 2010, "max": 2010},
        "Vektis": {"min": 2011, "max": 2019},
    }
    rows = smr.panel_rows(out)
    smr_all = rows[rows["outcome"] == "smr_all"]
    assert np.allclose(
        smr_all["value"] * smr_all["weight"],
        rows.loc[rows["outcome"] == "smr_observed_all", "value"].to_numpy(),
    )
