"""Bad input gives a clear DataError naming file, line or key, and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from proeftuin.data.geography import build_geography, normalise_name
from proeftuin.data.panel import harmonise_cells
from proeftuin.sources import DataError
from proeftuin.sources.cbs import population_2009
from proeftuin.sources.vektis import canonical_column, parse_vektis

HEADER = (
    "GESLACHT;LEEFTIJDSKLASSE;GEMEENTENAAM;AANTAL_BSN;AANTAL_VERZEKERDEJAREN;"
    "KOSTEN_MEDISCH_SPECIALISTISCHE_ZORG;KOSTEN_FARMACIE"
)
ROWS = [
    ";;;10;5.5;100.01;-2.5",
    "M; 0 t/m  4 jaar;AA EN HUNZE;3;2.25;10.10;1",
    "V;90+;VAALS;1;1;5;0",
]


def write(tmp_path: Path, lines: list[str], name: str = "v.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_parses_header_case_residual_and_negative_cells(tmp_path: Path) -> None:
    parsed = parse_vektis(write(tmp_path, [HEADER.lower(), *ROWS]), 2019)
    assert parsed.cost_columns == ["medisch_specialistische_zorg", "farmacie"]
    assert parsed.residual["farmacie"] == -250 and parsed.residual["insured_years"] == 550
    assert list(parsed.cells["age"]) == ["0 t/m 4 jaar", "90+"]
    assert parsed.cells["medisch_specialistische_zorg"].sum() == 1010 + 500


def test_truncated_2023_names_resolve() -> None:
    assert (
        canonical_column("kosten_medisch_specialistische_z", "f") == "medisch_specialistische_zorg"
    )
    assert canonical_column("kosten_paramedische_zorg_fysioth", "f") == (
        "paramedische_zorg_fysiotherapie"
    )
    with pytest.raises(DataError, match="unknown cost column"):
        canonical_column("kosten_nieuw", "f")


def test_truncated_file_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, *ROWS[:2], "V;90+;VAA"])
    with pytest.raises(DataError, match=r"v\.csv: line 4: 3 fields, expected 7"):
        parse_vektis(path, 2011)


def test_wrong_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER.replace(";", ","), *(r.replace(";", ",") for r in ROWS)])
    with pytest.raises(
        DataError, match=r"line 1: expected ';'-separated header, found delimiter ,"
    ):
        parse_vektis(path, 2011)


def test_duplicated_row_names_lines_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, *ROWS, ROWS[2]])
    with pytest.raises(
        DataError, match=r"lines \[4, 5\]: duplicated row for key \(VAALS, V, 90\+\)"
    ):
        parse_vektis(path, 2011)


def test_non_numeric_cell(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, ROWS[0], ROWS[1].replace("10.10", "1O.1")])
    with pytest.raises(DataError, match="line 3: column medisch_specialistische_zorg"):
        parse_vektis(path, 2011)


def test_missing_residual_row(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="exactly one residual row"):
        parse_vektis(write(tmp_path, [HEADER, *ROWS[1:]]), 2011)


def test_normalise_name() -> None:
    assert normalise_name("Súdwest-Fryslân") == "SUDWEST FRYSLAN"
    assert normalise_name("'s-Gravenhage") == normalise_name("S GRAVENHAGE")


def test_unknown_municipality_name(mirror_dir: Path, tmp_path: Path) -> None:
    cbs = mirror_dir / "cbs"
    geo = build_geography(
        cbs / "gemeenten-alfabetisch-2021.csv",
        cbs / "gemeenten-alfabetisch-2023.csv",
        population_2009(cbs / "80860ned.csv"),
    )
    assert geo.code_of("BERGEN LB", "x") == "GM0893"
    assert geo.code_of("NUENEN CA", "x") == "GM0820"
    parsed = parse_vektis(write(tmp_path, [HEADER, *ROWS, "M;90+;ATLANTIS;1;1;1;1"]), 2011)
    with pytest.raises(DataError, match=r"v\.csv: line 5: unknown municipality name 'ATLANTIS'"):
        harmonise_cells(parsed.cells, geo, "v.csv")
    # Haaren is split with shares and still conserves exact cents.
    haaren = parse_vektis(
        write(tmp_path, [HEADER, ROWS[0], "M;90+;HAAREN;7;3.33;100.01;0.07"]), 2011
    )
    out = harmonise_cells(haaren.cells, geo, "v.csv")
    assert set(out["municipality"]) == {"GM0865", "GM0824", "GM0855", "GM0757"}
    assert out["medisch_specialistische_zorg"].sum() == 10001 and out["farmacie"].sum() == 7
