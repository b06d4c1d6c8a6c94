"""Staging and committing one task's outputs.

A task writes into a staging folder and a hidden notebook; only when it succeeded are its
outputs renamed into place, the provenance record written last. A failure never removes
the outputs of an earlier successful run of the same task (same cache key): only a
successful run replaces them. Outputs made under another key are removed on any outcome,
so stale results never look finished.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proeftuin.core import provenance, settings
from proeftuin.core.errors import DataError
from proeftuin.core.fileio import atomic_write_json
from proeftuin.pipeline import results
from proeftuin.pipeline.cache import EXECUTED, output_path, read_record
from proeftuin.pipeline.plan import Task

# One BLAS thread per kernel: a multi-threaded BLAS splits sums by its thread count, so
# results would change in the last digits with the machine's cores or the scheduler (Dask
# workers use one thread). Parallelism comes from running tasks side by side instead.
THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
KERNEL_THREADS = dict.fromkeys(THREAD_SETTINGS, "1")
# One string-hash seed for every kernel: with Python's random one per process, the order in
# which sets of names are walked (inside the fitting libraries) changed the last digits of
# the DiD estimates from one kernel to the next (measured: 1e-14 relative on did_site).
KERNEL_ENV = {**KERNEL_THREADS, "PYTHONHASHSEED": "0"}


@dataclass
class TaskResult:
    """What happened to one task in a run."""

    task: str
    folder: str
    notebook: str
    status: str  # "executed" | "cached" | "failed" | "interrupted" | "not_run"
    duration_s: float
    key: str
    error: str | None = None
    cell: str | None = None
    executed_path: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # name -> SHA-256


@dataclass
class Attempt:
    """One task's execution in progress: where its outputs are staged."""

    task: Task
    key: str
    parts: dict[str, Any]
    plan_hash: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def staging_dir(self) -> Path:
        return results.staging_dir() / f"{self.task.folder}-{self.task.notebook}-{self.token}"

    @property
    def staging_notebook(self) -> Path:
        path = self.task.executed_path
        return path.with_name(f".{path.stem}.{self.token}.ipynb")

    def spec(self, timeout: int, *, warm: bool = False) -> dict[str, Any]:
        """What a worker needs to run the task; ``warm``: on the worker's warm kernel."""
        root = settings.project_root()
        return {
            "template": str(self.task.template),
            "output": str(self.staging_notebook),
            "parameters": {
                **self.task.parameters,
                "results_dir": str(self.staging_dir.relative_to(root)),
            },
            "kernel": settings.KERNEL_NAME,
            "cwd": str(root),
            "root": str(root),
            "env": {**settings.environment(), **KERNEL_ENV},
            "timeout": timeout,
            "warm": warm,
        }


def prepare(task: Task, key: str, parts: dict[str, Any], plan_hash: str) -> Attempt:
    attempt = Attempt(task, key, parts, plan_hash)
    attempt.staging_dir.mkdir(parents=True, exist_ok=True)
    attempt.staging_notebook.parent.mkdir(parents=True, exist_ok=True)
    return attempt


def discard(attempt: Attempt) -> None:
    """Remove an unfinished attempt's staged files (an interrupted task)."""
    shutil.rmtree(attempt.staging_dir, ignore_errors=True)
    attempt.staging_notebook.unlink(missing_ok=True)


def commit(attempt: Attempt, outcome: dict[str, Any]) -> TaskResult:
    """Move a finished task's outputs into place; the provenance record goes last."""
    task = attempt.task
    if not outcome["ok"]:
        failed_copy = task.executed_path.with_name(f"{task.notebook}.failed.ipynb")
        if attempt.staging_notebook.exists():
            os.replace(attempt.staging_notebook, failed_copy)
        shutil.rmtree(attempt.staging_dir, ignore_errors=True)
        if read_record(task.provenance_path).get("key") != attempt.key:
            _remove_previous_outputs(task)  # made under another key: stale either way
            _write_record(attempt, outcome, outputs=[], status="failed")
        return _result(attempt, outcome, "failed", None, {})
    _remove_previous_outputs(task)
    task.results_dir.mkdir(parents=True, exist_ok=True)
    outputs = sorted(p.name for p in attempt.staging_dir.iterdir() if p.is_file())
    for name in outputs:
        os.replace(attempt.staging_dir / name, task.results_dir / name)
    os.replace(attempt.staging_notebook, task.executed_path)
    task.executed_path.with_name(f"{task.notebook}.failed.ipynb").unlink(missing_ok=True)
    shutil.rmtree(attempt.staging_dir, ignore_errors=True)
    hashes = _output_hashes(task, outputs)
    _write_record(attempt, outcome, outputs=outputs, status="ok", hashes=hashes)
    return _result(attempt, outcome, "executed", str(task.executed_path), hashes)


def _remove_previous_outputs(task: Task) -> None:
    """Remove what the task's last record lists; a name that is not a plain file in the
    task's results folder (an edited or copied record) is left alone, never followed."""
    record = read_record(task.provenance_path)
    names = record.get("outputs", [])
    for name in names if isinstance(names, list) else []:
        try:
            output_path(task, name).unlink(missing_ok=True)
        except DataError:
            continue
    task.provenance_path.unlink(missing_ok=True)
    task.executed_path.unlink(missing_ok=True)


def _write_record(
    attempt: Attempt,
    outcome: dict[str, Any],
    *,
    outputs: list[str],
    status: str,
    hashes: dict[str, str] | None = None,
) -> None:
    atomic_write_json(
        attempt.task.provenance_path,
        {
            "task": attempt.task.name,
            "status": status,
            "key": attempt.key,
            "key_parts": attempt.parts,
            "plan_hash": attempt.plan_hash,
            "parameters": attempt.task.parameters,
            "outputs": outputs,
            "output_sha256": hashes or {},
            "executed_notebook": results.relative(attempt.task.executed_path),
            "code_version": provenance.code_version(),
            "package_versions": provenance.package_versions(),
            "started": attempt.started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "duration_s": round(outcome["duration_s"], 3),
            "error": outcome.get("error"),
            "cell": outcome.get("cell"),
        },
    )


def _output_hashes(task: Task, outputs: list[str]) -> dict[str, str]:
    names = [*outputs, EXECUTED]
    return {name: provenance.sha256_file(output_path(task, name)) for name in names}


def _result(
    attempt: Attempt,
    outcome: dict[str, Any],
    status: str,
    path: str | None,
    hashes: dict[str, str],
) -> TaskResult:
    task = attempt.task
    return TaskResult(
        task=task.name,
        folder=task.folder,
        notebook=task.notebook,
        status=status,
        duration_s=round(outcome["duration_s"], 3),
        key=attempt.key,
        error=outcome.get("error"),
        cell=outcome.get("cell"),
        executed_path=path,
        outputs=hashes,
    )
