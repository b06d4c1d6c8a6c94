"""Real-data tests of the panel build (mirror): coverage, conservation, interface."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from proeftuin.data import outcomes, panel
from proeftuin.sources import ChecksumMismatch, DataError

YEARS = range(2011, 2024)


@pytest.fixture(scope="session")
def built(built_panel):
    root, build = built_panel
    processed = root / "data" / "processed"
    return (
        build,
        panel.load_panel(processed / "panel.parquet"),
        panel.load_covariates(processed / "covariates.parquet"),
    )


def raw_totals(path: Path) -> tuple[Decimal, Decimal]:
    """Total cost and insured-years of a raw Vektis file, computed independently."""
    lines = path.read_text().splitlines()
    header = [h.lower() for h in lines[0].split(";")]
    iy = header.index("aantal_verzekerdejaren")
    costs = [i for i, h in enumerate(header) if h.startswith("kosten_")]
    cost = years = Decimal(0)
    for line in lines[1:]:
        fields = line.split(";")
        years += Decimal(fields[iy])
        cost += sum((Decimal(fields[i]) for i in costs), Decimal(0))
    return cost, years


def test_panel_covers_342_municipalities_and_13_years(built) -> None:
    _, p, cov = built
    assert p["municipality"].nunique() == 342 and len(cov) == 342
    vek = p[p["outcome"] == "cost_basket"]
    assert sorted(vek["year"].unique()) == list(YEARS)
    assert vek["value"].notna().all() and len(vek) == 342 * 13
    assert not p.duplicated(["municipality", "year", "outcome"]).any()


@pytest.mark.parametrize("year", YEARS)
def test_conservation_to_the_cent(built, mirror_dir: Path, year: int) -> None:
    build, p, _ = built
    cost, years = raw_totals(mirror_dir / "vektis" / f"vektis_{year}_gemeente.csv")
    tot = build.manifest["vektis_totals"][str(year)]
    rows = p[p["year"] == year].set_index(["municipality", "outcome"])["value"]
    panel_cost = round(rows.xs("total_cost_all", level="outcome").sum() * 100)
    panel_years = round(rows.xs("insured_years", level="outcome").sum() * 100)
    assert panel_cost + tot["residual_cost_cents"] == int(cost * 100)
    assert panel_years + tot["residual_insured_years_x100"] == int(years * 100)


def test_merged_municipality_sums_its_parts(built, mirror_dir: Path) -> None:
    _, p, _ = built
    raw = pd.read_csv(mirror_dir / "vektis" / "vektis_2018_gemeente.csv", sep=";")
    parts = raw[raw["GEMEENTENAAM"].isin(["APPINGEDAM", "DELFZIJL", "LOPPERSUM"])]
    got = p.query("municipality == 'GM1979' and year == 2018 and outcome == 'insured_years'")
    assert got["value"].iloc[0] == pytest.approx(parts["AANTAL_VERZEKERDEJAREN"].sum(), abs=0.005)


def test_outcomes_match_dictionary_and_interface(built) -> None:
    build, p, cov = built
    assert set(p["outcome"]) == set(outcomes.OUTCOMES)
    assert {"cost_basket_std", "cost_hospital_std", "cost_gp_std", "cost_pharmacy_std"} <= set(
        p["outcome"]
    )
    assert list(p.columns[:6]) == ["municipality", "name", "year", "outcome", "value", "weight"]
    dictionary = pd.read_csv(build.panel_path.with_name("dictionary.csv"))
    assert set(dictionary["dimension"]) == {"costs", "quality", "health"}
    assert panel.source_checksums(build.panel_path.with_name("manifest.json")) == (
        build.source_checksums
    )
    assert {"province", "ggd_region", "care_office_region", "share_65plus_2009"} <= set(cov)
    assert cov["share_65plus_2009"].between(0.05, 0.35).all()


def test_standardised_close_to_crude_nationally(built) -> None:
    _, p, _ = built
    w = p[p["outcome"].isin(["cost_basket", "cost_basket_std"]) & (p["year"] == 2015)]
    means = w.groupby("outcome").apply(
        lambda g: (g["value"] * g["weight"]).sum() / g["weight"].sum()
    )
    assert means["cost_basket_std"] == pytest.approx(means["cost_basket"], rel=0.02)


def test_health_waves_keep_bounds(built) -> None:
    _, p, _ = built
    h = p[(p["outcome"] == "health_good_pct")].dropna(subset=["value"])
    assert sorted(h["year"].unique()) == [2012, 2016, 2020, 2022]
    assert ((h["ci_low"] <= h["value"]) & (h["value"] <= h["ci_high"])).all()
    assert h["value"].between(40, 100).all()


def test_rebuild_is_skipped_and_deterministic(
    built_panel, mirror_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, build = built_panel
    monkeypatch.setenv("PROEFTUIN_ROOT", str(root))
    again = panel.build_panel(mirror_dir, progress=False)
    assert not again.rebuilt
    assert again.source_checksums == build.source_checksums


def test_checksum_mismatch_names_file_and_sums(tmp_path: Path, mirror_dir: Path) -> None:
    from proeftuin.sources.fetch import acquire, checksum_table

    (tmp_path / "vektis").mkdir()
    bad = tmp_path / "vektis" / "vektis_2011_gemeente.csv"
    bad.write_text((mirror_dir / "vektis" / bad.name).read_text()[:-10])
    with pytest.raises(ChecksumMismatch) as err:
        acquire("vektis", bad.name, tmp_path, table=checksum_table())
    message = str(err.value)
    assert bad.name in message and "aa1c36a07e87" in message and "re-published" in message
    assert isinstance(err.value, DataError)


def test_cli_data_error_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from proeftuin.cli import app

    monkeypatch.setenv("PROEFTUIN_ROOT", str(tmp_path))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reference").symlink_to(Path(__file__).parents[1] / "data" / "reference")
    result = CliRunner().invoke(app, ["data", "--mirror", str(tmp_path / "empty-mirror")])
    assert result.exit_code == 2
    assert "data mirror" in (out := " ".join(result.stderr.split())) and "empty-mirror" in out
    assert "is not a folder" in out  # the folder is named, not its first file
    assert "Traceback" not in result.output
