"""The long annual CBS series (deaths by cause, population since 1960, the name bridge and
the municipality changes): parsed from the mirror, verified, and clear errors on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from proeftuin.sources import ChecksumMismatch, DataError, cbs
from proeftuin.sources.fetch import acquire, checksum_table

LONG_FILES = (
    cbs.DEATHS_FILE,
    cbs.POPULATION_1960_FILE,
    cbs.REGION_METADATA_FILE,
    cbs.CHANGES_FILE,
)


@pytest.mark.parametrize("name", LONG_FILES)
def test_recorded_with_checksum_and_official_source(mirror_dir: Path, name: str) -> None:
    record = checksum_table()[("cbs", name)]
    assert record.url.startswith("https://opendata.cbs.nl/ODataApi/odata/")
    path, sha = acquire("cbs", name, mirror_dir)
    assert sha == record.sha256 and path.parent == mirror_dir / "cbs"


def test_changed_copy_is_rejected(mirror_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "cbs").mkdir()
    data = (mirror_dir / "cbs" / cbs.DEATHS_FILE).read_bytes()
    (tmp_path / "cbs" / cbs.DEATHS_FILE).write_bytes(data.replace(b"137561.0", b"137562.0", 1))
    with pytest.raises(ChecksumMismatch, match="80142ned.*checksum mismatch"):
        acquire("cbs", cbs.DEATHS_FILE, tmp_path)


def test_deaths_by_cause(mirror_dir: Path) -> None:
    deaths = cbs.deaths_by_cause(mirror_dir / "cbs" / cbs.DEATHS_FILE)
    assert deaths["year"].min() == 1996 and deaths["year"].max() == 2019
    nl = deaths[deaths["region"] == "Nederland"].set_index("year")
    # the national totals CBS publishes
    assert nl.loc[2013, "deaths_all"] == 141245 and nl.loc[2015, "deaths_all"] == 147134
    causes = [f"deaths_{c}" for c in cbs.DEATH_COLUMNS.values() if c != "all"]
    assert (nl[causes].sum(axis=1) == nl["deaths_all"]).all()


def test_population_and_bridge(mirror_dir: Path) -> None:
    pop = cbs.population_1january(mirror_dir / "cbs" / cbs.POPULATION_1960_FILE)
    assert pop.groupby("year")["population"].sum()[2013] == 16779575
    names = cbs.region_names(mirror_dir / "cbs" / cbs.REGION_METADATA_FILE)
    by_name = names.set_index("name")["code"]
    assert by_name["Bergen (NH.)"] == "GM0373" and by_name["Bergen (L.)"] == "GM0893"
    changes = cbs.municipality_changes(mirror_dir / "cbs" / cbs.CHANGES_FILE)
    assert not changes["old_code"].duplicated().any()
    assert changes.set_index("old_code").loc["GM0143", "code_2018"] == "GM0160"  # Avereest


def test_bad_year_names_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        '"ID";"Geslacht";"RegioS";"Perioden";"BevolkingOp1Januari_1"\n'
        '"1";"T001038";"GM0003";"2015JJ00";"100"\n"2";"T001038";"GM0003";"2016";"101"\n'
    )
    with pytest.raises(DataError, match=r"p\.csv: line 3: column Perioden: expected a year"):
        cbs.population_1january(path)


def test_bad_code_and_number_name_line(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(
        "Bestaan tot;Eindjaar;Oude;Nieuwe;Huidige code;Huidige naam\n"
        "1-1-2001;2001;GM0143;GM0160;GM0160;Hardenberg\n1-1-2001;2001;0157;GM0160;GM0160;X\n",
        encoding="latin-1",
    )
    with pytest.raises(DataError, match=r"w\.csv: line 3: column Oude: expected a GM code"):
        cbs.municipality_changes(path)
    deaths = tmp_path / "d.csv"
    header = ";ID;RegioS;Perioden;" + ";".join(cbs.DEATH_COLUMNS)
    deaths.write_text(header + "\n0;0;Nederland;1996;1.0;x;1;1;1;1\n")
    with pytest.raises(DataError, match=r"d\.csv: line 2: column Nieuwvormingen_2: expected a"):
        cbs.deaths_by_cause(deaths)


def test_bridge_without_section(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text('"TableInfos"\n"ID";"Title"\n"0";"x"\n')
    with pytest.raises(DataError, match='m\\.csv: expected one section "RegioS"'):
        cbs.region_names(path)
