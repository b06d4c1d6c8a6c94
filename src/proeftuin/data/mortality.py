"""Registry mortality on 2023 boundaries: deaths by cause (CBS 80142ned, 1996-2019) and
population on 1 January (CBS 37259ned, 1960-2018), harmonised by summing predecessors.

Every municipality code of any year is traced to the 2023 municipalities that hold its
territory: the project crosswalk for changes since 2009 (splits with their shares, Haaren
2021 among them), else the CBS table of changes up to 2018 (one successor per old code),
then the crosswalk again. Counts are integers and stay integers: a split allocates with
:func:`geography.allocate_int`, so that the harmonised municipal totals equal the national
totals of the files exactly, in every year (:func:`conservation`). Nothing is interpolated.

Person-years of year *t* are the mean of the 1 January populations of *t* and *t*+1; for
the last population year (2018) only 1 January 2018 is known and it is used as is (about
0.3% fewer person-years than the mean would give, nationally). 2019 deaths are harmonised
and conserved but have no person-years, so the panel's mortality outcomes run 1996-2018.
The 65+ share (a covariate for ageing) comes from CBS 80860ned for 1999-2009 (residents
on 1 January) and from Vektis insured-years by age from 2011 (a different population
count: the series has a break between 2009 and 2011, and 2010 is absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proeftuin.core.errors import DataError
from proeftuin.data.geography import Geography, allocate_int
from proeftuin.sources import cbs

CAUSES = ("all", "cardiovascular", "cancer", "respiratory")
FIRST_YEAR, LAST_YEAR = 1996, 2018
NATIONAL = "Nederland"


@dataclass
class Mortality:
    """Harmonised counts (2023 municipalities) and the per-year conservation check."""

    deaths: pd.DataFrame  # municipality, year, deaths_<cause> (int64), 1996-2019
    population: pd.DataFrame  # municipality, year, population (int64), 1 January
    conservation: pd.DataFrame  # year, measure, national, harmonised, difference


def successor_shares(
    codes: pd.Series, geo: Geography, changes: pd.DataFrame, where: str
) -> pd.DataFrame:
    """Rows (code, code_2023, share): each code's 2023 municipalities, shares summing to 1."""
    current = set(geo.municipalities["code"])
    cross = {
        k: list(zip(g["new_code"], g["share"], strict=True))
        for k, g in geo.crosswalk.groupby("old_code")
    }
    successor = dict(zip(changes["old_code"], changes["code_2018"], strict=True))
    memo: dict[str, list[tuple[str, float]]] = {}

    def resolve(code: str, seen: tuple[str, ...]) -> list[tuple[str, float]]:
        if code in memo:
            return memo[code]
        if code in current:
            out = [(code, 1.0)]
        elif code in cross:
            out = cross[code]
        elif code in successor and successor[code] not in seen:
            out = resolve(successor[code], (*seen, code))
        else:
            raise DataError(
                f"{where}: municipality code {code} has no 2023 successor (neither in "
                f"data/reference/municipality_crosswalk.csv nor in {cbs.CHANGES_FILE})"
            )
        memo[code] = out
        return out

    rows = [(c, new, s) for c in pd.unique(codes) for new, s in resolve(str(c), ())]
    return pd.DataFrame(rows, columns=["code", "code_2023", "share"])


def harmonise_int(
    frame: pd.DataFrame, shares: pd.DataFrame, cols: list[str], by: list[str]
) -> pd.DataFrame:
    """Sum integer counts into 2023 municipalities; splits are allocated exactly."""
    shares = shares.sort_values(["code", "share"], ascending=[True, False])
    m = frame.merge(shares, on="code", sort=False).reset_index(drop=True)
    split = (m["share"] < 1).to_numpy()
    if split.any():
        part = m[split]
        groups = part["code"].astype(str)
        for col in by:
            groups = groups + "|" + part[col].astype(str)
        m.loc[split, cols] = allocate_int(
            part[cols].to_numpy(dtype="int64"), part["share"].to_numpy(), groups.to_numpy()
        )
    out = m.groupby([*by, "code_2023"], as_index=False)[cols].sum()
    return out.rename(columns={"code_2023": "municipality"})


def _as_int(frame: pd.DataFrame, cols: list[str], where: str) -> pd.DataFrame:
    values = frame[cols].to_numpy(dtype="float64")
    if not np.array_equal(values, np.rint(values)):
        raise DataError(f"{where}: columns {cols}: expected whole counts")
    return frame.assign(**{c: frame[c].astype("int64") for c in cols})


