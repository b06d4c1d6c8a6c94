"""Notebook templates: committed without outputs, a typed `parameters` cell, labelled figures,
no business logic; and one template executed end to end on the real panel."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from conftest import REPO, link_project
from proeftuin import pipeline
from proeftuin.core import settings
from proeftuin.pipeline.plan import load_plan

TEMPLATES = sorted((REPO / "notebooks").glob("*.ipynb"))
LABELS = {
    "did_site": {"fig-trends", "fig-event-study", "tbl-did-estimates", "tbl-did-sensitivity"},
    "its_site": {"fig-its", "fig-its-placebo", "fig-its-smr-crude", "tbl-its-estimates"},
    "synthesis": {
        "fig-forest", "tbl-pooled", "fig-scorecard", "tbl-scorecard", "fig-designs", "tbl-designs",
    },
    "robustness_site": {"fig-robustness", "fig-placebo", "tbl-robustness", "fig-decomposition"},
    "validation": {"fig-validation", "tbl-validation"},
    "synth_site": {
        "fig-synth", "fig-synth-placebo", "tbl-synth-fit", "tbl-synth-donors",
        "tbl-synth-time-weights", "tbl-synth-estimates",
    },
}  # fmt: skip


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    for cell in _code_cells(path):
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_typed_parameters_cell_first(path: Path) -> None:
    cells = _code_cells(path)
    assert "parameters" in cells[0].metadata.get("tags", [])
    tree = ast.parse(cells[0].source)
    assert tree.body and all(isinstance(node, ast.AnnAssign) for node in tree.body)
    assert "results_dir" in {node.target.id for node in tree.body}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.stem)
def test_labelled_outputs_and_no_business_logic(path: Path) -> None:
    cells = _code_cells(path)
    labels = {
        line.split(":", 1)[1].strip()
        for cell in cells
        for line in cell.source.splitlines()
        if line.startswith("#| label:")
    }
    assert labels == LABELS[path.stem]
    for cell in cells:
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        loops = [n for n in ast.walk(tree) if isinstance(n, ast.For | ast.While)]
        assert not defs and not loops, f"{path.name}: logic belongs in src/proeftuin"


def test_plan_parameters_match_the_templates() -> None:
    plan = load_plan()
    for task in plan.tasks():
        tree = ast.parse(_code_cells(task.template)[0].source)
        declared = {node.target.id for node in tree.body}
        assert set(task.parameters) | {"results_dir"} == declared, task.name


@pytest.mark.slow
def test_site_notebooks_run_end_to_end_on_the_mirror(
    built_panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One site, every design and the synthesis, through the real runner and kernel."""
    panel_root, _ = built_panel
    root = link_project(tmp_path, panel_root)
    monkeypatch.setenv(settings.ROOT_ENV, str(root))
    plan_file = yaml.safe_load((REPO / "analysis.yml").read_text())
    plan_file["sites"] = {"vechtdal": {}}
    plan_file["outcomes"] = ["cost_basket_std", "admissions_per_1000"]
    plan_file["defaults"]["draws"] = 199
    (root / "analysis.yml").write_text(yaml.safe_dump(plan_file))

    summary = pipeline.run_plan(load_plan(), jobs=2)
    assert {r.status for r in summary.results} == {"executed"}, summary.to_dict()
    assert len(summary.results) == 6  # did, its, robustness, synth, validation, synthesis

    results = root / "reports" / "results" / "vechtdal"
    did = pd.read_csv(results / "did_estimates.csv")
    basket = did[did["outcome"] == "cost_basket_std"].set_index("method")
    assert {"crv1", "ri"} <= set(basket.index)
    assert basket["estimate"].nunique() == 1 and basket.loc["ri", "p_value"] > 0
    admissions = did[did["outcome"] == "admissions_per_1000"].iloc[0]
    assert admissions["note"].startswith("no pre-period")  # series starts with the site
    its = pd.read_csv(results / "its_estimates.csv")
    assert its["note"].str.contains("pre-period").all()  # 2 annual points before 2013
    executed = nbformat.read(root / "reports" / "executed" / "vechtdal" / "did_site.ipynb", 4)
    figures = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]  # fmt: skip
    assert len(figures) == 2  # trends and event study
    assert (results / "fig-trends.png").is_file() and (results / "fig-event-study.png").is_file()
    assert json.loads((root / "reports" / "results" / "facts.json").read_text())["sites"]
    checks = pd.read_csv(results / "robustness.csv")
    # 2 municipalities: no LOO; no contested municipality: no contested variant
    assert set(checks["check"]) == {"control_pool", "placebo_year", "initiatives", "nearby_placebo"}
    parts = pd.read_csv(results / "decomposition.csv")
    gaps = pd.read_csv(results / "decomposition_additivity.csv")
    assert len(parts) == 15 and (gaps["gap"].abs() < 1e-6).all()  # total, 10 categories, 4 ages
    assert set(checks.loc[checks["check"] == "control_pool", "variant"]) >= {"all", "province"}
    validation = pd.read_csv(root / "reports" / "results" / "validation" / "validation.csv")
    assert validation["passed"].all() and len(validation) >= 28
    record = json.loads((results / "did_site.provenance.json").read_text())
    assert record["parameters"]["draws"] == 199 and record["status"] == "ok"

    synth = pd.read_csv(results / "synth_estimates.csv")
    cost = synth[(synth["outcome"] == "cost_basket_std") & (synth["method"] == "ri")]
    assert set(cost["estimator"]) == {"sdid", "sc"}
    assert (cost["ci_low"] < cost["estimate"]).all() and (cost["estimate"] < cost["ci_high"]).all()
    assert (cost["mde"] > 0).all() and (cost["pre_rmspe"] >= 0).all()
    assert (
        synth.loc[synth["outcome"] == "admissions_per_1000", "note"]
        .str.startswith("no pre-period")
        .all()
    )
    donors = pd.read_csv(results / "synth_weights.csv")
    units = donors[(donors["kind"] == "unit") & (donors["estimator"] == "sc")]
    assert units["name"].notna().all() and units["weight"].sum() == pytest.approx(1.0)
    assert (results / "fig-synth.png").is_file() and (results / "fig-synth-placebo.png").is_file()
    assert (basket["mde"] > 0).all()  # the DiD's, from its RI placebo coefficients


