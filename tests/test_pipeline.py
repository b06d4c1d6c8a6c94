"""The runner: cache hits and misses, failure isolation, atomic outputs, Dask scale-out.

These tests execute small template notebooks on the project kernel in a temporary project
root, so they check the real papermill path without the cost of the real analysis.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from proeftuin import pipeline, settings
from proeftuin.plan import Plan, PlanFile

REGIONS = ("north", "south")


def _template(body: str) -> nbformat.NotebookNode:
    params = new_code_cell('region = "x"\nresults_dir = "."\nscale = 1')
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": settings.KERNEL_NAME, "display_name": "p"}
    return notebook


REGION_BODY = """
from pathlib import Path
if region == "broken":
    raise ValueError("planted failure in " + region)
Path(results_dir, "did_estimates.csv").write_text(f"region,estimate\\n{region},{scale}\\n")
"""
SYNTHESIS_BODY = """
import os
from pathlib import Path
root = os.environ["PROEFTUIN_ROOT"]
Path(results_dir, "pooled.csv").write_text("regions\\n" + ";".join(regions) + "\\n" + root)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root with toy templates, a panel stand-in and a lock file."""
    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_template(REGION_BODY), tmp_path / "notebooks" / "did_region.ipynb")
    synthesis = _template(SYNTHESIS_BODY)
    synthesis.cells[0].source = 'regions = []\nresults_dir = "."'
    nbformat.write(synthesis, tmp_path / "notebooks" / "synthesis.ipynb")
    validation = _template('from pathlib import Path\nPath(results_dir, "validation.csv").touch()')
    validation.cells[0].source = 'results_dir = "."'
    nbformat.write(validation, tmp_path / "notebooks" / "validation.ipynb")
    (tmp_path / "data" / "processed").mkdir(parents=True)
    (tmp_path / "data" / "processed" / "panel.parquet").write_bytes(b"stand-in")
    (tmp_path / "requirements.lock").write_text("pandas==0\n")
    monkeypatch.setattr("proeftuin.provenance.source_checksums", lambda: {"vektis": "abc"})
    return tmp_path


def _plan(project: Path, regions: tuple[str, ...] = REGIONS, **overrides: dict) -> Plan:
    spec = PlanFile.model_validate(
        {
            "outcomes": ["cost_basket"],
            "designs": ["did_region"],
            "regions": {r: overrides.get(r, {}) for r in regions},
            "execution": {"cell_timeout": 120},
        }
    )
    return Plan(path=project / "analysis.yml", spec=spec, start_years=dict.fromkeys(regions, 2014))


def _statuses(summary: pipeline.RunSummary) -> dict[str, str]:
    return {r.task: r.status for r in summary.results}


def test_cold_warm_one_region_changed_and_new_data(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = pipeline.run_plan(_plan(project), jobs=2)
    assert _statuses(cold) == {
        "north/did_region": "executed",
        "south/did_region": "executed",
        "validation/validation": "executed",
        "synthesis/synthesis": "executed",
    }
    results = project / "reports" / "results"
    assert (results / "north" / "did_estimates.csv").read_text().startswith("region,estimate")
    record = json.loads((results / "north" / "did_region.provenance.json").read_text())
    assert record["status"] == "ok" and record["outputs"] == ["did_estimates.csv"]
    assert set(record["key_parts"]) == {"template", "parameters", "source", "data", "lock"}
    assert record["package_versions"]["papermill"] != "not installed"
    assert not any((results / ".staging").glob("*"))

    warm = pipeline.run_plan(_plan(project), jobs=2)
    assert set(_statuses(warm).values()) == {"cached"}
    assert warm.executed == []

    (results / "north" / "did_estimates.csv").write_text("region,estimate\nnorth,999\n")
    tampered = pipeline.run_plan(_plan(project), jobs=2)
    assert _statuses(tampered)["north/did_region"] == "executed"  # an edited output is stale
    assert _statuses(tampered)["south/did_region"] == "cached"

    changed = pipeline.run_plan(_plan(project, south={"draws": 199}), jobs=2)
    assert _statuses(changed) == {
        "north/did_region": "cached",
        "south/did_region": "executed",
        "validation/validation": "cached",
        "synthesis/synthesis": "executed",
    }

    monkeypatch.setattr("proeftuin.provenance.source_checksums", lambda: {"vektis": "republished"})
    new_data = pipeline.run_plan(_plan(project, south={"draws": 199}), jobs=2)
    assert set(_statuses(new_data).values()) == {"executed"}


def test_a_failing_region_does_not_stop_the_others(project: Path) -> None:
    summary = pipeline.run_plan(_plan(project, regions=("north", "broken", "south")), jobs=2)
    statuses = _statuses(summary)
    assert statuses["north/did_region"] == "executed"
    assert statuses["south/did_region"] == "executed"
    assert statuses["synthesis/synthesis"] == "executed"
    pooled = project / "reports" / "results" / "synthesis" / "pooled.csv"
    assert pooled.read_text().endswith(str(project))  # the kernel saw this run's project
    [failure] = summary.failed
    assert failure.region == "broken" and failure.notebook == "did_region"
    assert "ValueError: planted failure in broken" in failure.error
    assert failure.cell.startswith("cell ")
    broken = project / "reports" / "results" / "broken"
    assert not (broken / "did_estimates.csv").exists()
    record = json.loads((broken / "did_region.provenance.json").read_text())
    assert record["status"] == "failed" and record["outputs"] == []
    executed = project / "reports" / "executed" / "broken"
    assert not (executed / "did_region.ipynb").exists()
    assert (executed / "did_region.failed.ipynb").exists()
    run_summary = json.loads((project / "reports" / "results" / "run_summary.json").read_text())
    assert {t["status"] for t in run_summary["tasks"]} == {"executed", "failed"}

    # A template that now fails everywhere: the earlier results must not look finished.
    template = project / "notebooks" / "did_region.ipynb"
    notebook = nbformat.read(template, as_version=4)
    notebook.cells[1].source = "raise RuntimeError('new bug')"
    nbformat.write(notebook, template)
    again = pipeline.run_plan(_plan(project, regions=("north",)), jobs=1)
    assert again.failed[0].task == "north/did_region"
    assert not (project / "reports" / "results" / "north" / "did_estimates.csv").exists()


def test_no_panel_is_refused_before_any_kernel(project: Path) -> None:
    (project / "data" / "processed" / "panel.parquet").unlink()
    with pytest.raises(pipeline.PipelineError, match="proeftuin data"):
        pipeline.run_plan(_plan(project), jobs=1)
    assert not (project / "reports" / "executed").exists()


def test_runs_on_a_local_dask_cluster(project: Path) -> None:
    summary = pipeline.run_plan(_plan(project), jobs=2, scheduler="local")
    assert {r.status for r in summary.results} == {"executed"}
    pooled = project / "reports" / "results" / "synthesis" / "pooled.csv"
    assert "north;south" in pooled.read_text()
