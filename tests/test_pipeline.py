"""The runner: cache hits and misses, failure isolation, atomic outputs, Dask scale-out.

These tests execute small template notebooks on the project kernel in a temporary project
root, so they check the real papermill path without the cost of the real analysis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from typer.testing import CliRunner

from proeftuin import pipeline
from proeftuin.cli import app, run_cmd
from proeftuin.core import provenance, settings
from proeftuin.pipeline import results
from proeftuin.pipeline.plan import Plan, PlanFile
from proeftuin.synthesis import pooling as synthesis

SITES = ("north", "south")


def _template(body: str) -> nbformat.NotebookNode:
    params = new_code_cell('site = "x"\nresults_dir = "."\nscale = 1')
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": settings.KERNEL_NAME, "display_name": "p"}
    return notebook


SITE_BODY = """
import os
from pathlib import Path
if site == "broken":
    raise ValueError("planted failure in " + site + ": " + "a long explanation " * 8)
if Path(os.environ["PROEFTUIN_ROOT"], "FAIL").exists():  # an environment fault, same key
    raise RuntimeError("the mirror is not there")
if site == "envcheck":
    import contextlib, io
    Path(results_dir, "mirror.txt").write_text(os.environ.get("PROEFTUIN_DATA_MIRROR", ""))
    with contextlib.redirect_stdout(io.StringIO()) as dot:
        exec(DOT)
    Path(results_dir, "dot.txt").write_text(dot.getvalue().strip())
