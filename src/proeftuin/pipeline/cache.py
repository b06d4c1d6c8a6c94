"""Cache keys and the finished-task check: a task is skipped when nothing it depends on
changed and its recorded outputs are on disk unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proeftuin.core import provenance
from proeftuin.core.errors import DataError
from proeftuin.core.ids import file_in
from proeftuin.pipeline.plan import Task

EXECUTED = "<executed notebook>"


def task_key_parts(task: Task, dependencies: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a task's output depends on, as hashes.

    ``dependencies`` (for the synthesis): per site task, its cache key when its results
    are good, else its status (``failed``, ``not_run``), so a failure reruns the synthesis.
    """
    return {
        "template": provenance.notebook_hash(task.template),
        "parameters": task.parameters,
        "source": provenance.source_hash(),
        "data": _input_checksums(task, dependencies or {}),
        "lock": provenance.lock_hash(),
    }


def _input_checksums(task: Task, dependencies: dict[str, str]) -> dict[str, str]:
    if task.depends_on:  # the synthesis depends on the finished site results
        return {name: dependencies.get(name, "missing") for name in task.depends_on}
    return {
        **provenance.source_checksums(),
        **provenance.curated_data_hashes(),
        **provenance.processed_hashes(),  # the panel itself, not only its sources
    }


def read_record(path: Path) -> dict[str, Any]:
    """A provenance record, or ``{}`` when missing or unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def is_current(task: Task, key: str) -> bool:
    """A task is current when its finished record has this key and every output it lists
    is on disk unchanged (same SHA-256 as when the task finished)."""
    record = read_record(task.provenance_path)
    if record.get("status") != "ok" or record.get("key") != key:
        return False
    recorded = record.get("output_sha256", {})
    try:
        paths = {output_path(task, name): d for name, d in dict(recorded).items()}
    except (DataError, TypeError, ValueError):  # a record naming files elsewhere: not ours
        return False
    return bool(paths) and all(
        path.is_file() and provenance.sha256_file(path) == digest for path, digest in paths.items()
    )


def output_path(task: Task, name: str) -> Path:
    """The file an output name of a record stands for: a plain file name in the task's
    results folder (``core.ids.file_in``: a record is input, it must not name files
    elsewhere), or the executed notebook."""
    return task.executed_path if name == EXECUTED else file_in(task.results_dir, name)
