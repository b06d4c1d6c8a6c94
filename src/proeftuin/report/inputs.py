"""What the report reads, and where: the facts snapshot, the results files, the task runs and
the executed notebooks' labelled cells. Nothing here reads the plan, the registry or the
outcome catalogue; a copied ``reports/results`` + ``reports/executed`` folder is enough.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import takewhile
from pathlib import Path
from typing import Any

from proeftuin.core import settings
from proeftuin.core.escape import markdown_text
from proeftuin.pipeline import results as run_manifest
from proeftuin.pipeline.facts import Facts, OutcomeFacts, facts_path, read_facts
from proeftuin.pipeline.results import TaskEntry, executed_dir, results_dir
from proeftuin.pipeline.results import relative as rel_root  # noqa: F401 - the pages' paths

SYNTHESIS, VALIDATION, ROBUSTNESS = "synthesis", "validation", "robustness_site"
GLOBAL_FOLDERS = (SYNTHESIS, VALIDATION)
Rows = list[dict[str, str]]


def reports_dir(*parts: str) -> Path:
    """``reports/`` or a folder in it (``_generated``, ``sites``, ``templates``)."""
    return settings.project_root().joinpath("reports", *parts)


def executed_notebook(folder: str, name: str) -> Path:
    return executed_dir(folder) / f"{name}.ipynb"


def facts() -> Facts:
    """The facts snapshot of the last run (re-read only when the file changed)."""
    path = facts_path()
    return _facts(path, path.stat().st_mtime_ns if path.is_file() else 0)


@lru_cache(maxsize=4)
def _facts(path: Path, stamp: int) -> Facts:  # its texts as Markdown text, never markup
    return read_facts(path).escaped(markdown_text)


def sites() -> list[str]:
    return [s.id for s in facts().sites]


def site_name(site_id: str) -> str:
    return found.name if (found := facts().site(site_id)) else site_id


def outcome(name: str) -> OutcomeFacts:
    """An outcome's facts; its bare name (no unit, no direction) when the snapshot lacks it."""
    bare = OutcomeFacts.model_construct(name=name, label=name, unit="", dimension="", better="")
    return facts().outcome(name) or bare


def outcome_label(name: str) -> str:
    """``Label (unit)`` for a reader, without repeating a unit the label already names."""
    label, unit = outcome(name).label, outcome(name).unit
    head, _, inner = label.removesuffix(")").rpartition(" (")  # "Good health (%)", "% of adults"
    if not unit or unit == "ratio" or unit in label:
        return label
    return f"{head} ({unit})" if head and label.endswith(")") and unit.startswith(inner) else (
        f"{label} ({unit})")  # fmt: skip


def read_csv(path: Path) -> Rows:
    """Rows of a results CSV (empty when the file is missing)."""
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8")))) if path.is_file() else []


def read_json(path: Path) -> Any:
    """A JSON file's content; ``None`` when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def rows(folder: str, name: str) -> Rows:
    return read_csv(results_dir(folder) / name)


def figure_file(folder: str, label: str) -> Path:
    """The file a notebook saved for a labelled figure (``figures.save_figure``)."""
    return results_dir(folder) / f"{label}.png"


@dataclass
class TaskRun:
    """One task as the run manifest states it (``site/notebook``, status, parameters,
    executed notebook, error or note, run time), with what only its provenance record
    carries: the code version, lock-file hash and input checksums that made its results."""

    entry: TaskEntry
    code_version: str = "–"  # ``git describe``; ``-dirty``: uncommitted changes
    lock_hash: str = "–"
    data_checksums: dict[str, str] = field(default_factory=dict)
    duration_s: float | None = None
    finished: str = "–"

    @property
    def folder(self) -> str:
        return self.entry.name.split("/", 1)[0]

    def row(self) -> dict[str, Any]:
        """The task for the runs tables: its site by name, the code version in words."""
        version = self.code_version.removesuffix("-dirty")
        dirty = " (uncommitted changes)" if self.code_version.endswith("-dirty") else ""
        return {"name": f"{site_name(self.folder)}: {self.entry.notebook}",
                "notebook": self.entry.notebook, "status": self.entry.status.replace("_", " "),
                "code_version": f"`{version}`{dirty}" if version != "–" else version,
                "lock": f"`{self.lock_hash[:16]}`", "duration_s": self.duration_s,
                "finished": self.finished}  # fmt: skip


@dataclass
class Runs:
    tasks: list[TaskRun] = field(default_factory=list)
    wall_time_s: float | None = None
    problem: str = ""  # why there is no manifest to read

    def of(self, site: str) -> dict[str, TaskRun]:
        """The site's tasks by notebook."""
        return {t.entry.notebook: t for t in self.tasks if t.folder == site}

    def incomplete(self, site: str) -> list[str]:
        """One line per task of the site that did not succeed (what, where, why)."""
        tasks = self.of(site).values()
        if not tasks:
            return [self.problem or f"no task of `{site}` is in the run manifest"]
        return [t.entry.describe() for t in tasks if not t.entry.succeeded]


def read_runs() -> Runs:
    """Which tasks ran, and how: THE one reader of run records. The run manifest
    (:func:`proeftuin.pipeline.results.read_manifest`) says which tasks there are, their status,
    parameters, executed notebook and error; a succeeded task's provenance record (same cache
    key) adds the code version, lock-file hash and data checksums that made its results, and,
    for a cached task, the run time of the run that made them."""
    try:
        manifest = run_manifest.read_manifest()
    except run_manifest.ManifestError as exc:
        return Runs(problem=str(exc))
    tasks = []
    for entry in manifest.tasks:
        folder = entry.name.split("/", 1)[0]
        record = read_json(results_dir(folder) / f"{entry.notebook}.provenance.json")
        if not (isinstance(record, dict) and entry.succeeded and record.get("key") == entry.key):
            record = {}
        parts = record.get("key_parts") or {}
        duration = record.get("duration_s") if entry.status == "cached" else entry.duration_s
        tasks.append(TaskRun(entry, str(record.get("code_version") or "–"),
                             str(parts.get("lock") or "–"), dict(parts.get("data") or {}),
                             duration, str(record.get("finished") or "–")))  # fmt: skip
    wall = (manifest.updated - manifest.created).total_seconds()
    return Runs(tasks, wall if manifest.state == "complete" else None)


def notebook_labels(path: Path) -> dict[str, dict[str, str]]:
    """Quarto cell options (``#| key: value`` lines at the top) of an executed notebook's
    labelled code cells, by label."""
    data = read_json(path)
    found = []
    for cell in data.get("cells", []) if isinstance(data, dict) else []:
        source = cell.get("source", "")
        lines = ("".join(source) if isinstance(source, list) else str(source)).splitlines()
        head = (line[2:].partition(":") for line in takewhile(lambda x: x[:2] == "#|", lines))
        options = {k.strip(): v.strip().strip("\"'") for k, _, v in head}
        found.append(options if cell.get("cell_type") == "code" else {})
    return {o["label"]: o for o in found if o.get("label")}