Path(results_dir, "did_estimates.csv").write_text(f"site,estimate\\n{site},{scale}\\n")
"""
DOT = """
import numpy as np
rng = np.random.default_rng(0)  # a long dot product: a threaded BLAS splits the sum
a, b = rng.normal(size=2_000_003), rng.normal(size=2_000_003)
print(repr(float(a @ b)))
"""
SITE_BODY = SITE_BODY.replace("exec(DOT)", f"exec({DOT!r})")
SYNTHESIS_BODY = """
import os
from pathlib import Path
root = os.environ["PROEFTUIN_ROOT"]
Path(results_dir, "pooled.csv").write_text("sites\\n" + ";".join(sites) + "\\n" + root)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root with toy templates, a panel stand-in and a lock file."""
    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    nbformat.write(_template(SITE_BODY), tmp_path / "notebooks" / "did_site.ipynb")
    synthesis = _template(SYNTHESIS_BODY)
    synthesis.cells[0].source = 'sites = []\nresults_dir = "."'
    nbformat.write(synthesis, tmp_path / "notebooks" / "synthesis.ipynb")
    validation = _template('from pathlib import Path\nPath(results_dir, "validation.csv").touch()')
    validation.cells[0].source = 'results_dir = "."'
    nbformat.write(validation, tmp_path / "notebooks" / "validation.ipynb")
    (tmp_path / "data" / "processed").mkdir(parents=True)
    (tmp_path / "data" / "processed" / "panel.parquet").write_bytes(b"stand-in")
    (tmp_path / "requirements.lock").write_text("pandas==0\n")
    monkeypatch.setattr("proeftuin.core.provenance.source_checksums", lambda: {"vektis": "abc"})
    return tmp_path


def _plan(
    project: Path,
    sites: tuple[str, ...] = SITES,
    outcomes: tuple[str, ...] = ("cost_basket",),
    **overrides: dict,
) -> Plan:
    spec = PlanFile.model_validate(
        {
            "outcomes": list(outcomes),
            "designs": ["did_site"],
            "sites": {r: overrides.get(r, {}) for r in sites},
            "execution": {"cell_timeout": 120},
        }
    )
    return Plan(path=project / "analysis.yml", spec=spec, start_years=dict.fromkeys(sites, 2014))


def _statuses(summary: pipeline.RunSummary) -> dict[str, str]:
    return {r.task: r.status for r in summary.results}


def test_cold_warm_one_site_changed_and_new_data(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = pipeline.run_plan(_plan(project), jobs=2)
    assert _statuses(cold) == {
        "north/did_site": "executed",
        "south/did_site": "executed",
        "validation/validation": "executed",
        "synthesis/synthesis": "executed",
    }
    results = project / "reports" / "results"
    assert (results / "north" / "did_estimates.csv").read_text().startswith("site,estimate")
    record = json.loads((results / "north" / "did_site.provenance.json").read_text())
    assert record["status"] == "ok" and record["outputs"] == ["did_estimates.csv"]
    assert set(record["key_parts"]) == {"template", "parameters", "source", "data", "lock"}
    assert record["package_versions"]["papermill"] != "not installed"
    assert not any((results / ".staging").glob("*"))

    warm = pipeline.run_plan(_plan(project), jobs=2)
    assert set(_statuses(warm).values()) == {"cached"}
    assert warm.executed == []

    (results / "north" / "did_estimates.csv").write_text("site,estimate\nnorth,999\n")
    tampered = pipeline.run_plan(_plan(project), jobs=2)
    assert _statuses(tampered)["north/did_site"] == "executed"  # an edited output is stale
    assert _statuses(tampered)["south/did_site"] == "cached"

    changed = pipeline.run_plan(_plan(project, south={"draws": 199}), jobs=2)
    assert _statuses(changed) == {
        "north/did_site": "cached",
        "south/did_site": "executed",
        "validation/validation": "cached",
        "synthesis/synthesis": "executed",
    }

    monkeypatch.setattr(
        "proeftuin.core.provenance.source_checksums", lambda: {"vektis": "republished"}
    )
    new_data = pipeline.run_plan(_plan(project, south={"draws": 199}), jobs=2)
    assert set(_statuses(new_data).values()) == {"executed"}


def test_a_failing_site_does_not_stop_the_others(project: Path) -> None:
    summary = pipeline.run_plan(_plan(project, sites=("north", "broken", "south")), jobs=2)
    statuses = _statuses(summary)
    assert statuses["north/did_site"] == "executed"
    assert statuses["south/did_site"] == "executed"
    assert statuses["synthesis/synthesis"] == "executed"
    pooled = project / "reports" / "results" / "synthesis" / "pooled.csv"
    assert pooled.read_text().endswith(str(project))  # the kernel saw this run's project
    [failure] = summary.failed
    assert failure.folder == "broken" and failure.notebook == "did_site"
    assert "ValueError: planted failure in broken" in failure.error
    assert failure.cell.startswith("cell ")
    broken = project / "reports" / "results" / "broken"
    assert not (broken / "did_estimates.csv").exists()
    record = json.loads((broken / "did_site.provenance.json").read_text())
    assert record["status"] == "failed" and record["outputs"] == []
    executed = project / "reports" / "executed" / "broken"
    assert not (executed / "did_site.ipynb").exists()
    assert (executed / "did_site.failed.ipynb").exists()
    run_summary = json.loads((project / "reports" / "results" / "run_summary.json").read_text())
    assert {t["status"] for t in run_summary["tasks"]} == {"executed", "failed"}

    # A template that now fails everywhere: the earlier results must not look finished.
    template = project / "notebooks" / "did_site.ipynb"
    notebook = nbformat.read(template, as_version=4)
    notebook.cells[1].source = "raise RuntimeError('new bug')"
    nbformat.write(notebook, template)
    again = pipeline.run_plan(_plan(project, sites=("north",)), jobs=1)
    assert again.failed[0].task == "north/did_site"
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


def _manifest_statuses() -> dict[str, str]:
    return {t.name: t.status for t in results.read_manifest().tasks}


def test_the_manifest_records_every_task_and_the_synthesis_names_the_failed_site(
    project: Path,
) -> None:
    plan = _plan(project, sites=("north", "broken"))
    pipeline.run_plan(plan, jobs=2)
    manifest = results.read_manifest()
    assert manifest.schema_version == results.SCHEMA_VERSION
    assert (manifest.plan_hash, manifest.state) == (plan.hash(), "complete")
    north, broken = manifest.task("north/did_site"), manifest.task("broken/did_site")
    assert north.status == "ok" and north.site == "north" and north.error is None
    assert north.template == "notebooks/did_site.ipynb"
    assert north.executed_notebook == "reports/executed/north/did_site.ipynb"
    for output in north.outputs:  # every output listed with the SHA-256 on disk
        assert provenance.sha256_file(project / output.path) == output.sha256
    assert "reports/results/north/did_estimates.csv" in {o.path for o in north.outputs}
    assert broken.status == "failed" and broken.outputs == []
    assert (broken.error.site, broken.error.notebook) == ("broken", "did_site")
    assert broken.error.cell.startswith("cell ")
    assert broken.error.message.startswith("ValueError: planted failure in broken: a long")
    assert manifest.task("validation/validation").site is None

    inputs = synthesis.inputs(plan.sites, plan.designs, plan.hash())
    assert inputs.usable("did_site") == ["north"]
    assert "broken / did_site: failed" in inputs.note()
    card = synthesis.scorecard(
        pd.DataFrame(), ["cost_basket_std"], missing=inputs.excluded("did_site")
    )
    assert card.set_index("site").loc["broken", "direction"] == "failed"
    assert any("broken/did_site: failed" in p for p in results.results_problems(plan.hash()))


def test_a_failure_keeps_the_good_outputs_of_the_same_task(project: Path) -> None:
    plan = _plan(project, sites=("north",))
    pipeline.run_plan(plan, jobs=1)
    estimates = project / "reports" / "results" / "north" / "did_estimates.csv"
    good = estimates.read_text()
    (project / "FAIL").touch()  # same template, parameters and data: same cache key
    failed = pipeline.run_plan(plan, sites=["north"], jobs=1, force=True)
    assert [r.task for r in failed.failed] == ["north/did_site"]
    assert estimates.read_text() == good
    assert (project / "reports" / "executed" / "north" / "did_site.ipynb").is_file()
    assert _manifest_statuses()["north/did_site"] == "failed"  # said, not hidden
    (project / "FAIL").unlink()
    again = pipeline.run_plan(plan, jobs=1)
    assert _statuses(again)["north/did_site"] == "cached"  # the good outputs still count


def test_an_outcome_subset_never_replaces_the_full_results(project: Path) -> None:
    plan = _plan(project, outcomes=("cost_basket_std", "cost_gp_std"))
    pipeline.run_plan(plan, jobs=2)
    results_dir = project / "reports" / "results"
    before = {p: p.read_bytes() for p in results_dir.rglob("*") if p.is_file()}
    subset = pipeline.run_plan(plan, sites=["north"], outcomes=["cost_gp_std"], jobs=1)
    assert _statuses(subset) == {"north/did_site": "executed"}  # no synthesis on a subset
    assert subset.subset == "cost_gp_std"
    folder = results_dir / "subsets" / "cost_gp_std"
    assert (folder / "north" / "did_estimates.csv").is_file()
    assert results.read_manifest(folder / "manifest.json").subset == "cost_gp_std"
    assert {p: p.read_bytes() for p in before} == before  # the full results: untouched
    record = json.loads((folder / "north" / "did_site.provenance.json").read_text())
    assert record["parameters"]["outcomes"] == ["cost_gp_std"]


def test_a_site_run_after_a_plan_change_marks_the_other_sites_stale(project: Path) -> None:
    old = _plan(project)
    pipeline.run_plan(old, jobs=2)
    new = _plan(project, north={"draws": 199}, south={"draws": 199})  # as a new default
    pipeline.run_plan(new, sites=["north"], jobs=2)
    manifest = results.read_manifest()
    assert manifest.plan_hash == new.hash() != old.hash()
    south = manifest.task("south/did_site")
    assert south.status == "not_run"
    assert f"from plan {old.hash()[:12]}, not the current plan {new.hash()[:12]}" in south.note
    inputs = synthesis.inputs(new.sites, new.designs, new.hash())
    assert inputs.usable("did_site") == ["north"]  # south's 999-draw results: not pooled
    with pytest.raises(synthesis.SynthesisInputError, match="rerun `proeftuin run`"):
        synthesis.inputs(old.sites, old.designs, old.hash())
    assert any("south/did_site: not run" in p for p in results.results_problems(new.hash()))
    assert "the results were made under plan" in results.results_problems(old.hash())[0]


def test_a_second_run_is_refused_and_a_stale_lock_or_staging_is_cleared(project: Path) -> None:
    with pipeline.RunLock(), pytest.raises(pipeline.PipelineError) as refused:
        pipeline.run_plan(_plan(project), jobs=1)
    assert str(refused.value).startswith(f"a run is in progress (pid {os.getpid()})")
    assert not (project / "reports" / "executed").exists()  # refused before any kernel

    lock = results.lock_path()
    lock.write_text("999999\n")  # a run that died: its pid is gone, the lock is not held
    staging = results.staging_dir() / "north-did_site-0123456789ab"
    staging.mkdir(parents=True)
    (staging / "did_estimates.csv").write_text("half")
    partial = project / "reports" / "executed" / "north" / ".did_site.0123456789ab.ipynb"
    partial.parent.mkdir(parents=True)
    partial.write_text("{}")
    summary = pipeline.run_plan(_plan(project), jobs=2)
    assert not summary.failed
    assert not staging.exists() and not partial.exists()
    assert lock.read_text() == ""  # released


def test_kernels_get_absolute_settings_and_the_same_numbers_whatever_the_caller(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    caller = tmp_path_factory.mktemp("caller")
    monkeypatch.chdir(caller)
    monkeypatch.setenv(settings.MIRROR_ENV, "../shared/data")  # as in the README
    pipeline.run_plan(_plan(project, sites=("envcheck",)), jobs=1)
    folder = project / "reports" / "results" / "envcheck"
    assert (folder / "mirror.txt").read_text() == str((caller / "../shared/data").resolve())
    # The same computation in a single-threaded process: the kernel's digits must match,
    # however many cores this machine (or the next) gives a multi-threaded BLAS.
    single = subprocess.run(
        [sys.executable, "-c", DOT],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert (folder / "dot.txt").read_text() == single.stdout.strip()


def test_the_run_command_when_not_a_terminal_and_when_nothing_changed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(project, sites=("north", "broken"))
    monkeypatch.setattr(run_cmd, "load_plan", lambda: plan)
    failed = CliRunner().invoke(app, ["run", "--jobs", "2"])
    assert failed.exit_code == 1
    error = "ValueError: planted failure in broken: " + "a long explanation " * 8
    full = [line for line in failed.stderr.splitlines() if error.strip() in line]
    assert full and full[-1].startswith("failed: broken/did_site (cell ")  # never cut
    assert "KeyboardInterrupt caught in kernel" not in failed.output

    noop = CliRunner().invoke(app, ["run", "--site", "north"])
    assert noop.exit_code == 0, noop.output
    assert noop.stderr.strip().splitlines() == [noop.stderr.strip()]  # one line
    assert noop.stderr.startswith("up to date: all 3 tasks cached")


def test_an_unwritable_results_folder_is_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: pipeline.RunLock) -> None:
        raise PermissionError(13, "Permission denied", str(self.path))

    monkeypatch.setattr(pipeline.RunLock, "__enter__", refuse)
    monkeypatch.setattr(run_cmd, "load_plan", lambda: _plan(project))
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: cannot write to {results.lock_path()}: permission denied; make reports/ "
        "writable (or set PROEFTUIN_ROOT to a writable copy)"
    )
