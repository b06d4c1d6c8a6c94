"""Results that cannot be silently wrong (issue 24): the cache key covers the panel itself,
a provenance record cannot make a run delete files elsewhere, the run lock survives a deleted
lock file and covers `data`, an unreadable build manifest is one line, result files get the
ordinary file mode and failed copies go once the task is current again.

Runs the toy templates of ``test_pipeline`` on the project kernel in a temporary root.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proeftuin import pipeline
from proeftuin.cli import app
from proeftuin.core import provenance
from proeftuin.core.errors import DataError
from proeftuin.core.fileio import atomic_write_text
from proeftuin.data import panel as panel_build
from proeftuin.pipeline import results
from proeftuin.pipeline.cache import is_current
from test_pipeline import _plan, _statuses, project  # noqa: F401 - the fixture

SOURCE_CHECKSUMS = provenance.source_checksums


def test_a_changed_panel_reruns_the_site_tasks_and_its_hash_is_recorded(project: Path) -> None:  # noqa: F811
    """Item 2: the key hashes the panel the notebooks read, not only its sources."""
    panel = project / "data" / "processed" / "panel.parquet"
    assert set(_statuses(pipeline.run_plan(_plan(project), jobs=2)).values()) == {"executed"}
    record = json.loads((project / "reports/results/north/did_site.provenance.json").read_text())
    assert record["key_parts"]["data"]["processed/panel.parquet"] == provenance.sha256_file(panel)

    original = panel.read_bytes()
    panel.write_bytes(original + b" edited")  # same sources, another panel
    edited = _statuses(pipeline.run_plan(_plan(project), jobs=2))
    assert edited["north/did_site"] == edited["south/did_site"] == "executed"
    assert edited["synthesis/synthesis"] == "executed"  # its inputs' keys changed

    panel.write_bytes(original)  # `proeftuin data` restores it: the results are rerun again
    restored = _statuses(pipeline.run_plan(_plan(project), jobs=2))
    assert restored["north/did_site"] == restored["south/did_site"] == "executed"
    assert set(_statuses(pipeline.run_plan(_plan(project), jobs=2)).values()) == {"cached"}


def test_a_provenance_record_cannot_delete_files_elsewhere(project: Path) -> None:  # noqa: F811
    """Item 6: names in a record are plain file names in the task's folder, or ignored."""
    pipeline.run_plan(_plan(project), jobs=2)
    victim = project / "victim.txt"
    victim.write_text("keep me")
    path = project / "reports" / "results" / "north" / "did_site.provenance.json"
    record = json.loads(path.read_text())
    record["outputs"].append("../../../victim.txt")
    record["output_sha256"]["../../../victim.txt"] = provenance.sha256_file(victim)
    record["key"] = "changed"
    path.write_text(json.dumps(record))
    task = next(t for t in _plan(project).tasks() if t.name == "north/did_site")
    assert not is_current(task, "changed")  # a record naming files elsewhere is not ours
    summary = pipeline.run_plan(_plan(project), sites=["north"], jobs=1)
    assert _statuses(summary)["north/did_site"] == "executed"
    assert victim.read_text() == "keep me"


def test_result_files_get_the_ordinary_mode_and_failed_copies_go_when_cached(
    project: Path,  # noqa: F811
) -> None:
    """Item 17: ``mkstemp``'s 0600 is not what a result file should keep."""
    umask = os.umask(0o022)
    try:
        written = atomic_write_text(project / "x.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask

    pipeline.run_plan(_plan(project), jobs=2)
    (project / "FAIL").touch()  # an environment fault under the same key: outputs kept
    failed = pipeline.run_plan(_plan(project), sites=["north"], jobs=1, force=True)
    assert _statuses(failed)["north/did_site"] == "failed"
    copy = project / "reports" / "executed" / "north" / "did_site.failed.ipynb"
    assert copy.is_file()
    (project / "FAIL").unlink()
    cached = pipeline.run_plan(_plan(project), sites=["north"], jobs=1)
    assert _statuses(cached)["north/did_site"] == "cached"
    assert not copy.exists()  # the good results are current: the failed copy is gone


def test_the_run_lock_survives_a_deleted_lock_file_and_data_waits_for_a_run(
    project: Path,  # noqa: F811
) -> None:
    """Item 16: a `make clean` mid-run no longer lets a second run (or `data`) start."""
    with pipeline.RunLock():
        results.lock_path().unlink()
        with pytest.raises(pipeline.RunInProgress):
            pipeline.RunLock().__enter__()
        result = CliRunner().invoke(app, ["data"])
        assert result.exit_code == 2 and "a run is in progress" in result.output
    with pipeline.RunLock():  # released
        pass


def test_an_unreadable_build_manifest_is_one_line_and_data_rebuilds(
    project: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 8: a truncated data/processed/manifest.json."""
    monkeypatch.setattr(provenance, "source_checksums", SOURCE_CHECKSUMS)
    manifest = project / "data" / "processed" / "manifest.json"
    manifest.write_text('{"sources": {"vek')
    with pytest.raises(DataError, match="unreadable or incomplete build manifest"):
        pipeline.run_plan(_plan(project), jobs=1)
    assert not results.manifest_path().exists()  # refused before any task was recorded

    for name in panel_build.FILES[:-1]:
        (project / "data" / "processed" / name).write_bytes(b"built")
    monkeypatch.setattr(panel_build, "_acquire_all", lambda mirror, progress: ({}, {}))

    def rebuild(paths: dict) -> None:
        raise RuntimeError("rebuilding")

    monkeypatch.setattr(panel_build, "compute", rebuild)
    with pytest.raises(RuntimeError, match="rebuilding"):  # not a JSONDecodeError
        panel_build.build_panel(None, progress=False)


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (errno.ENOSPC, "free disk space"),
        (errno.EROFS, "writable copy"),
        (errno.EACCES, "writable"),
    ],  # fmt: skip
)
def test_disk_and_permission_errors_are_one_line(
    project: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    said: str,
) -> None:
    """Item 10: ENOSPC and EROFS were tracebacks; only PermissionError was caught."""
    (project / "analysis.yml").write_text("outcomes: [x]\n")
    target = project / "reports" / "results" / "facts.json"

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr("proeftuin.cli.run_cmd.load_plan", lambda: _plan(project))
    monkeypatch.setattr("proeftuin.pipeline.facts.write_facts", full)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code in (1, 2), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and said in lines[0], lines
