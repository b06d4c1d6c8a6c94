"""The facts snapshot (``reports/results/facts.json``): what the report prints about sites
and outcomes, taken from the plan, the registry and the catalogue when a run starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proeftuin.core import settings
from proeftuin.data.outcomes import get_outcome
from proeftuin.data.sites import load_registry
from proeftuin.pipeline import facts
from proeftuin.pipeline.plan import load_plan


def test_the_snapshot_holds_every_plan_site_and_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load_plan()
    monkeypatch.setattr(settings, "results_dir", lambda: tmp_path)
    path = facts.write_facts(plan)
    assert path == tmp_path / "facts.json"
    snapshot = facts.read_facts(path)
    assert [s.id for s in snapshot.sites] == plan.sites
    registry = load_registry().sites
    for site in snapshot.sites:
        known = registry[site.id]
        assert site.name == known.name and site.lead_insurer == known.lead_insurer
        assert [m.code for m in site.municipalities] == known.municipalities
        assert [m.name for m in site.municipalities] == known.municipality_names
        assert list(site.sources.items()) == list(known.sources.items())  # the registry's order
        assert site.status == known.status
        settings_ = plan.site_settings(site.id)
        assert site.start_year == settings_["start_year"]
        assert site.parameters.seed == settings_["seed"] and site.parameters.draws > 0
        assert site.parameters.first_year == plan.spec.periods.first_year
    assert [o.name for o in snapshot.outcomes] == plan.outcomes
    for outcome in snapshot.outcomes:
        known = get_outcome(outcome.name)
        assert (outcome.label, outcome.unit, outcome.dimension) == (
            known.label,
            known.unit,
            known.dimension,
        )
        assert outcome.better == ("higher" if known.higher_is_better else "lower")
        assert outcome.label_nl == known.label_nl != ""  # the samenvatting's Dutch label
    assert json.loads(path.read_text())["schema_version"] == facts.SCHEMA_VERSION


def test_no_snapshot_yet_reads_as_empty(tmp_path: Path) -> None:
    empty = facts.read_facts(tmp_path / "facts.json")
    assert empty.sites == [] and empty.outcomes == []
    assert empty.site("vechtdal") is None and empty.outcome("cost_basket_std") is None


def test_the_snapshot_shows_the_exclusions_and_the_published_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "results_dir", lambda: tmp_path)
    snapshot = facts.read_facts(facts.write_facts(load_plan()))
    westelijke_mijnstreek = {"GM0888", "GM1883", "GM0971", "GM1954"}
    assert westelijke_mijnstreek <= set(snapshot.excluded_from_controls)
    assert set(snapshot.excluded_from_controls) == load_registry().excluded_from_controls()
    assert [o.id for o in snapshot.other_initiatives][0] == "anders-beter"
    assert {c.name for c in snapshot.contested} == {"Vaals", "Beekdaelen"}
    assert "majority of its" in snapshot.contested_rule
    blauwe = snapshot.site("maastricht-heuvelland")
    assert blauwe is not None and blauwe.lead_insurer == "VGZ"
    assert blauwe.claims and all(c.source_url.startswith("http") for c in blauwe.claims)
    assert any("rivm.nl/blauwe-zorg" in c.source_url for c in blauwe.claims)
