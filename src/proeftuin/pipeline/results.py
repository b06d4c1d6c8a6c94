"""The results contract: where results live, and the run manifest that says what they are.

One module owns the results folder's layout and the run manifest
(``reports/results/manifest.json``): its file name, its schema (pydantic), its writer and
its reader. The pipeline writes the manifest atomically when a run starts, after every
task that finishes and when the run ends, so that an interrupted or killed run leaves a
manifest that is true about what finished. The synthesis and the report read it to know
which results are complete, failed, missing or made under another plan.

Manifest schema (``SCHEMA_VERSION`` 1)::

    schema_version  int        1
    plan_hash       str        SHA-256 of the validated plan (periods, defaults, outcomes,
                               designs, every site's merged parameters)
    code_version    str        ``git describe`` of the code that ran
    created         datetime   when the run started (UTC)
    updated         datetime   last write
    state           str        running | complete | interrupted
    pid             int        the run's process id
    subset          str|None   outcome subset tag (results in ``subsets/<tag>/``), else None
    tasks           list[TaskEntry]
      name          str        ``<site>/<notebook>``
      site        str|None   site id, or None for the global tasks (validation, synthesis)
      notebook      str        notebook template name
      template      str        template path, relative to the project root
      status        str        ok | cached | failed | not_run | interrupted
      parameters    dict       the task's parameters
      key           str        cache key (see ``proeftuin.core.provenance``)
      outputs       list       {path (relative to the project root), sha256}
      executed_notebook  str|None  executed notebook path, relative to the project root
      error         TaskError|None  {site, notebook, cell, message (one line)}
      note          str|None   why a task did not run (e.g. results from another plan)
      duration_s    float
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proeftuin.core import settings
from proeftuin.core.errors import DataError, ResultsError
from proeftuin.core.fileio import atomic_write_text
from proeftuin.core.ids import check_id, id_problem, inside, shown
from proeftuin.core.provenance import sha256_file

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
RUN_SUMMARY_NAME = "run_summary.json"
LOCK_NAME = ".run.lock"
STAGING_NAME = ".staging"
SUBSETS_NAME = "subsets"
GOOD = ("ok", "cached")
Status = Literal["ok", "cached", "failed", "not_run", "interrupted"]
RunState = Literal["running", "complete", "interrupted"]


class ManifestError(ResultsError):
    """The run manifest is missing or unreadable."""


# ----------------------------------------------------------------------------- paths


def results_dir(folder: str = "", subset: str | None = None) -> Path:
    """``reports/results`` (or a subset run's folder in it), or one task folder in it."""
    return _folder(settings.results_dir(), folder, subset)


def executed_dir(folder: str = "", subset: str | None = None) -> Path:
    """``reports/executed`` (or a subset run's folder in it), or one task folder in it."""
    return _folder(settings.executed_dir(), folder, subset)


def _folder(base: Path, folder: str, subset: str | None) -> Path:
    """``base[/subsets/<subset>][/<folder>]``: the folder an id (``core.ids``), the whole
    inside ``base`` (nothing from a file writes or deletes elsewhere)."""
    parts = [SUBSETS_NAME, subset] if subset else []
    if folder:
        parts.append(check_id(folder, "task folder"))
    return inside(base, *parts) if parts else base


def manifest_path(subset: str | None = None) -> Path:
    return results_dir(subset=subset) / MANIFEST_NAME


def run_summary_path(subset: str | None = None) -> Path:
    return results_dir(subset=subset) / RUN_SUMMARY_NAME


def lock_path() -> Path:
    return settings.results_dir() / LOCK_NAME


def staging_dir() -> Path:
    return settings.results_dir() / STAGING_NAME


def relative(path: Path) -> str:
    """A path relative to the project root (as given when it lies elsewhere)."""
    try:
        return path.relative_to(settings.project_root()).as_posix()
    except ValueError:
        return path.as_posix()


# ---------------------------------------------------------------------------- schema


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutputFile(_Model):
    path: str
    sha256: str


class TaskError(_Model):
    site: str | None
    notebook: str
    cell: str | None
    message: str


class TaskEntry(_Model):
    name: str
    site: str | None
    notebook: str
    template: str
    status: Status
    parameters: dict[str, Any] = Field(default_factory=dict)
    key: str = ""
    outputs: list[OutputFile] = Field(default_factory=list)
    executed_notebook: str | None = None
    error: TaskError | None = None
    note: str | None = None
    duration_s: float = 0.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        folder, _, notebook = value.partition("/")
        if problem := id_problem(folder) or id_problem(notebook):
            raise ValueError(f"task name: {problem}")
        return value

    @field_validator("site", "notebook")
    @classmethod
    def _ids(cls, value: str | None) -> str | None:
        if value is not None and (problem := id_problem(value)):
            raise ValueError(problem)
        return value

    @property
    def succeeded(self) -> bool:
        return self.status in GOOD

    def describe(self) -> str:
        """One line: the task, its status and why."""
        text = f"{self.name}: {self.status.replace('_', ' ')}"
        if self.error is not None:
            where = f" in {self.error.cell}" if self.error.cell else ""
            text += f"{where}: {self.error.message}"
        elif self.note:
            text += f" ({self.note})"
        return text


class Manifest(_Model):
    schema_version: int = SCHEMA_VERSION
    plan_hash: str
    code_version: str
    created: datetime
    updated: datetime
    state: RunState = "running"
    pid: int = 0
    subset: str | None = None
    tasks: list[TaskEntry] = Field(default_factory=list)

    def task(self, name: str) -> TaskEntry | None:
        return next((t for t in self.tasks if t.name == name), None)

    def incomplete(self) -> list[TaskEntry]:
        """Tasks whose results are not there for the manifest's plan."""
        return [t for t in self.tasks if not t.succeeded]

    def problems(self, plan_hash: str | None = None) -> list[str]:
        """Why results built on this manifest are not complete and current (one line each)."""
        found = []
        if plan_hash is not None and plan_hash != self.plan_hash:
            found.append(
                f"the results were made under plan {self.plan_hash[:12]}, but analysis.yml is "
                f"now plan {plan_hash[:12]}: rerun `proeftuin run`"
            )
        if self.state != "complete":
            found.append(f"the run that wrote them did not finish (state: {self.state})")
        found += [t.describe() for t in self.incomplete()]
        return found


def now() -> datetime:
    return datetime.now(UTC)


def write_manifest(manifest: Manifest, path: Path | None = None) -> Path:
    """Write the manifest atomically (a reader sees the old or the new one, never half)."""
    manifest.updated = now()
    path = path or manifest_path(manifest.subset)
    return atomic_write_text(path, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(path: Path | None = None) -> Manifest:
    """The run manifest; :class:`ManifestError` (one line) when missing or invalid."""
    path = path or manifest_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no run manifest at {path}: run `proeftuin run` first") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"{path}: unreadable run manifest ({exc}); rerun `proeftuin run`"
        ) from None
    if isinstance(raw, dict) and raw.get("schema_version") != SCHEMA_VERSION:
        raise ManifestError(
            f"{path}: manifest schema {raw.get('schema_version')!r}, expected "
            f"{SCHEMA_VERSION}: rerun `proeftuin run`"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(f"{path}: invalid run manifest at {where}: {first['msg']}") from None


def results_problems(plan_hash: str | None = None) -> list[str]:
    """Why the results folder is not a complete run of the plan (empty when it is): the
    manifest's own problems, then every file that is not what the manifest recorded."""
    try:
        manifest = read_manifest()
    except ManifestError as exc:
        return [str(exc)]
    return manifest.problems(plan_hash) + file_problems(manifest)


def file_problems(manifest: Manifest) -> list[str]:
    """Results on disk that are not what the run recorded (one line each): per task that
    succeeded, an output missing or changed (its SHA-256 differs), a provenance record
    missing, unreadable or of another run; and a facts snapshot missing or unreadable.
    Results are trusted only when every file is the one the manifest names."""
    from proeftuin.pipeline.facts import facts_problem

    root, rerun = settings.project_root(), "rerun `proeftuin run`"
    found = []
    for task in (t for t in manifest.tasks if t.succeeded):
        for output in task.outputs:
            try:
                if not output.path.startswith("reports/"):
                    raise DataError(output.path)
                path = inside(root / "reports", output.path.removeprefix("reports/"))
            except DataError:
                found.append(f"{task.name}: output {shown(output.path)} is not in reports/")
                continue
            if not path.is_file():
                found.append(f"{task.name}: {output.path} is missing: {rerun}")
            elif sha256_file(path) != output.sha256:
                found.append(f"{task.name}: {output.path} changed since the run: {rerun}")
        folder, _, notebook = task.name.partition("/")
        record = results_dir(folder, manifest.subset) / f"{notebook}.provenance.json"
        try:
            key = json.loads(record.read_text(encoding="utf-8")).get("key")
        except (OSError, ValueError, AttributeError):
            key = None
        if key != task.key:
            found.append(f"{task.name}: {relative(record)} is missing, unreadable or of "
                         f"another run: {rerun}")  # fmt: skip
    if manifest.subset is None and (problem := facts_problem(manifest.tasks)):
        found.append(problem)
    return found
