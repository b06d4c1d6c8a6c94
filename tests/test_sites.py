"""Registry validation and control pools."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from proeftuin.data.sites import CONTROL_POOLS, control_pool, load_registry
from proeftuin.sources import DataError

REGISTRY = Path(__file__).parents[1] / "data" / "sites" / "pioneer_sites.yml"
SITE = """sites:
  {sid}:
    name: X
    municipalities: [{codes}]
    start_year: 2013
    lead_insurer: CZ
    status: confirmed
    sources: {{site: s, municipalities: s, start_year: s, lead_insurer: s}}
"""
COV = pd.DataFrame(
    {
        "municipality": ["GM0001", "GM0002", "GM0003", "GM0004", "GM0005"],
        "province": ["A", "A", "B", "A", "B"],
        "care_office_region": ["Z1", "Z1", "Z2", "Z2", "Z2"],
        "corop_region": ["C1", "C1", "C2", "C3", "C2"],
        "population_2009": [10.0, 11.0, 500.0, 12.0, 9.0],
        "share_65plus_2009": [0.2, 0.21, 0.1, 0.12, 0.19],
    }
)


def registry(tmp_path: Path, text: str):
    path = tmp_path / "r.yml"
    path.write_text(text)
    return load_registry(path, known_codes=set(COV["municipality"]))


def test_real_registry_has_the_five_sites_with_sourced_facts(mirror_dir: Path) -> None:
    cov = pd.read_csv(mirror_dir / "cbs" / "gemeenten-alfabetisch-2023.csv", dtype=str).rename(
        columns={"GemeentecodeGM": "municipality", "Gemeentenaam": "name"}
    )
    reg = load_registry(REGISTRY, known_codes=set(cov["municipality"]))
    assert {
        "maastricht-heuvelland",
        "oostelijk-zuid-limburg",
        "vechtdal",
        "zeeuws-vlaanderen",
        "slimmer-met-zorg",
    } <= set(reg.sites)
    assert all(s.status in ("confirmed", "unverified") for s in reg.sites.values())
    names = cov.set_index("municipality")["name"]
    for site in reg.sites.values():
        assert [names[c] for c in site.municipalities] == site.municipality_names
        assert [names[c] for c in site.later_municipalities] == site.later_municipality_names
        assert site.start_year_reason, site.id  # the start the analysis uses, and why
        if site.pioneer_period:  # the analysis starts in the Pioneer period's first year
            assert site.start_year == site.pioneer_period[0], site.id
        for fact in ("site", "start_year", "coverage"):
            assert fact in site.sources, (site.id, fact)
    # the facts issue 11 asked to verify, each with its web source
    blauwe = reg.sites["maastricht-heuvelland"]
    assert blauwe.start_year == 2013 and blauwe.coverage.covered == 170_000
    assert "rivm.nl/blauwe-zorg" in blauwe.sources["coverage"]
    mijnzorg = reg.sites["oostelijk-zuid-limburg"]
    assert (mijnzorg.initiative_start, mijnzorg.pioneer_period) == (2012, (2014, 2017))
    assert "mijnzorg-ozl.nl" in mijnzorg.sources["pioneer_period"]
    assert reg.sites["zeeuws-vlaanderen"].pioneer_period == (2014, 2017)
    assert reg.sites["vechtdal"].initiative_start == 2012
    smz = reg.sites["slimmer-met-zorg"]
    assert smz.municipalities_approximate and smz.fact_status["municipalities"] == "unverified"
    assert 0 < smz.coverage_share() < 1 and smz.status == "unverified"


def test_every_site_and_later_member_is_out_of_every_pool(mirror_dir: Path) -> None:
    cov = pd.read_csv(mirror_dir / "cbs" / "gemeenten-alfabetisch-2023.csv", dtype=str)
    reg = load_registry(REGISTRY, known_codes=set(cov["GemeentecodeGM"]))
    covariates = pd.DataFrame({"municipality": cov["GemeentecodeGM"]})
    covariates["corop_region"] = "C"
    excluded = {"GM0772", "GM0861", "GM0148"}  # Eindhoven, Veldhoven; Dalfsen joined Vechtdal
    westelijke_mijnstreek = {"GM0888", "GM1883", "GM0971", "GM1954"}  # Anders Beter's region
    for site_id in reg.sites:
        pool = set(control_pool(reg, site_id, covariates))
        assert not pool & excluded and not pool & reg.pioneer_municipalities()
        assert not pool & westelijke_mijnstreek and not pool & set(reg.contested)
        assert len(pool) == 342 - len(reg.excluded_from_controls())
        back = set(control_pool(reg, site_id, covariates, initiatives="included"))
        assert back - pool == {"GM0888", "GM1883", "GM0971", "GM0823", "GM0847"}
        assert len(back) == 342 - len(reg.pioneer_municipalities())  # the pools before
        strict = set(control_pool(reg, site_id, covariates, initiatives="strict"))
        assert pool - strict == {"GM0118"}  # Hoogeveen: unverified initiative, out only here


def test_issue_26_facts_are_sourced() -> None:
    reg = load_registry(REGISTRY)
    blauwe = reg.sites["maastricht-heuvelland"]
    assert blauwe.lead_insurer == "VGZ" and "lead_insurer" not in blauwe.fact_status
    assert "Zorgverzekeraar VGZ" in blauwe.sources["lead_insurer"]
    assert reg.sites["zeeuws-vlaanderen"].fact_status == {}  # CZ now sourced
    vaals, beekdaelen = reg.contested["GM0981"], reg.contested["GM1954"]
    assert vaals.default == "maastricht-heuvelland" and "rosrobuust.nl" in str(vaals.sources)
    assert vaals.fact_status["assignment"] == "unverified"
    assert set(beekdaelen.alternatives) == {"drop", "anders-beter"}
    assert sum(beekdaelen.population_2013.values()) == 36_349
    anders = reg.other_initiatives["anders-beter"]
    assert anders.exclude_from_controls == "default" and anders.lead_insurer == "CZ"
    assert "vanaf begin 2013" in anders.sources["initiative"]
    assert anders.fact_status["municipalities"] == "unverified"
    assert reg.other_initiatives["kans-voor-de-veenkolonien"].status == "unverified"


def test_reassigning_a_contested_municipality_moves_it_between_sites() -> None:
    reg = load_registry(REGISTRY)
    moved = reg.reassigned("GM0981", "oostelijk-zuid-limburg")
    assert "GM0981" not in moved.sites["maastricht-heuvelland"].municipalities
    assert "GM0981" in moved.sites["oostelijk-zuid-limburg"].municipalities
    dropped = reg.reassigned("GM1954", "drop")
    assert all("GM1954" not in s.municipalities for s in dropped.sites.values())
    assert "GM1954" in reg.sites["oostelijk-zuid-limburg"].municipalities  # a copy


def test_other_sections_are_validated(tmp_path: Path) -> None:
    base = SITE.format(sid="a", codes="GM0001, GM0002")
    initiative = (
        "other_initiatives:\n  x:\n    name: X\n    municipalities: [{codes}]\n"
        "    years: [2013, 2020]\n    exclude_from_controls: {rule}\n    status: {status}\n"
        "    sources: {{initiative: s, municipalities: s, years: s}}\n"
    )
    ok = registry(
        tmp_path, base + initiative.format(codes="GM0003", rule="default", status="confirmed")
    )
    assert ok.excluded_from_controls() == {"GM0001", "GM0002", "GM0003"}
    with pytest.raises(DataError, match="initiative x: GM0002 is in site a"):
        registry(
            tmp_path, base + initiative.format(codes="GM0002", rule="default", status="confirmed")
        )
    with pytest.raises(DataError, match="unverified initiative is excluded only in a variant"):
        registry(
            tmp_path, base + initiative.format(codes="GM0003", rule="default", status="unverified")
        )
    contested = (
        "contested_municipalities:\n  rule: r\n  entries:\n    - code: GM0002\n"
        "      name: Two\n      default: {default}\n      alternatives: [drop]\n"
        "      basis: b\n      sources: {{a: s}}\n"
    )
    reg = registry(tmp_path, base + contested.format(default="a"))
    assert set(reg.contested) == {"GM0002"} and reg.reassigned("GM0002", "drop").sites[
        "a"
    ].municipalities == ["GM0001"]
    with pytest.raises(DataError, match="contested Two: not a municipality of site 'b'"):
        registry(tmp_path, base + contested.format(default="b"))


def test_coverage_and_dates_are_checked(tmp_path: Path) -> None:
    share = SITE.format(sid="a", codes="GM0001") + "    coverage: {population: share}\n"
    with pytest.raises(DataError, match=r"site a: coverage: coverage 'share' needs the covered"):
        registry(tmp_path, share)
    late = SITE.format(sid="a", codes="GM0001") + "    initiative_start: 2014\n"
    with pytest.raises(DataError, match="site a: entry: start_year 2013 before initiative_start"):
        registry(tmp_path, late)
    unsourced = SITE.format(sid="a", codes="GM0001") + "    pioneer_period: [2013, 2017]\n"
    with pytest.raises(DataError, match=r"site a: no source for \['pioneer_period'\]"):
        registry(tmp_path, unsourced)
    approximate = SITE.format(sid="a", codes="GM0001") + "    municipalities_approximate: true\n"
    with pytest.raises(DataError, match="approximate municipalities must be marked unverified"):
        registry(tmp_path, approximate)
    with pytest.raises(DataError, match=r"r\.yml: line \d+: not valid YAML"):
        registry(tmp_path, SITE.format(sid="a", codes="GM0001") + "  b: [\n")


def test_later_member_cannot_be_in_another_site(tmp_path: Path) -> None:
    text = SITE.format(sid="a", codes="GM0001") + "    later_municipalities: [GM0002]\n"
    text += "    sources: {site: s, municipalities: s, start_year: s, lead_insurer: s,"
    text += " later_municipalities: s}\n"
    text = text.replace(
        "    sources: {site: s, municipalities: s, start_year: s, lead_insurer: s}\n", "", 1
    )
    text += SITE.format(sid="b", codes="GM0002")[7:]
    with pytest.raises(DataError, match="GM0002 is in two sites: a and b"):
        registry(tmp_path, text)


def test_unknown_code_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="site a: unknown municipality code GM9999"):
        registry(tmp_path, SITE.format(sid="a", codes="GM0001, GM9999"))


def test_municipality_in_two_sites_is_rejected(tmp_path: Path) -> None:
    text = SITE.format(sid="a", codes="GM0001") + SITE.format(sid="b", codes="GM0001")[7:]
    with pytest.raises(DataError, match="GM0001 is in two sites: a and b"):
        registry(tmp_path, text)


def test_control_pools(tmp_path: Path) -> None:
    reg = registry(tmp_path, SITE.format(sid="a", codes="GM0001"))
    assert control_pool(reg, "a", COV) == ["GM0002", "GM0003", "GM0004", "GM0005"]
    assert control_pool(reg, "a", COV, "province") == ["GM0002", "GM0004"]
    assert control_pool(reg, "a", COV, "care_office") == ["GM0002"]
    assert "GM0003" not in control_pool(reg, "a", COV, "size")
    assert control_pool(reg, "a", COV, buffer=True) == ["GM0003", "GM0004", "GM0005"]
    assert set(CONTROL_POOLS) == {"all", "province", "care_office", "size", "age"}
    with pytest.raises(ValueError, match="allowed: all, province"):
        control_pool(reg, "a", COV, "nearby")


def test_curated_municipality_list_is_the_cbs_2023_list(mirror_dir: Path) -> None:
    cbs = pd.read_csv(mirror_dir / "cbs" / "gemeenten-alfabetisch-2023.csv", dtype=str)
    curated = pd.read_csv(REGISTRY.parents[1] / "reference" / "municipalities_2023.csv", dtype=str)
    assert len(curated) == 342
    codes, names = cbs["GemeentecodeGM"].str.strip(), cbs["Gemeentenaam"].str.strip()
    expected = dict(zip(codes, names, strict=True))
    assert dict(zip(curated["code"], curated["name"], strict=True)) == expected


def test_registry_codes_are_checked_without_any_built_data(tmp_path: Path, monkeypatch) -> None:
    """No data/processed in the project: an unknown code is still refused (not skipped)."""
    root = tmp_path / "project"
    (root / "data" / "reference").mkdir(parents=True)
    reference = REGISTRY.parents[1] / "reference" / "municipalities_2023.csv"
    (root / "data" / "reference" / "municipalities_2023.csv").write_text(reference.read_text())
    monkeypatch.setenv("PROEFTUIN_ROOT", str(root))
    path = tmp_path / "r.yml"
    path.write_text(SITE.format(sid="a", codes="GM0935, GM9999"))
    with pytest.raises(DataError, match="site a: unknown municipality code GM9999"):
        load_registry(path)
    path.write_text(SITE.format(sid="a", codes="GM0935"))
    assert load_registry(path).sites["a"].municipalities == ["GM0935"]
