"""Municipality codes, name matching, and the merger crosswalk to 2023 boundaries.

Names from every source are matched to CBS GM codes through one normalised-name table
(CBS municipality lists of 2009, 2021 and 2023, the crosswalk's historical names, and
curated aliases); an unknown name is an error. The crosswalk
(``data/reference/municipality_crosswalk.csv``) maps every municipality that ceased to
exist since 2009 to the 2023 municipality (or, for a split, municipalities with shares)
that holds its territory in 2023.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proeftuin.core import settings
from proeftuin.core.errors import DataError

CROSSWALK_FILE = "municipality_crosswalk.csv"
ALIASES_FILE = "municipality_aliases.csv"
N_MUNICIPALITIES_2023 = 342
NON_MUNICIPALITY = re.compile(
    r"\((PV|GG|LD|CG|CR)\)$|^Nederland$|^GGD |^GG en GD |^Dienst Gezondheid|^Veiligh\. en Gez\."
)


def normalise_name(name: str) -> str:
    """Upper-case ASCII letters and digits separated by single spaces."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^A-Z0-9]", " ", ascii_name.upper()).split())


@dataclass
class Geography:
    """Codes of the 2023 municipalities, the name table and the crosswalk."""

    municipalities: pd.DataFrame  # code, name, province (2023)
    names: dict[str, str]  # normalised name -> GM code (any year)
    crosswalk: pd.DataFrame  # old_code, new_code, share (only changed codes)

    def code_of(self, name: str, where: str) -> str:
        """GM code for a municipality name, or DataError naming the file/line (``where``)."""
        code = self.names.get(normalise_name(name))
        if code is None:
            raise DataError(
                f"{where}: unknown municipality name {name!r} (expected a CBS "
                f"municipality name or an alias in data/reference/{ALIASES_FILE})"
            )
        return code

    def is_municipality_name(self, name: str) -> bool:
        return not NON_MUNICIPALITY.search(name.strip())

    def shares(self, codes: pd.Series | list[str], where: str) -> pd.DataFrame:
        """Rows (code, code_2023, share) mapping each code to 2023 municipalities."""
        codes = pd.Series(pd.unique(pd.Series(codes, dtype=str)), dtype=str, name="code")
        current = set(self.municipalities["code"])
        moved = self.crosswalk.rename(columns={"old_code": "code", "new_code": "code_2023"})
        out = pd.concat(
            [
                pd.DataFrame({"code": codes[codes.isin(current)], "share": 1.0}).assign(
                    code_2023=lambda d: d["code"]
                ),
                moved[moved["code"].isin(codes)],
            ],
            ignore_index=True,
        )
        unknown = sorted(set(codes) - set(out["code"]))
        if unknown:
            raise DataError(
                f"{where}: municipality codes {unknown} are neither 2023 codes nor "
                f"in data/reference/{CROSSWALK_FILE}"
            )
        return out[["code", "code_2023", "share"]]


def _read_cbs_list(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    expected = {"GemeentecodeGM", "Gemeentenaam", "Provincienaam"}
    if not expected <= set(frame.columns):
        raise DataError(f"{path}: header: expected columns {sorted(expected)}")
    return frame.rename(
        columns={"GemeentecodeGM": "code", "Gemeentenaam": "name", "Provincienaam": "province"}
    )[["code", "name", "province"]]


def load_crosswalk(path: Path | None = None) -> pd.DataFrame:
    """The curated crosswalk, validated: shares per old code sum to 1."""
    path = path or settings.reference_dir() / CROSSWALK_FILE
    frame = pd.read_csv(path, dtype={"old_code": str, "new_code": str, "share": float})
    need = {"old_code", "old_name", "new_code", "new_name", "date", "share", "source"}
    if not need <= set(frame.columns):
        raise DataError(f"{path}: header: expected columns {sorted(need)}")
    sums = frame.groupby("old_code")["share"].sum()
    bad = sums[~np.isclose(sums, 1.0)]
    if len(bad):
        raise DataError(f"{path}: key {bad.index[0]}: shares sum to {bad.iloc[0]}, expected 1")
    return frame


def build_geography(list_2021: Path, list_2023: Path, names_2009: pd.DataFrame) -> Geography:
    """Assemble the name table from CBS lists, 2009 names, crosswalk and aliases."""
    m23 = _read_cbs_list(list_2023)
    if len(m23) != N_MUNICIPALITIES_2023:
        raise DataError(f"{list_2023}: {len(m23)} municipalities, expected {N_MUNICIPALITIES_2023}")
    m21 = _read_cbs_list(list_2021)
    crosswalk = load_crosswalk()
    bad = sorted(set(crosswalk["new_code"]) - set(m23["code"]))
    if bad:
        raise DataError(f"{CROSSWALK_FILE}: new_code {bad} not a 2023 municipality")
    aliases = pd.read_csv(settings.reference_dir() / ALIASES_FILE, dtype=str)
    pairs = pd.concat(
        [
            names_2009[["code", "name"]],
            m21[["code", "name"]],
            crosswalk.rename(columns={"old_code": "code", "old_name": "name"})[["code", "name"]],
            aliases.rename(columns={"alias": "name"})[["code", "name"]],
            m23[["code", "name"]],
        ]
    )
    names: dict[str, str] = {}
    for code, name in zip(pairs["code"], pairs["name"], strict=True):
        key = normalise_name(name)
        if names.get(key, code) != code:
            raise DataError(f"name table: key {key!r} maps to both {names[key]} and {code}")
        names[key] = code
    return Geography(m23, names, crosswalk[["old_code", "new_code", "share"]])


def allocate_int(values: np.ndarray, shares: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Split integer amounts by shares, exactly: floors, then each group's remainder to
    its first (largest-share) row. ``groups`` labels rows that split one source row."""
    alloc = np.floor(values * shares[:, None]).astype("int64")
    frame = pd.DataFrame(alloc).assign(g=groups)
    remainder = (
        pd.DataFrame(values).assign(g=groups).groupby("g").first() - frame.groupby("g").sum()
    )
    first = ~pd.Series(groups).duplicated().to_numpy()
    alloc[first] += remainder.loc[groups[first]].to_numpy()
    return alloc
