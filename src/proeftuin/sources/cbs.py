"""Parse the CBS (StatLine) extracts: municipality lists, 80860ned, 70072ned, 84521NED, the
Gezondheidsmonitor waves, and the long annual series for interrupted time series (deaths by
cause 80142ned, population on 1 January 37259ned, the 03759ned region-name bridge and the
table of municipality changes up to 2018), into tidy frames keyed by region name or GM code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proeftuin.core.errors import DataError

SURVEY_FILES = {
    2012: "82166NED.csv",
    2016: "83674NED.csv",
    2020: "85012NED.csv",
    2022: "85563NED.csv",
}
ADMISSIONS_FILE = "84521NED_totaal_alle_diagnosen.csv"
POPULATION_2009_FILE = "80860ned.csv"
KERNCIJFERS_FILE = "70072ned_regionale_kerncijfers_2015.csv"
LIST_FILES = {2021: "gemeenten-alfabetisch-2021.csv", 2023: "gemeenten-alfabetisch-2023.csv"}
HEALTH_COLUMN = "ErvarenGezondheidGoedZeerGoed_1"


def read_statline(path: Path, required: list[str]) -> pd.DataFrame:
    """A ';'-separated StatLine CSV (BOM, padded text) with its required columns."""
    with path.open(encoding="utf-8-sig") as fh:
        header = fh.readline()
    if ";" not in header:
        raise DataError(f"{path}: line 1: expected ';'-separated header")
    frame = pd.read_csv(path, sep=";", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: header: missing columns {missing}")
    return frame.apply(lambda s: s.str.strip())


def number(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Numeric column; '' and '.' (suppressed) become NaN, other text is an error."""
    raw = frame[column].replace({"": None, ".": None})
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise DataError(
            f"{path}: line {line}: column {column}: expected a number, "
            f"got {frame[column][bad].iloc[0]!r}"
        )
    return values.astype("float64")


def population_2009(path: Path) -> pd.DataFrame:
    """80860ned, 2009: code, name, population_2009, age65_2009 (2009 boundaries)."""
    cols = [
        "RegioS",
        "Perioden",
        "RegiocodeKoppelvariabele_1",
        "TotaleBevolking_2",
        "k_65JaarEnOuder_9",
    ]
    frame = read_statline(path, cols)
    frame = frame[
        (frame["Perioden"] == "2009") & frame["RegiocodeKoppelvariabele_1"].str.startswith("GM")
    ]
    if frame.empty:
        raise DataError(f"{path}: no municipality rows for 2009")
    return pd.DataFrame(
        {
            "code": frame["RegiocodeKoppelvariabele_1"],
            "name": frame["RegioS"],
            "population_2009": number(frame, "TotaleBevolking_2", path),
            "age65_2009": number(frame, "k_65JaarEnOuder_9", path),
        }
    ).reset_index(drop=True)


def _region_column(frame: pd.DataFrame, prefix: str, path: Path) -> tuple[str, str]:
    for col in frame.columns:
        if col.startswith("Code_") and frame[col].str.startswith(prefix).mean() > 0.9:
            return col, "Naam_" + str(int(col.split("_")[1]) + 1)
    raise DataError(f"{path}: no region-code column with {prefix}… codes")


def kerncijfers_2015(path: Path) -> pd.DataFrame:
    """70072ned 2015 per municipality (2015 codes): population and region memberships."""
    frame = read_statline(path, ["RegioS", "TotaleBevolking_1"])
    frame = frame[frame["RegioS"].str.startswith("GM")]
    frame = frame[~frame["TotaleBevolking_1"].isin(["", "."])]
    out = pd.DataFrame(
        {"code": frame["RegioS"], "population_2015": number(frame, "TotaleBevolking_1", path)}
    )
    for prefix, name in (("GG", "ggd"), ("ZK", "care_office"), ("CR", "corop")):
        code_col, name_col = _region_column(frame, prefix, path)
        out[f"{name}_code"] = frame[code_col]
        out[f"{name}_region"] = frame[name_col]
    return out.reset_index(drop=True)


