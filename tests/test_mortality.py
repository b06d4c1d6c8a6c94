"""Mortality on 2023 boundaries: conservation per year against the files' national totals,
predecessors summed, the Haaren split allocated exactly, person-years, clear errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from proeftuin.data import mortality
from proeftuin.data.geography import build_geography
from proeftuin.sources import DataError, cbs

DEATH_YEARS = range(1996, 2020)
POP_YEARS = range(1996, 2019)


@pytest.fixture(scope="module")
def geo(mirror_dir: Path):
    c = mirror_dir / "cbs"
    pop09 = cbs.population_2009(c / cbs.POPULATION_2009_FILE)
    return build_geography(c / cbs.LIST_FILES[2021], c / cbs.LIST_FILES[2023], pop09)


@pytest.fixture(scope="module")
def mort(mirror_dir: Path, geo) -> mortality.Mortality:
    files = (cbs.DEATHS_FILE, cbs.POPULATION_1960_FILE, cbs.REGION_METADATA_FILE, cbs.CHANGES_FILE)
    return mortality.load_mortality({f"cbs/{f}": mirror_dir / "cbs" / f for f in files}, geo)


def raw_national(mirror_dir: Path) -> tuple[dict[int, float], dict[int, int]]:
    """The files' national totals, read independently: the Nederland row of 80142ned and
    the sum of every municipality's 1 January population in 37259ned."""
    deaths: dict[int, float] = {}
    with (mirror_dir / "cbs" / cbs.DEATHS_FILE).open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if row["RegioS"].strip() == "Nederland":
                deaths[int(row["Perioden"])] = float(row["TotaalAlleOnderliggendeDoodsoorzaken_1"])
    pop: dict[int, int] = {}
    with (mirror_dir / "cbs" / cbs.POPULATION_1960_FILE).open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            if row["BevolkingOp1Januari_1"]:
                year = int(row["Perioden"][:4])
                pop[year] = pop.get(year, 0) + int(row["BevolkingOp1Januari_1"])
    return deaths, pop


@pytest.mark.parametrize("year", DEATH_YEARS)
def test_deaths_conserved_per_year(mort, mirror_dir: Path, year: int) -> None:
    deaths, _ = raw_national(mirror_dir)
    got = mort.deaths[mort.deaths["year"] == year]
    assert got["municipality"].nunique() == 342
    assert got["deaths_all"].sum() == deaths[year]
    causes = ["deaths_cancer", "deaths_cardiovascular", "deaths_respiratory"]
    check = mort.conservation[
        (mort.conservation["year"] == year) & mort.conservation["measure"].isin(causes)
    ]
    assert len(check) == 3 and (check["difference"] == 0).all()


@pytest.mark.parametrize("year", POP_YEARS)
def test_population_conserved_per_year(mort, mirror_dir: Path, year: int) -> None:
    _, pop = raw_national(mirror_dir)
    got = mort.population[mort.population["year"] == year]
    assert got["municipality"].nunique() == 342
    assert got["population"].sum() == pop[year]


def test_predecessors_are_summed(mort, mirror_dir: Path) -> None:
    raw = cbs.population_1january(mirror_dir / "cbs" / cbs.POPULATION_1960_FILE)
    parts = raw[(raw["year"] == 2000) & raw["code"].isin(["GM0160", "GM0143", "GM0157"])]
    hardenberg = mort.population.query("municipality == 'GM0160' and year == 2000")
    assert len(parts) == 3  # Hardenberg, Avereest and Gramsbergen before their 2001 merger
    assert hardenberg["population"].iloc[0] == parts["population"].sum()


def test_haaren_split_allocates_whole_deaths(mort, mirror_dir: Path) -> None:
    raw = cbs.deaths_by_cause(mirror_dir / "cbs" / cbs.DEATHS_FILE)
    haaren = raw.query("region == 'Haaren' and year == 2019")["deaths_all"].iloc[0]
    heirs = ["GM0865", "GM0824", "GM0855", "GM0757"]  # Vught, Oisterwijk, Tilburg, Boxtel
    others = raw[raw["region"].isin(["Vught", "Oisterwijk", "Tilburg", "Boxtel"])]
    others = others[others["year"] == 2019]["deaths_all"].sum()
    got = mort.deaths[(mort.deaths["year"] == 2019) & mort.deaths["municipality"].isin(heirs)]
    got = got["deaths_all"]
    assert got.sum() == haaren + others
    assert (got.to_numpy() == got.to_numpy().round()).all()


def test_person_years_mean_of_two_januaries_else_the_last() -> None:
    pop = pd.DataFrame(
        {"municipality": "GM0001", "year": [2016, 2017, 2018], "population": [100, 110, 120]}
    )
    got = mortality.person_years(pop).set_index("year")["person_years"]
    assert got.to_dict() == {2016: 105.0, 2017: 115.0, 2018: 120.0}


def test_code_without_successor_is_a_clear_error(geo) -> None:
    changes = pd.DataFrame({"old_code": ["GM0001"], "code_2018": ["GM0002"]})
    with pytest.raises(DataError, match=r"^x\.csv: municipality code GM9998 has no 2023 succ"):
        mortality.successor_shares(pd.Series(["GM0014", "GM9998"]), geo, changes, "x.csv")


@pytest.fixture(scope="module")
def panel_rows(built_panel) -> pd.DataFrame:
    from proeftuin.data.panel import load_panel

    root, _ = built_panel
    return load_panel(root / "data" / "processed" / "panel.parquet")


def test_panel_mortality_complete_1996_2018(panel_rows: pd.DataFrame) -> None:
    names = [f"mortality_{c}_per_1000" for c in mortality.CAUSES]
    names += [f"deaths_{c}" for c in mortality.CAUSES] + ["person_years"]
    for name in names:
        rows = panel_rows[panel_rows["outcome"] == name]
        assert sorted(rows["year"].unique()) == list(POP_YEARS), name
        assert len(rows) == 342 * len(POP_YEARS) and rows["value"].notna().all(), name
        assert (rows["weight"] > 0).all()


def test_panel_rates_are_counts_over_person_years(panel_rows, mirror_dir: Path) -> None:
    wide = panel_rows.pivot_table(
        index=["municipality", "year"], columns="outcome", values="value"
    ).dropna(subset=["deaths_all"])
    rate = 1000 * wide["deaths_cardiovascular"] / wide["person_years"]
    assert rate.to_numpy() == pytest.approx(wide["mortality_cardiovascular_per_1000"].to_numpy())
    deaths, _ = raw_national(mirror_dir)
    per_year = wide.groupby(level="year")["deaths_all"].sum()
    assert per_year.to_dict() == {y: deaths[y] for y in POP_YEARS}


def test_panel_share_65plus(panel_rows: pd.DataFrame) -> None:
    share = panel_rows[panel_rows["outcome"] == "share_65plus"]
    years = sorted(share["year"].unique())
    assert years == [*range(1999, 2010), *range(2011, 2024)]  # no source for 2010
    assert share["value"].between(0.05, 0.45).all()
    assert share.groupby("year")["municipality"].nunique().eq(342).all()
    national = share.assign(x=share["value"] * share["weight"]).groupby("year")
    trend = national["x"].sum() / national["weight"].sum()
    assert trend[2009] < trend[2018] < trend[2023]  # the country ages
