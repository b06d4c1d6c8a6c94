"""The panel's standardised mortality: observed and expected deaths and their ratio (SMR)
per 2023 municipality, year and cause, 1999-2019, by indirect standardisation
(:mod:`proeftuin.data.standardised`) with national rates of CBS 7052_95.

The municipal population by sex and age comes from two sources, and the rule for the years
between them is fixed here:

* **2011-2019**: Vektis insured-years by sex and 19 age classes (age attained in the
  calendar year), with national rates by sex regrouped to those classes.
* **1999-2009**: CBS 80860ned residents on 1 January in five age groups, both sexes
  (counts rounded to tens), with national rates of the same groups (age on 1 January) over
  the national sum of those counts. Five groups miss most of the age differences within
  65+, so this part is *spliced*: each municipality's expected deaths are multiplied by its
  2011 ratio of expected deaths with the fine classes to expected deaths with Vektis
  collapsed to the five groups (per cause), which removes the break at 2009/2011.
* **2010** has no municipal age structure: the age-structure index (expected deaths per
  head relative to the national value) is interpolated half-way between 2009 (spliced) and
  2011, times the municipality's person-years (CBS 37259ned) and national deaths per
  person-year. Interpolated, and said so in the dictionary.
* **1996-1998** have none either and are left out: the series starts in 1999 (13 years
  before the earliest start, 2013).

Observed deaths are the harmonised 80142ned counts (:mod:`proeftuin.data.mortality`),
conserved nationally in every year. Expected deaths are not calibrated: their national sum
differs from the observed deaths by the gap between the population sources
(:func:`checks`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proeftuin.data import mortality
from proeftuin.data import standardised as std
from proeftuin.data.geography import Geography
from proeftuin.sources import cbs

FIRST_YEAR, LAST_YEAR = 1999, 2019
COARSE_YEARS = range(1999, 2010)
VEKTIS_YEARS = range(2011, 2020)
INTERPOLATED_YEAR = 2010
SPLICE_YEAR = 2011
CAUSES = mortality.CAUSES
#: Vektis' 19 age classes (attained age) as (label, lower, upper exclusive).
VEKTIS_CLASSES = [(f"{a} t/m {a + 4} jaar", a, a + 5) for a in range(0, 90, 5)]
VEKTIS_CLASSES += [("90+", 90, 999)]
COARSE_CLASSES = list(cbs.AGE_GROUPS_80860.values())
_COARSE_OF = {
    label: next(c for c, lo_c, hi_c in COARSE_CLASSES if lo_c <= lo < hi_c)
    for label, lo, _ in VEKTIS_CLASSES
}


def national_rates(path: Path, first_year: int = FIRST_YEAR) -> pd.DataFrame:
    """7052_95 deaths and mean population by year, sex, age group and cause."""
    rates = cbs.deaths_by_age_sex(path)
    return rates[rates["year"].between(first_year, LAST_YEAR)].reset_index(drop=True)


def vektis_population(cells: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """unit, year, sex, age, pop: insured-years per municipality, sex and Vektis class."""
    frames = []
    for year in VEKTIS_YEARS:
        c = cells[year]
        g = c.groupby(["municipality", "sex", "age"], as_index=False)["insured_years"].sum()
        frames.append(g.assign(year=year, pop=g["insured_years"] / 100))
    out = pd.concat(frames, ignore_index=True).rename(columns={"municipality": "unit"})
    return out[["unit", "year", "sex", "age", "pop"]]


def coarse_population(path: Path, geo: Geography) -> pd.DataFrame:
    """unit, year, sex (T), age, pop: 80860ned residents on 1 January per 2023
    municipality in its five age groups (splits allocated exactly, as for deaths)."""
    labels = [c for c, _, _ in COARSE_CLASSES]
    raw = mortality._as_int(cbs.population_age_groups(path), labels, path.name)
    h = mortality.harmonise_int(raw, geo.shares(raw["code"], path.name), labels, ["year"])
    long = h.melt(id_vars=["year", "municipality"], var_name="age", value_name="pop")
    long = long.rename(columns={"municipality": "unit"}).assign(sex="T")
    return long[["unit", "year", "sex", "age", "pop"]].astype({"pop": "float64"})


def collapse(pop: pd.DataFrame) -> pd.DataFrame:
    """Vektis classes by sex -> the five 80860ned groups, both sexes."""
    c = pop.assign(age=pop["age"].map(_COARSE_OF), sex="T")
    return c.groupby(["unit", "year", "sex", "age"], as_index=False)["pop"].sum()


def _totals(pop: pd.DataFrame) -> pd.DataFrame:
    return pop.groupby(["unit", "year"], as_index=False)["pop"].sum()


def expected(
    rates: pd.DataFrame,
    vektis: pd.DataFrame,
    coarse: pd.DataFrame,
    person_years: pd.DataFrame,
    national_deaths: pd.DataFrame,
) -> pd.DataFrame:
    """Expected deaths unit x year x cause, 1999-2019, by the rule of the module docstring;
    column ``method`` says which part of the rule made each row."""
    lows = cbs.AGE_GROUPS
    by_sex, both = rates[rates["sex"] != "T"], rates[rates["sex"] == "T"]
    fine_rates = std.regroup_rates(by_sex, lows, VEKTIS_CLASSES, "attained")
    e_fine = std.expected_deaths(vektis, fine_rates)
    # 1999-2009: 1 January age, over the national sum of the same rounded counts
    denom = coarse.groupby(["year", "sex", "age"], as_index=False)["pop"].sum()
    jan1 = std.regroup_rates(both, lows, COARSE_CLASSES, "jan1", denominator=denom)
    e_coarse = std.expected_deaths(coarse, jan1)
    # splice: the 2011 ratio of fine to coarse expected deaths (both attained age)
    v11 = collapse(vektis[vektis["year"] == SPLICE_YEAR])
    att = std.regroup_rates(both[both["year"] == SPLICE_YEAR], lows, COARSE_CLASSES, "attained")
    f = e_fine[e_fine["year"] == SPLICE_YEAR].merge(
        std.expected_deaths(v11, att), on=["unit", "cause"], suffixes=("", "_coarse")
    )
    f = f.assign(ratio=f["expected"] / f["expected_coarse"])[["unit", "cause", "ratio"]]
    e_spliced = e_coarse.merge(f, on=["unit", "cause"])
    e_spliced = e_spliced.assign(expected=e_spliced["expected"] * e_spliced["ratio"])
    # 2010: the age-structure index half-way between 2009 and 2011
    i09 = std.age_structure_index(e_spliced[e_spliced["year"] == 2009], _totals(coarse))
    i11 = std.age_structure_index(e_fine[e_fine["year"] == SPLICE_YEAR], _totals(vektis))
    mid = i09.merge(i11, on=["unit", "cause"], suffixes=("_09", "_11"))
    mid = mid.assign(year=INTERPOLATED_YEAR, index=(mid["index_09"] + mid["index_11"]) / 2)
    e_10 = std.expected_from_index(
        mid[["unit", "year", "cause", "index"]],
        person_years[person_years["year"] == INTERPOLATED_YEAR],
        national_deaths,
    )
    parts = [
        e_spliced[["unit", "year", "cause", "expected"]].assign(method="80860ned, spliced"),
        e_10.assign(method="interpolated"),
        e_fine.assign(method="Vektis"),
    ]
    return pd.concat(parts, ignore_index=True)


def observed(m: mortality.Mortality) -> pd.DataFrame:
    """unit, year, cause, observed: harmonised 80142ned deaths, 1999-2019."""
    d = m.deaths[m.deaths["year"].between(FIRST_YEAR, LAST_YEAR)]
    long = d.melt(id_vars=["municipality", "year"], var_name="cause", value_name="observed")
    long["cause"] = long["cause"].str.removeprefix("deaths_")
    long = long[long["cause"].isin(CAUSES)].rename(columns={"municipality": "unit"})
    return long.astype({"observed": "float64"}).reset_index(drop=True)


def compute(
    paths: dict[str, Path], geo: Geography, cells: dict[int, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(unit, year, cause, observed, expected, smr, method; check (1) per year and cause)."""
    c = {k.removeprefix("cbs/"): v for k, v in paths.items() if k.startswith("cbs/")}
    m = mortality.load_mortality(paths, geo)
    obs = observed(m)
    nat = obs.groupby(["year", "cause"], as_index=False)["observed"].sum()
    py = mortality.person_years(m.population)
    py = py.rename(columns={"municipality": "unit", "person_years": "pop"})
    rates = national_rates(c[cbs.DEATHS_AGE_SEX_FILE])
    vektis = vektis_population(cells)
    coarse = coarse_population(c[cbs.POPULATION_2009_FILE], geo)
    exp = expected(rates, vektis, coarse, py, nat)
    out = std.smr(obs, exp)
    pop = pd.concat(
        [_totals(coarse), py[py["year"] == INTERPOLATED_YEAR], _totals(vektis)], ignore_index=True
    )
    mean_pop = rates[(rates["sex"] == "T") & (rates["cause"] == "all")].groupby("year")["pop"]
    gap = std.national_gap(exp, nat, pop, mean_pop.sum())
    return out, gap


def panel_rows(smr_frame: pd.DataFrame) -> pd.DataFrame:
    """Long panel rows per cause: ``smr_<cause>`` (observed / expected),
    ``smr_observed_<cause>`` and ``smr_expected_<cause>`` (the count and the offset of its
    count model); every row weighted by its expected deaths."""
    s = smr_frame.rename(columns={"unit": "municipality"})
    frames = []
    for col, name in (("smr", "smr_{}"), ("observed", "smr_observed_{}"),
                      ("expected", "smr_expected_{}")):  # fmt: skip
        frames.append(
            pd.DataFrame(
                {
                    "municipality": s["municipality"],
                    "year": s["year"],
                    "outcome": [name.format(c) for c in s["cause"]],
                    "value": s[col],
                    "weight": s["expected"],
                }
            )  # fmt: skip
        )
    return pd.concat(frames, ignore_index=True)
