"""The analysis plan: the committed plan is valid, and invalid plans are refused by key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proeftuin.core import settings
from proeftuin.pipeline.plan import PlanError, load_plan

PLAN = yaml.safe_load(settings.plan_path().read_text(encoding="utf-8"))


def _write(tmp_path: Path, plan: dict) -> Path:
    path = tmp_path / "analysis.yml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def _problems(tmp_path: Path, **changes: object) -> str:
    plan = {**PLAN, **changes}
    with pytest.raises(PlanError) as caught:
        load_plan(_write(tmp_path, plan))
    return str(caught.value)


def test_committed_plan_is_valid_and_expands_into_tasks() -> None:
    plan = load_plan()
    tasks = plan.tasks()
    assert len(tasks) == len(plan.sites) * len(plan.designs) + 2
    assert [t.name for t in tasks[-2:]] == ["validation/validation", "synthesis/synthesis"]
    assert set(tasks[-1].depends_on) == {t.name for t in tasks[:-2]}
    first = tasks[0].parameters
    assert first["outcomes"] == plan.outcomes and first["seed"] == PLAN["defaults"]["seed"]
    assert first["start_year"] > first["first_year"]


def test_site_overrides_and_outcome_selection(tmp_path: Path) -> None:
    sites = {"vechtdal": {"draws": 199, "control_pool": "province"}, "zeeuws-vlaanderen": {}}
    plan = load_plan(_write(tmp_path, {**PLAN, "sites": sites}))
    [did] = [t for t in plan.tasks(["vechtdal"], ["cost_basket_std"]) if t.notebook == "did_site"]
    assert did.parameters["draws"] == 199 and did.parameters["control_pool"] == "province"
    assert did.parameters["outcomes"] == ["cost_basket_std"]
    # an outcome subset never replaces the full results: it has its own folder
    subset = settings.executed_dir() / "subsets" / "cost_basket_std"
    assert did.executed_path == subset / "vechtdal" / "did_site.ipynb"
    [full] = [t for t in plan.tasks(["vechtdal"]) if t.notebook == "did_site"]
    assert full.executed_path == settings.executed_dir() / "vechtdal" / "did_site.ipynb"


def test_unknown_site_is_named_with_a_suggestion(tmp_path: Path) -> None:
    message = _problems(tmp_path, sites={"vechtdaal": {}})
    assert "sites: unknown name 'vechtdaal'; did you mean 'vechtdal'?" in message


def test_unknown_outcome_lists_the_allowed_names(tmp_path: Path) -> None:
    message = _problems(tmp_path, outcomes=["cost_basket_std", "cost_hosptal"])
    assert "outcomes: unknown name 'cost_hosptal'; did you mean 'cost_hospital'?" in message
    assert "allowed:" in message and "health_good_pct" in message


def test_period_outside_the_data(tmp_path: Path) -> None:
    # the mortality series start in 1996, so the data run 1996-2023
    message = _problems(tmp_path, periods={"first_year": 1990, "last_year": 2023})
    assert "periods.first_year: 1990 is outside the data (1996-2023)" in message


def test_start_year_outside_the_period(tmp_path: Path) -> None:
    message = _problems(tmp_path, sites={"vechtdal": {"start_year": 2011}})
    assert "sites.vechtdal.start_year: 2011 must fall after periods.first_year" in message


def test_wrong_types_and_values_name_their_key(tmp_path: Path) -> None:
    defaults = {**PLAN["defaults"], "draws": "many", "control_pool": "nearby"}
    message = _problems(tmp_path, defaults=defaults, extra_key=1)
    assert "defaults.draws: Input should be a valid integer" in message
    assert "defaults.control_pool: Input should be 'all', 'province'" in message
    assert "extra_key: unknown key" in message


def test_unknown_design_and_missing_file(tmp_path: Path) -> None:
    message = _problems(tmp_path, designs=["did_stie"])
    assert "designs: unknown name 'did_stie'; did you mean 'did_site'?" in message
    with pytest.raises(PlanError, match="file not found"):
        load_plan(tmp_path / "nope.yml")


def test_cli_refuses_an_invalid_plan_before_any_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from proeftuin.cli import app

    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    (tmp_path / "notebooks").symlink_to(Path(__file__).parents[1] / "notebooks")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sites").symlink_to(Path(__file__).parents[1] / "data" / "sites")
    reference = Path(__file__).parents[1] / "data" / "reference"
    (tmp_path / "data" / "reference").symlink_to(reference)
    _write(tmp_path, {**PLAN, "outcomes": ["cost_basket_std", "costs"]})
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "outcomes: unknown name 'costs'" in result.output
    assert not (tmp_path / "reports").exists()


def test_pooled_design_defaults_to_did_and_is_validated(tmp_path: Path) -> None:
    plan = load_plan()
    assert set(plan.pooled_design.values()) == {"did"}
    assert plan.tasks()[-1].parameters["pooled_design"] == plan.pooled_design
    chosen = load_plan(_write(tmp_path, {**PLAN, "pooled_design": {"cost_basket_std": "sdid"}}))
    assert chosen.pooled_design["cost_basket_std"] == "sdid"
    assert chosen.pooled_design["hospital_gp_ratio"] == "did"
    assert chosen.hash() != plan.hash()
    message = _problems(tmp_path, pooled_design={"cost_basket_std": "synthetic"})
    assert "pooled_design.cost_basket_std: Input should be 'did', 'sdid' or 'sc'" in message
    message = _problems(tmp_path, pooled_design={"cost_basket": "sdid"})
    assert "pooled_design: unknown name 'cost_basket'; did you mean 'cost_basket_std'?" in message
    designs = [d for d in PLAN["designs"] if d != "synth_site"]
    message = _problems(tmp_path, designs=designs, pooled_design={"cost_basket_std": "sc"})
    assert "pooled_design.cost_basket_std: sc needs 'synth_site' under designs" in message


def test_outcomes_have_their_own_period_within_their_data(tmp_path: Path) -> None:
    plan = load_plan()
    [its] = [t for t in plan.tasks(["vechtdal"]) if t.notebook == "its_site"]
    assert its.parameters["outcome_periods"]["mortality_all_per_1000"] == [1996, 2018]
    assert "cost_basket_std" not in its.parameters["outcome_periods"]  # the plan's 2011-2023
    assert (its.parameters["first_year"], its.parameters["last_year"]) == (2011, 2023)
    periods = {**PLAN["periods"], "outcomes": {"mortality_all_per_1000": {"first_year": 1990}}}
    message = _problems(tmp_path, periods=periods)
    assert (
        "periods.outcomes.mortality_all_per_1000.first_year: 1990 is outside the data of "
        "mortality_all_per_1000 (1996-2018)" in message
    )
    periods = {**PLAN["periods"], "outcomes": {"mortality_al_per_1000": {"first_year": 1996}}}
    assert "periods.outcomes: unknown name 'mortality_al_per_1000'" in _problems(
        tmp_path, periods=periods
    )


def test_an_outcome_without_data_in_the_period_is_refused(tmp_path: Path) -> None:
    periods = {"first_year": 2019, "last_year": 2023}
    outcomes = ["cost_basket_std", "mortality_all_per_1000"]
    message = _problems(tmp_path, periods=periods, outcomes=outcomes, sites={"vechtdal": {}})
    assert "outcomes: mortality_all_per_1000 has no data in periods 2019-2023" in message
    late = {"outcomes": {"mortality_all_per_1000": {"first_year": 2014, "last_year": 2018}}}
    message = _problems(tmp_path, periods={**PLAN["periods"], **late}, sites={"vechtdal": {}})
    assert "sites.vechtdal.start_year: 2013 must fall after periods.outcomes." in message


def test_a_plan_with_the_old_regions_key_is_told_the_new_name(tmp_path: Path) -> None:
    message = _problems(tmp_path, regions={"vechtdal": {}})
    assert "regions: unknown key (now called 'sites')" in message
