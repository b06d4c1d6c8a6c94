"""Fault injection on the real command: `proeftuin run` interrupted (SIGINT), killed
(SIGKILL) and run twice at once, on a temporary project with tiny templates. After each
fault a rerun must leave the same results as an undisturbed run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import psutil
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from proeftuin.core import settings

REPO = Path(__file__).resolve().parents[1]
PROEFTUIN = Path(sys.executable).with_name("proeftuin")
SITES = ("maastricht-heuvelland", "oostelijk-zuid-limburg", "vechtdal", "zeeuws-vlaanderen")
SITE_BODY = """
import time
from pathlib import Path
# what ipykernel logs when jupyter_client's shutdown interrupt lands mid-message (a race)
get_ipython().kernel.log.error("KeyboardInterrupt caught in kernel")
time.sleep(1.5)  # long enough to be caught mid-way
Path(results_dir, "did_estimates.csv").write_text(f"site,draws\\n{site},{draws}\\n")
"""
SYNTHESIS_BODY = """
from pathlib import Path
rows = [Path("reports/results", r, "did_estimates.csv").read_text().splitlines()[1]
        for r in sites]
Path(results_dir, "pooled.csv").write_text("site,draws\\n" + "\\n".join(rows) + "\\n")
"""
SITE_LIST = ", ".join(f"{r}: {{}}" for r in SITES)
PLAN = f"""
defaults: {{draws: 199}}
outcomes: [cost_basket_std]
designs: [did_site]
sites: {{{SITE_LIST}}}
execution: {{cell_timeout: 120}}
"""


def _notebook(parameters: str, body: str) -> nbformat.NotebookNode:
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": settings.KERNEL_NAME, "display_name": "p"}
    return notebook


def _project(root: Path) -> Path:
    """A project the real CLI accepts: real site ids, tiny templates, a stand-in panel."""
    (root / "notebooks").mkdir(parents=True)
    nbformat.write(
        _notebook('site = "x"\nresults_dir = "."\ndraws = 0', SITE_BODY),
        root / "notebooks" / "did_site.ipynb",
    )
    nbformat.write(
        _notebook('sites = []\nresults_dir = "."', SYNTHESIS_BODY),
        root / "notebooks" / "synthesis.ipynb",
    )
    nbformat.write(
        _notebook('results_dir = "."', 'open(f"{results_dir}/validation.csv", "w").close()'),
        root / "notebooks" / "validation.ipynb",
    )
    (root / "analysis.yml").write_text(PLAN)
    shutil.copy(REPO / "requirements.lock", root / "requirements.lock")
    (root / "data" / "processed").mkdir(parents=True)
    for name in ("reference", "sites"):
        (root / "data" / name).symlink_to(REPO / "data" / name)
    sites = yaml.safe_load((REPO / "data" / "sites" / "pioneer_sites.yml").read_text())
    codes = sorted(c for site in sites["sites"].values() for c in site["municipalities"])
    manifest = {"sources": {"vektis/x.csv": "abc"}, "municipality_codes": codes}
    (root / "data" / "processed" / "manifest.json").write_text(json.dumps(manifest))
    (root / "data" / "processed" / "panel.parquet").write_bytes(b"stand-in")
    return root


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, settings.ROOT_ENV: str(root), "COLUMNS": "80"}


def _start(root: Path) -> subprocess.Popen[str]:
    """A run in the background; its output goes to files (orphans cannot hold a pipe)."""
    return subprocess.Popen(
        [str(PROEFTUIN), "run", "--jobs", "2"],
        env=_env(root),
        stdout=(root / "run.out").open("w"),
        stderr=(root / "run.err").open("w"),
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )


def _stderr(run: subprocess.Popen[str], root: Path, timeout: float) -> str:
    run.wait(timeout=timeout)
    return (root / "run.err").read_text()


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROEFTUIN), "run", "--jobs", "2"],
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _manifest(root: Path) -> dict:
    try:
        return json.loads((root / "reports" / "results" / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _some_site_done(root: Path) -> bool:
    tasks = _manifest(root).get("tasks", [])
    return any(t["status"] == "ok" and t["site"] for t in tasks)


def _results(root: Path) -> dict[str, object]:
    """What a run leaves: every results CSV, and each task's status in the manifest."""
    folder = root / "reports" / "results"
    files = {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*.csv"))}
    manifest = _manifest(root)
    statuses = {t["name"]: t["status"] in ("ok", "cached") for t in manifest["tasks"]}
    return {"files": files, "good": statuses, "state": manifest["state"]}


def _leftovers(root: Path) -> list[Path]:
    staging = root / "reports" / "results" / ".staging"
    hidden = list((root / "reports" / "executed").rglob(".*.ipynb"))
    return [*(staging.iterdir() if staging.is_dir() else []), *hidden]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = _project(tmp_path_factory.mktemp("undisturbed"))
    done = _run(root)
    assert done.returncode == 0, done.stderr
    assert "KeyboardInterrupt caught in kernel" not in done.stderr + done.stdout  # item 13
    result = _results(root)
    assert result["state"] == "complete" and all(result["good"].values())
    assert len(result["files"]) == len(SITES) + 2  # four sites, validation, pooled
    return result


def test_sigint_mid_run_keeps_finished_tasks_and_a_rerun_completes_it(
    tmp_path: Path, undisturbed: dict[str, object]
) -> None:
    root = _project(tmp_path)
    run = _start(root)
    _wait_for(lambda: _some_site_done(root), "a finished site task")
    workers = psutil.Process(run.pid).children(recursive=True)
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the whole process group gets it
    stderr = _stderr(run, root, timeout=60)
    assert run.returncode == 130, stderr
    assert "interrupted, " in stderr and " tasks not run" in stderr
    assert "Traceback" not in stderr and "ZMQError" not in stderr
    manifest = _manifest(root)
    assert manifest["state"] == "interrupted"
    finished = [t for t in manifest["tasks"] if t["status"] == "ok"]
    assert finished  # committed, not thrown away
    for task in finished:
        for output in task["outputs"]:
            assert (root / output["path"]).is_file()
    assert {t["status"] for t in manifest["tasks"]} <= {"ok", "interrupted", "not_run"}
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, f"workers outlived the run: {alive}"
    assert not _leftovers(root)

    rerun = _run(root)
    assert rerun.returncode == 0, rerun.stderr
    assert _results(root) == undisturbed


def test_sigkill_of_the_run_takes_its_workers_and_a_rerun_completes_it(
    tmp_path: Path, undisturbed: dict[str, object]
) -> None:
    root = _project(tmp_path)
    run = _start(root)
    _wait_for(lambda: _some_site_done(root), "a finished site task")
    workers = psutil.Process(run.pid).children(recursive=True)
    assert workers
    run.kill()
    run.wait(timeout=30)
    _, alive = psutil.wait_procs(workers, timeout=20)  # fork server, workers, kernels
    assert not alive, f"orphans left running: {[p.cmdline()[:3] for p in alive]}"
    manifest = _manifest(root)  # true about what finished before the kill
    assert manifest["state"] == "running"
    assert any(t["status"] == "ok" for t in manifest["tasks"])
    assert any(t["status"] == "not_run" for t in manifest["tasks"])

    rerun = _run(root)
    assert rerun.returncode == 0, rerun.stderr
    assert not _leftovers(root)  # the killed run's staging was cleared
    assert _results(root) == undisturbed


def test_a_second_concurrent_run_is_refused_with_the_first_ones_pid(
    tmp_path: Path, undisturbed: dict[str, object]
) -> None:
    root = _project(tmp_path)
    first = _start(root)
    lock = root / "reports" / "results" / ".run.lock"
    _wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(first.pid), "the lock")
    second = _run(root)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"a run is in progress (pid {first.pid})" in lines[0]
    stderr = _stderr(first, root, timeout=600)
    assert first.returncode == 0, stderr
    assert _results(root) == undisturbed  # nothing lost
