"""The run manifest as a run goes: every task of the plan with its truthful status.

Written when the run starts (tasks to run are ``not_run``), after every task that finishes,
and at the end (``complete`` or ``interrupted``). A run that is killed leaves the manifest
of its last finished task: ``state: running`` with the rest ``not_run``.
"""

from __future__ import annotations

import os

from proeftuin.core import provenance
from proeftuin.pipeline import results
from proeftuin.pipeline.cache import output_path, read_record
from proeftuin.pipeline.commit import TaskResult
from proeftuin.pipeline.plan import Plan, Task
from proeftuin.pipeline.results import Manifest, OutputFile, TaskEntry, TaskError

STATUS = {
    "executed": "ok",
    "cached": "cached",
    "failed": "failed",
    "interrupted": "interrupted",
    "not_run": "not_run",
}


class Tracker:
    """Keeps the manifest of one run: the whole plan (or an outcome subset's tasks)."""

    def __init__(self, plan: Plan, tasks: list[Task]) -> None:
        subset = tasks[0].subset if tasks else None
        scope = tasks if subset else plan.tasks()
        self.plan_hash = plan.hash()
        self._tasks = {t.name: t for t in scope}
        stamp = results.now()
        self.manifest = Manifest(
            plan_hash=self.plan_hash,
            code_version=provenance.code_version(),
            created=stamp,
            updated=stamp,
            pid=os.getpid(),
            subset=subset,
            tasks=[_entry(t, "not_run", note="not run yet") for t in scope],
        )

    def unselected(self, selected: list[Task]) -> list[Task]:
        names = {t.name for t in selected}
        return [t for t in self._tasks.values() if t.name not in names]

    def stale(self, task: Task, key: str) -> None:
        """A task outside this run whose results on disk are not current."""
        record = read_record(task.provenance_path)
        if record.get("status") == "failed" and record.get("key") == key:  # still failed
            message = (record.get("error") or "failed").strip().splitlines() or ["failed"]
            error = TaskError(
                site=task.site, notebook=task.notebook, cell=record.get("cell"),
                message=message[0],
            )  # fmt: skip
            self._set(_entry(task, "failed", key=key, error=error, note="not rerun"))
            return
        if not record:
            note = "never run: run without --site"
        elif record.get("plan_hash") not in (None, self.plan_hash):
            note = (
                f"results on disk are from plan {str(record['plan_hash'])[:12]}, not the "
                f"current plan {self.plan_hash[:12]}: run without --site"
            )
        else:
            note = "results on disk are out of date: run without --site"
        self._set(_entry(task, "not_run", key=key, note=note))

    def record(self, result: TaskResult, note: str | None = None) -> None:
        task = self._tasks[result.task]
        error = None
        if result.status == "failed":
            message = (result.error or "failed").strip().splitlines() or ["failed"]
            error = TaskError(
                site=task.site, notebook=task.notebook, cell=result.cell, message=message[0]
            )
        outputs = [
            OutputFile(path=results.relative(output_path(task, name)), sha256=digest)
            for name, digest in sorted(result.outputs.items())
        ]
        entry = _entry(task, STATUS[result.status], key=result.key, error=error, note=note)
        entry.outputs = outputs
        entry.duration_s = result.duration_s
        if result.status in ("executed", "cached"):
            entry.executed_notebook = results.relative(task.executed_path)
        self._set(entry)

    def dependencies(self, names: tuple[str, ...]) -> dict[str, str]:
        """Per task: its key when its results are good, else its status."""
        out = {}
        for name in names:
            entry = self.manifest.task(name)
            out[name] = "missing" if entry is None else (
                entry.key if entry.succeeded else entry.status
            )  # fmt: skip
        return out

    def finish(self, state: str) -> None:
        self.manifest.state = state  # type: ignore[assignment]
        self.write()

    def write(self) -> None:
        results.write_manifest(self.manifest)

    def _set(self, entry: TaskEntry) -> None:
        self.manifest.tasks = [entry if t.name == entry.name else t for t in self.manifest.tasks]
        self.write()


def _entry(task: Task, status: str, **fields: object) -> TaskEntry:
    return TaskEntry(
        name=task.name,
        site=task.site,
        notebook=task.notebook,
        template=results.relative(task.template),
        status=status,  # type: ignore[arg-type]
        parameters=task.parameters,
        **fields,  # type: ignore[arg-type]
    )