def harmonised_deaths(
    path: Path, names: pd.DataFrame, geo: Geography, changes: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(deaths per 2023 municipality and year, the file's national row per year)."""
    raw = cbs.deaths_by_cause(path)
    cols = [c for c in raw.columns if c.startswith("deaths_")]
    national = raw[raw["region"] == NATIONAL].set_index("year")[cols]
    towns = raw[raw["region"].isin(set(names["name"]))]
    partial = towns[cols].isna().any(axis=1) & towns[cols].notna().any(axis=1)
    if partial.any():
        row = towns[partial].iloc[0]
        raise DataError(f"{path.name}: line {row['line']}: some causes missing, not all")
    towns = towns.dropna(subset=cols)
    towns = _as_int(
        towns.assign(code=towns["region"].map(names.set_index("name")["code"])), cols, path.name
    )
    shares = successor_shares(towns["code"], geo, changes, path.name)
    return harmonise_int(towns, shares, cols, ["year"]), national


def harmonised_population(
    path: Path, geo: Geography, changes: pd.DataFrame, first_year: int = FIRST_YEAR
) -> pd.DataFrame:
    """Population on 1 January per 2023 municipality, from ``first_year`` on."""
    raw = cbs.population_1january(path)
    raw = _as_int(raw[raw["year"] >= first_year], ["population"], path.name)
    shares = successor_shares(raw["code"], geo, changes, path.name)
    return harmonise_int(raw, shares, ["population"], ["year"])


def conservation(
    deaths: pd.DataFrame,
    national_deaths: pd.DataFrame,
    population: pd.DataFrame,
    national_population: pd.Series,
) -> pd.DataFrame:
    """Per year and measure: the file's national total, the harmonised sum, the difference."""
    parts = []
    for col in national_deaths.columns:
        got = deaths.groupby("year")[col].sum()
        parts.append(
            pd.DataFrame({"measure": col, "national": national_deaths[col], "harmonised": got})
        )
    got = population.groupby("year")["population"].sum()
    parts.append(
        pd.DataFrame({"measure": "population", "national": national_population, "harmonised": got})
    )
    out = pd.concat(parts).rename_axis("year").reset_index()
    return out.assign(difference=out["harmonised"] - out["national"])


def load_mortality(paths: dict[str, Path], geo: Geography) -> Mortality:
    """Parse, harmonise and check the deaths and population series (``cbs/<file>`` keys)."""
    c = {k.removeprefix("cbs/"): v for k, v in paths.items() if k.startswith("cbs/")}
    changes = cbs.municipality_changes(c[cbs.CHANGES_FILE])
    names = cbs.region_names(c[cbs.REGION_METADATA_FILE])
    deaths, national = harmonised_deaths(c[cbs.DEATHS_FILE], names, geo, changes)
    raw_pop = cbs.population_1january(c[cbs.POPULATION_1960_FILE])
    pop = harmonised_population(c[cbs.POPULATION_1960_FILE], geo, changes)
    nat_pop = raw_pop[raw_pop["year"] >= FIRST_YEAR].groupby("year")["population"].sum()
    check = conservation(deaths, national, pop, nat_pop)
    bad = check[check["difference"].abs() > 0.5]
    if len(bad):
        row = bad.iloc[0]
        raise DataError(
            f"mortality: year {row['year']}: {row['measure']} not conserved "
            f"(national {row['national']}, harmonised {row['harmonised']})"
        )
    return Mortality(deaths, pop, check)


def person_years(population: pd.DataFrame) -> pd.DataFrame:
    """Mean of 1 January of t and t+1; 1 January of t where t+1 is not in the file."""
    wide = population.pivot(index="municipality", columns="year", values="population")
    nxt = wide.shift(-1, axis=1)
    py = ((wide + nxt) / 2).fillna(wide)
    return py.stack().rename("person_years").reset_index()


def mortality_rows(m: Mortality) -> pd.DataFrame:
    """Long panel rows 1996-2018: deaths per 1,000 person-years, counts, person-years."""
    py = person_years(m.population)
    d = m.deaths.merge(py, on=["municipality", "year"], how="inner")
    d = d[d["year"].between(FIRST_YEAR, LAST_YEAR)]
    frames = [d[["municipality", "year"]].assign(outcome="person_years", value=d["person_years"])]
    for cause in CAUSES:
        count = d[f"deaths_{cause}"].astype("float64")
        frames.append(d[["municipality", "year"]].assign(outcome=f"deaths_{cause}", value=count))
        rate = 1000 * count / d["person_years"]
        frames.append(
            d[["municipality", "year"]].assign(outcome=f"mortality_{cause}_per_1000", value=rate)
        )
    weights = d.set_index(["municipality", "year"])["person_years"]
    out = pd.concat(frames, ignore_index=True)
    return out.assign(
        weight=weights.reindex(pd.MultiIndex.from_frame(out[["municipality", "year"]])).to_numpy()
    )


def share_65plus_rows(
    path_80860: Path, geo: Geography, vektis_cells: dict[int, pd.DataFrame]
) -> pd.DataFrame:
    """Long rows ``share_65plus``: CBS residents 1999-2009, Vektis insured-years from 2011."""
    raw = _as_int(cbs.population_age_1999_2009(path_80860), ["population", "age65"], "80860ned")
    shares = geo.shares(raw["code"], path_80860.name)
    cbs_part = harmonise_int(raw, shares, ["population", "age65"], ["year"])
    cbs_part = cbs_part.assign(
        value=cbs_part["age65"] / cbs_part["population"],
        weight=cbs_part["population"].astype("float64"),
    )
    old = [f"{a} t/m {a + 4} jaar" for a in range(65, 90, 5)] + ["90+"]
    frames = [cbs_part[["municipality", "year", "value", "weight"]]]
    for year, cells in vektis_cells.items():
        iy = cells.groupby("municipality")["insured_years"].sum()
        iy65 = cells[cells["age"].isin(old)].groupby("municipality")["insured_years"].sum()
        frames.append(
            pd.DataFrame(
                {
                    "municipality": iy.index,
                    "year": year,
                    "value": (iy65.reindex(iy.index, fill_value=0) / iy).to_numpy(),
                    "weight": (iy / 100).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).assign(outcome="share_65plus")


def panel_rows(
    paths: dict[str, Path], geo: Geography, vektis_cells: dict[int, pd.DataFrame]
) -> pd.DataFrame:
    """Every mortality row of the long panel, plus the 65+ share covariate."""
    m = load_mortality(paths, geo)
    age = share_65plus_rows(paths[f"cbs/{cbs.POPULATION_2009_FILE}"], geo, vektis_cells)
    return pd.concat([mortality_rows(m), age], ignore_index=True)
