"""Parse one Vektis Open Databestand Zvw (per gemeente) CSV into a validated frame.

Amounts are returned as exact integers (euro cents; insured-years in hundredths) so that
harmonisation conserves totals to the cent. Header case and 2023's 32-character
truncation are normalised; the single residual row is returned separately.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proeftuin.core.errors import DataError

YEARS = tuple(range(2011, 2024))
KEY_COLUMNS = ("geslacht", "leeftijdsklasse", "gemeentenaam")
COUNT_COLUMNS = ("aantal_bsn", "aantal_verzekerdejaren")
KNOWN_COSTS = [
    "medisch_specialistische_zorg",
    "farmacie",
    "tweedelijns_ggz",
    "specialistische_ggz",
    "eerstelijns_psychologische_zorg",
    "generalistische_basis_ggz",
    "langdurige_ggz",
    "consulten_ggz",
    "intramuraal_verblijf_ggz",
    "overige_prestaties_ggz",
    "innovatiegelden_ggz",
    "huisarts_inschrijftarief",
    "huisarts_consult",
    "huisarts_mdz",
    "huisarts_overig",
    "hulpmiddelen",
    "mondzorg",
    "paramedische_zorg_fysiotherapie",
    "paramedische_zorg_overig",
    "ziekenvervoer_zittend",
    "ziekenvervoer_liggend",
    "kraamzorg",
    "verloskundige_zorg",
    "integrale_geboortezorg",
    "grensoverschrijdende_zorg",
    "eerstelijns_ondersteuning",
    "geriatrische_revalidatiezorg",
    "eerstelijnsverblijf",
    "verpleging_en_verzorging",
    "gzsp",
    "overig",
]
SEXES = ("M", "V")
AGE_CLASSES = tuple(f"{a} t/m {a + 4} jaar" for a in range(0, 90, 5)) + ("90+",)
URL_TEMPLATE = "Vektis Open Databestand Zorgverzekeringswet {year} - gemeente"


@dataclass
class VektisYear:
    """One parsed year: cells per municipality x sex x age, and the residual row."""

    year: int
    cells: pd.DataFrame  # name, sex, age, insured, insured_years, cost columns (int64)
    residual: pd.Series  # the same amount columns, int64
    cost_columns: list[str]


def canonical_column(raw: str, file: str) -> str:
    """Lower-case a header, resolve truncated cost names, strip the ``kosten_`` prefix."""
    name = raw.strip().lower()
    if name in KEY_COLUMNS or name in COUNT_COLUMNS:
        return name
    if not name.startswith("kosten_"):
        raise DataError(f"{file}: header: unexpected column {raw!r} (expected kosten_*)")
    stem = name.removeprefix("kosten_")
    if stem in KNOWN_COSTS:
        return stem
    matches = [c for c in KNOWN_COSTS if ("kosten_" + c).startswith(name)]
    if len(name) >= 30 and len(matches) == 1:
        return matches[0]
    raise DataError(f"{file}: header: unknown cost column {raw!r}")


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    text = path.read_text(encoding="ascii", errors="strict")
    lines = text.splitlines()
    if not lines:
        raise DataError(f"{path}: line 1: empty file (expected a ';'-separated header)")
    if ";" not in lines[0]:
        sep = "," if "," in lines[0] else "tab" if "\t" in lines[0] else "none"
        raise DataError(f"{path}: line 1: expected ';'-separated header, found delimiter {sep}")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header, body = rows[0], rows[1:]
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {i}: {len(row)} fields, expected {len(header)} "
                "(truncated file or wrong delimiter?)"
            )
    return header, body


def _to_int(frame: pd.DataFrame, columns: list[str], path: Path) -> pd.DataFrame:
    out = {}
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataError(
                f"{path}: line {line}: column {col}: expected a number, got "
                f"{frame[col][bad].iloc[0]!r}"
            )
        out[col] = np.rint(values.to_numpy(dtype="float64") * 100).astype("int64")
    return pd.DataFrame(out, index=frame.index)


def _check_keys(cells: pd.DataFrame, path: Path) -> None:
    dup = cells.duplicated(["name", "sex", "age"], keep=False)
    if dup.any():
        lines = [int(i) + 2 for i in cells.index[dup][:4]]
        first = cells[dup].iloc[0]
        raise DataError(
            f"{path}: lines {lines}: duplicated row for key "
            f"({first['name']}, {first['sex']}, {first['age']}); expected one row"
        )
    bad_sex = ~cells["sex"].isin(SEXES)
    bad_age = ~cells["age"].isin(AGE_CLASSES)
    for bad, what, allowed in ((bad_sex, "sex", SEXES), (bad_age, "age", AGE_CLASSES)):
        if bad.any():
            line = int(cells.index[bad][0]) + 2
            raise DataError(
                f"{path}: line {line}: unexpected {what} {cells[what][bad].iloc[0]!r}"
                f" (expected one of {list(allowed)})"
            )


def parse_vektis(path: Path, year: int) -> VektisYear:
    """Parse and validate one year's file (raises DataError with file and line)."""
    header, body = _read_rows(path)
    columns = [canonical_column(h, path.name) for h in header]
    missing = [c for c in (*KEY_COLUMNS, *COUNT_COLUMNS) if c not in columns]
    if missing:
        raise DataError(f"{path}: header: missing columns {missing}")
    raw = pd.DataFrame(body, columns=columns, dtype=str)
    costs = [c for c in columns if c in KNOWN_COSTS]
    amounts = _to_int(raw, [*COUNT_COLUMNS, *costs], path)
    keys = pd.DataFrame(
        {
            "name": raw["gemeentenaam"].str.strip(),
            "sex": raw["geslacht"].str.strip(),
            "age": raw["leeftijdsklasse"].str.strip().str.replace(r"\s+", " ", regex=True),
        }
    )
    is_resid = (keys == "").all(axis=1)
    if is_resid.sum() != 1:
        raise DataError(
            f"{path}: expected exactly one residual row (empty sex, age, "
            f"municipality), found {int(is_resid.sum())}"
        )
    cells = pd.concat([keys, amounts], axis=1)[~is_resid.to_numpy()]
    _check_keys(cells, path)
    cells = cells.rename(
        columns={"aantal_bsn": "insured", "aantal_verzekerdejaren": "insured_years"}
    )
    residual = (
        amounts[is_resid.to_numpy()]
        .iloc[0]
        .rename({"aantal_bsn": "insured", "aantal_verzekerdejaren": "insured_years"})
    )
    return VektisYear(year, cells, residual, costs)  # index + 2 = line number
