"""Parse the CBS (StatLine) extracts: municipality lists, 80860ned, 70072ned, 84521NED and
the Gezondheidsmonitor waves, into tidy frames keyed by region name or GM code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proeftuin.sources.errors import DataError

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