def admissions(path: Path) -> pd.DataFrame:
    """84521NED: region name, year, admissions (count); all regions, named per year."""
    frame = read_statline(path, ["RegioS", "Perioden", "Opnamen_1"])
    return pd.DataFrame(
        {
            "region": frame["RegioS"],
            "year": frame["Perioden"].astype(int),
            "admissions": number(frame, "Opnamen_1", path),
            "line": frame.index + 2,
        }
    )


def survey(path: Path, wave: int) -> pd.DataFrame:
    """A Gezondheidsmonitor wave: region, value, ci_low, ci_high (all ages, %)."""
    kind = "Cijfersoort" if wave == 2012 else "Marges"
    frame = read_statline(path, ["RegioS", "Leeftijd", kind, HEALTH_COLUMN])
    frame = frame[frame["Leeftijd"] == "Totaal"].assign(v=lambda d: number(d, HEALTH_COLUMN, path))
    wide = frame.pivot_table(
        index="RegioS", columns=kind, values="v", aggfunc="first", dropna=False
    )
    names = {
        "Waarde": "value",
        "Ondergrens 95%-interval": "ci_low",
        "Bovengrens 95%-interval": "ci_high",
    }
    if set(names) - set(wide.columns):
        raise DataError(f"{path}: column {kind}: expected values {sorted(names)}")
    wide = wide.rename(columns=names)[list(names.values())]
    return wide.rename_axis("region").reset_index().assign(year=wave)


# --------------------------------------------------------------------------- long series
DEATHS_FILE = "80142ned_overledenen_doodsoorzaken_1996_2019.csv"
POPULATION_1960_FILE = "37259ned_bevolking_1januari_1960_2018.csv"
REGION_METADATA_FILE = "03759ned_metadata.csv"
CHANGES_FILE = "gemeentewijzigingen_tot_2018.csv"
#: 80142ned columns -> cause of death (the four main groups plus the total).
DEATH_COLUMNS = {
    "TotaalAlleOnderliggendeDoodsoorzaken_1": "all",
    "Nieuwvormingen_2": "cancer",
    "ZiektenVanHartEnVaatstelsel_3": "cardiovascular",
    "ZiektenVanAdemhalingsstelsel_4": "respiratory",
    "UitwendigeDoodsoorzaken_5": "external",
    "OverigeDoodsoorzaken_6": "other",
}
_GM = r"^GM\d{4}$"


def _year(frame: pd.DataFrame, column: str, path: Path, pattern: str) -> pd.Series:
    bad = ~frame[column].str.fullmatch(pattern)
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise DataError(
            f"{path}: line {line}: column {column}: expected a year like {pattern!r}, "
            f"got {frame[column][bad].iloc[0]!r}"
        )
    return frame[column].str[:4].astype(int)


def _codes(values: pd.Series, column: str, path: Path, offset: int = 2) -> pd.Series:
    """GM codes; the first bad one names its line (``offset`` + its index label)."""
    bad = ~values.str.fullmatch(_GM)
    if bad.any():
        line = int(values.index[bad][0]) + offset
        raise DataError(
            f"{path}: line {line}: column {column}: expected a GM code, got {values[bad].iloc[0]!r}"
        )
    return values


def deaths_by_cause(path: Path) -> pd.DataFrame:
    """80142ned: region (name, as in each year), year, deaths_<cause> (NaN where the region
    did not exist that year), line. All regions: Nederland, parts, provinces, municipalities."""
    frame = read_statline(path, ["RegioS", "Perioden", *DEATH_COLUMNS])
    out = pd.DataFrame(
        {"region": frame["RegioS"], "year": _year(frame, "Perioden", path, r"\d{4}")}
    )
    for column, cause in DEATH_COLUMNS.items():
        out[f"deaths_{cause}"] = number(frame, column, path)
    if out.duplicated(["region", "year"]).any():
        first = out[out.duplicated(["region", "year"])].iloc[0]
        raise DataError(f"{path}: key ({first['region']}, {first['year']}): duplicated row")
    return out.assign(line=frame.index + 2)


