"""The README's guide to extending the evaluation, followed step by step in a scratch project:
add a site to the registry and the plan, add a design notebook, and run them."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from conftest import REPO
from proeftuin import pipeline, report
from proeftuin.core import settings
from proeftuin.data.sites import load_registry
from proeftuin.pipeline.plan import load_plan

NEW_SITE = {
    "name": "Testregio (example)",
    "municipalities": ["GM0344", "GM0307"],  # Utrecht, Amersfoort: in no Pioneer site
    "start_year": 2015,
    "lead_insurer": "example insurer",
    "status": "unverified",
    "sources": {
        fact: "example for the extending guide"
        for fact in ("site", "municipalities", "start_year", "lead_insurer")
    },
}


@pytest.fixture
def scratch(built_panel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with its own registry, notebooks and plan, sharing the built panel."""
    panel_root, _ = built_panel
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    shutil.copytree(REPO / "data" / "sites", tmp_path / "data" / "sites")
    (tmp_path / "data" / "reference").symlink_to(REPO / "data" / "reference")
    (tmp_path / "data" / "processed").symlink_to(panel_root / "data" / "processed")
    for name in ("analysis.yml", "_quarto.yml", "requirements.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "reports", tmp_path / "reports", ignore=_generated)
    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    return tmp_path


def _generated(folder: str, names: list[str]) -> list[str]:
    skip = {"executed", "results", "previews", "sites", "_generated"}
    return [n for n in names if n in skip] if Path(folder) == REPO / "reports" else []


def _edit_yaml(path: Path, change) -> None:  # noqa: ANN001 - a function editing the mapping
    content = yaml.safe_load(path.read_text())
    change(content)
    path.write_text(yaml.safe_dump(content, sort_keys=False))


def test_add_a_site_and_a_design(scratch: Path) -> None:
    # Step 1: a site in the registry, then the site in the plan.
    _edit_yaml(scratch / "data/sites/pioneer_sites.yml",
               lambda c: c["sites"].update({"testregio": NEW_SITE}))  # fmt: skip
    assert load_registry().sites["testregio"].start_year == 2015
    # Step 2: a design notebook with the plan's parameters, writing to results_dir.
    params = new_code_cell(
        "\n".join(f"{name}: object = None" for name in _declared("did_site")) + "\n"
        'results_dir: str = "."'
    )
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from pathlib import Path\n"
        "from proeftuin.designs.comparison import load_inputs, site_design\n"
        "design = site_design(site, load_inputs(), start_year=start_year)\n"
        'Path(results_dir, "count_estimates.csv").write_text(\n'
        '    f"site,treated,controls\\n{site},{len(design.treated)},{len(design.controls)}\\n")'
    )
    notebook = new_notebook(cells=[params, body])
    notebook.metadata["kernelspec"] = {
        "name": "proeftuin",
        "display_name": "p",
        "language": "python",
    }
    nbformat.write(notebook, scratch / "notebooks" / "count_site.ipynb")

    def plan_change(content: dict) -> None:
        content["sites"] = {"testregio": {}}
        content["designs"] = ["count_site"]

    _edit_yaml(scratch / "analysis.yml", plan_change)
    plan = load_plan()
    names = [t.name for t in plan.tasks()]
    assert names == ["testregio/count_site", "validation/validation", "synthesis/synthesis"]

    # Step 3: run it; the site's page is generated from the run's results.
    summary = pipeline.run_plan(plan, sites=["testregio"], jobs=1)
    statuses = {r.task: r.status for r in summary.results}
    assert statuses["testregio/count_site"] == "executed", summary.to_dict()
    written = (scratch / "reports/results/testregio/count_estimates.csv").read_text()
    assert written.startswith("site,treated,controls\ntestregio,2,")
    pages = report.generate_pages()
    assert scratch / "reports" / "sites" / "testregio.qmd" in pages


def _declared(template: str) -> list[str]:
    import ast

    cell = nbformat.read(REPO / "notebooks" / f"{template}.ipynb", 4).cells[1]
    names = [n.target.id for n in ast.parse(cell.source).body if isinstance(n, ast.AnnAssign)]
    return [n for n in names if n != "results_dir"]