@pytest.mark.slow
def test_its_notebook_answers_for_one_site_on_the_mirror(
    built_panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """its_site alone for one site, through the project kernel: the mortality outcomes
    get level and slope changes with placebo p-values (standardised from 1999, crude from
    1996), the cost outcome one refusal line and no panel; the figures are saved."""
    import papermill as pm

    panel_root, _ = built_panel
    root = link_project(tmp_path, panel_root)
    monkeypatch.setenv(settings.ROOT_ENV, str(root))
    crude = ["mortality_all_per_1000", "mortality_cardiovascular_per_1000"]
    mort = ["smr_all", "smr_cardiovascular", *crude]
    tasks = load_plan(REPO / "analysis.yml").tasks(["vechtdal"], ["cost_basket_std", *mort])
    [task] = [t for t in tasks if t.notebook == "its_site"]
    results = tmp_path / "results"
    parameters = {**task.parameters, "draws": 199, "results_dir": str(results)}
    pm.execute_notebook(
        task.template, tmp_path / "its.ipynb", parameters=parameters,
        kernel_name=settings.KERNEL_NAME, cwd=str(root), progress_bar=False,
    )  # fmt: skip

    its = pd.read_csv(results / "its_estimates.csv")
    lead = its[its["lead"]]
    assert set(lead["outcome"]) == set(mort) and set(lead["method"]) == {"placebo_area"}
    assert set(lead["effect"]) == {"level_change", "slope_change"}
    assert lead["p_value"].between(1 / 200, 1).all()
    # Vechtdal's 1,562 placebo sites within areas (1,588 before the other initiatives left
    # the control pools) are all enumerated (within EXACT_BUDGET)
    assert (lead["n_placebos"] == 1562).all() and (lead["p_kind"] == "exact").all()
    assert (its.loc[its["outcome"].isin(crude), "n_pre"] == 17).all()  # 1996-2012
    assert (its.loc[its["outcome"].isin(mort[:2]), "n_pre"] == 14).all()  # 1999-2012
    [cost] = its[its["outcome"] == "cost_basket_std"].to_dict("records")
    assert cost["note"].startswith("2 pre-period years") and pd.isna(cost["estimate"])
    assert (results / "fig-its.png").is_file() and (results / "fig-its-placebo.png").is_file()
    assert (results / "fig-its-smr-crude.png").is_file()
    assert not pd.read_csv(results / "its_in_time.csv").empty
    executed = nbformat.read(tmp_path / "its.ipynb", 4)
    [panels] = [c for c in executed.cells if "#| label: fig-its\n" in c.source + "\n"]
    assert sum("image/png" in o.get("data", {}) for o in panels.outputs) == 1


def _imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_notebooks_never_import_the_code_left_out_of_cache_keys() -> None:
    """Cache keys skip `proeftuin.cli`, `proeftuin.report` and the placebo study's
    calibration: no notebook may use them."""
    from proeftuin.core.provenance import NOT_IN_NOTEBOOKS

    forbidden = tuple(
        f"proeftuin.{sub.removesuffix('.py').replace('/', '.')}" for sub in NOT_IN_NOTEBOOKS
    )
    assert "proeftuin.synthesis.calibration" in forbidden
    for path in TEMPLATES:
        for cell in _code_cells(path):
            for name in _imported(cell.source):
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