def population_1january(path: Path) -> pd.DataFrame:
    """37259ned: code (each year's GM code), year, population on 1 January (both sexes);
    only the rows of municipalities that existed that year."""
    frame = read_statline(path, ["RegioS", "Perioden", "BevolkingOp1Januari_1"])
    out = pd.DataFrame(
        {
            "code": _codes(frame["RegioS"], "RegioS", path),
            "year": _year(frame, "Perioden", path, r"\d{4}JJ00"),
            "population": number(frame, "BevolkingOp1Januari_1", path),
        }
    )
    return out.dropna(subset=["population"]).reset_index(drop=True)


def region_names(path: Path) -> pd.DataFrame:
    """03759ned metadata export, section "RegioS": code (GM), name, for every municipality
    since 1988 (the bridge from 80142ned's names to codes)."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    starts = [i for i, r in enumerate(rows) if r == ["RegioS"]]
    if len(starts) != 1 or rows[starts[0] + 1][:2] != ["Key", "Title"]:
        raise DataError(f'{path}: expected one section "RegioS" with header Key;Title')
    body = []
    for row in rows[starts[0] + 2 :]:
        if len(row) < 2:  # the next section's title
            break
        body.append((row[0].strip(), row[1].strip()))
    frame = pd.DataFrame(body, columns=["code", "name"])
    frame = frame[frame["code"].str.startswith("GM")]
    _codes(frame["code"], "Key", path, offset=starts[0] + 3)
    frame = frame.reset_index(drop=True)
    dup = frame[frame["name"].duplicated(keep=False)]
    if len(dup):
        raise DataError(f"{path}: section RegioS: name {dup['name'].iloc[0]!r} has two codes")
    return frame


def municipality_changes(path: Path) -> pd.DataFrame:
    """Municipality changes up to 2018 (Latin-1, ';'): old_code, new_code, year, code_2018
    (the old code's successor as of 2018), name_2018; one successor per old code."""
    try:
        frame = pd.read_csv(path, sep=";", dtype=str, encoding="latin-1", keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a ';'-separated table: {exc}") from exc
    need = ["Eindjaar", "Oude", "Nieuwe", "Huidige code", "Huidige naam"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: header: missing columns {missing}")
    frame = frame.apply(lambda s: s.str.strip())
    # territory that left the Netherlands (returned to Germany in 1963): no successor
    frame = frame[~((frame["Nieuwe"] == "#N/A") & (frame["Huidige code"] == "#N/A"))]
    out = pd.DataFrame(
        {
            "old_code": _codes(frame["Oude"], "Oude", path),
            "new_code": _codes(frame["Nieuwe"], "Nieuwe", path),
            "year": _year(frame, "Eindjaar", path, r"\d{4}"),
            "code_2018": _codes(frame["Huidige code"], "Huidige code", path),
            "name_2018": frame["Huidige naam"],
        }
    )
    # a code re-used after an earlier dissolution: its last change is the one that counts
    return out.sort_values("year").drop_duplicates("old_code", keep="last").reset_index(drop=True)


def population_age_1999_2009(path: Path) -> pd.DataFrame:
    """80860ned, 1999-2009 (2009 boundaries): code, year, population, age65 (65+)."""
    cols = ["RegioS", "Perioden", "RegiocodeKoppelvariabele_1", "TotaleBevolking_2"]
    frame = read_statline(path, [*cols, "k_65JaarEnOuder_9"])
    frame = frame[frame["RegiocodeKoppelvariabele_1"].str.startswith("GM")]
    return pd.DataFrame(
        {
            "code": frame["RegiocodeKoppelvariabele_1"],
            "year": _year(frame, "Perioden", path, r"\d{4}"),
            "population": number(frame, "TotaleBevolking_2", path),
            "age65": number(frame, "k_65JaarEnOuder_9", path),
        }
    ).reset_index(drop=True)


# --------------------------------------------------------------------------- standardisation
DEATHS_AGE_SEX_FILE = "7052_95_overledenen_doodsoorzaak_leeftijd_geslacht_1950_2023.csv"
KEY_MORTALITY_FILE = "37979ned_overledenen_kerncijfers_1950_2023.csv"
#: 7052_95 cause columns -> cause (the same groups as 80142ned's, matched by label).
AGE_SEX_CAUSES = {
    "TotaalOnderliggendeDoodsoorzaken_1": "all",
    "TotaalNieuwvormingen_8": "cancer",
    "TotaalZiektenVanHartEnVaatstelsel_43": "cardiovascular",
    "TotaalZiektenVanDeAdemhalingsorganen_50": "respiratory",
}
SEXES = {"Totaal mannen en vrouwen": "T", "Mannen": "M", "Vrouwen": "V"}
#: 7052_95's age groups (completed age at death) with their lower bound in years.
AGE_GROUPS = {"0 jaar": 0, "1 tot 5 jaar": 1}
AGE_GROUPS |= {f"{a} tot {a + 5} jaar": a for a in range(5, 95, 5)} | {"95 jaar of ouder": 95}
#: 80860ned's five age groups (residents on 1 January, both sexes) with their bounds.
AGE_GROUPS_80860 = {
    "k_0Tot15Jaar_5": ("0-14", 0, 15),
    "k_15Tot25Jaar_6": ("15-24", 15, 25),
    "k_25Tot45Jaar_7": ("25-44", 25, 45),
    "k_45Tot65Jaar_8": ("45-64", 45, 65),
    "k_65JaarEnOuder_9": ("65+", 65, 999),
}


def _mapped(frame: pd.DataFrame, column: str, allowed: dict, path: Path) -> pd.Series:
    bad = ~frame[column].isin(list(allowed))
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise DataError(
            f"{path}: line {line}: column {column}: unexpected value {frame[column][bad].iloc[0]!r}"
        )
    return frame[column].map(allowed)


def deaths_by_age_sex(path: Path) -> pd.DataFrame:
    """7052_95 (national): year, sex (T/M/V), age (group label), cause, deaths, pop (the
    group's mean population), one row per cause; the 'all ages' rows are dropped."""
    frame = read_statline(
        path, ["Geslacht", "Leeftijd", "Perioden", "GemiddeldeBevolking_96", *AGE_SEX_CAUSES]
    )
    frame = frame[frame["Leeftijd"] != "Totaal alle leeftijden"].reset_index(drop=True)
    _mapped(frame, "Leeftijd", AGE_GROUPS, path)  # every label known
    base = pd.DataFrame(
        {
            "year": _year(frame, "Perioden", path, r"\d{4}(JJ00)?"),
            "sex": _mapped(frame, "Geslacht", SEXES, path),
            "age": frame["Leeftijd"],
            "pop": number(frame, "GemiddeldeBevolking_96", path),
        }
    )
    parts = [
        base.assign(cause=cause, deaths=number(frame, column, path))
        for column, cause in AGE_SEX_CAUSES.items()
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[["year", "sex", "age", "cause", "deaths", "pop"]]


def key_mortality(path: Path) -> pd.DataFrame:
    """37979ned (national): year, sex (T/M/V), deaths, crude and standardised mortality per
    1,000 (CBS's standard: the mean population of 1990 by age and sex)."""
    cols = ["Geslacht", "Perioden", "Overledenen_1", "OverledenenRelatief_2"]
    frame = read_statline(path, [*cols, "OverledenenGestandaardiseerd_3"])
    return pd.DataFrame(
        {
            "year": _year(frame, "Perioden", path, r"\d{4}(JJ00)?"),
            "sex": _mapped(frame, "Geslacht", SEXES, path),
            "deaths": number(frame, "Overledenen_1", path),
            "crude_per_1000": number(frame, "OverledenenRelatief_2", path),
            "standardised_per_1000": number(frame, "OverledenenGestandaardiseerd_3", path),
        }
    )


def population_age_groups(path: Path) -> pd.DataFrame:
    """80860ned, 1999-2009 (2009 boundaries): code, year and residents on 1 January in the
    five age groups of :data:`AGE_GROUPS_80860` (both sexes; counts rounded to tens)."""
    frame = read_statline(path, ["Perioden", "RegiocodeKoppelvariabele_1", *AGE_GROUPS_80860])
    frame = frame[frame["RegiocodeKoppelvariabele_1"].str.startswith("GM")]
    out = pd.DataFrame(
        {
            "code": frame["RegiocodeKoppelvariabele_1"],
            "year": _year(frame, "Perioden", path, r"\d{4}"),
        }
    )
    for column, (label, _, _) in AGE_GROUPS_80860.items():
        out[label] = number(frame, column, path)
    return out.reset_index(drop=True)
