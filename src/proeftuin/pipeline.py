"""Execute the plan's tasks: papermill per task, cached, parallel, failure-isolated.

Each task (a design for a region, then the synthesis) runs its notebook template with
papermill on the project kernel, in a separate process (or on a Dask cluster). Outputs are
staged and committed only after the task succeeded: the executed notebook and the result
files are renamed into place, and the provenance record, written last, marks the task as
finished. A task whose cache key (see :mod:`proeftuin.provenance`) matches its finished
record is skipped. A failing task is recorded with its cell and error; the others go on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proeftuin import facts, provenance, settings
from proeftuin.errors import PipelineError
from proeftuin.fileio import atomic_write_json
from proeftuin.plan import Plan, Task


@dataclass
class TaskResult:
    """What happened to one task in a run."""

    task: str
    region: str
    notebook: str
    status: str  # "executed" | "cached" | "failed"
    duration_s: float
    key: str
    error: str | None = None
    cell: str | None = None
    executed_path: str | None = None


@dataclass
class RunSummary:
    results: list[TaskResult] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def executed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "executed"]

    def to_dict(self) -> dict[str, Any]:
        return {"wall_time_s": self.wall_time_s, "tasks": [asdict(r) for r in self.results]}


# ----------------------------------------------------------------------------- cache keys


def task_key_parts(task: Task) -> dict[str, Any]:
    """Everything a task's output depends on, as hashes."""
    return {
        "template": provenance.notebook_hash(task.template),
        "parameters": task.parameters,
        "source": provenance.source_hash(),
        "data": _input_checksums(task),
        "lock": provenance.lock_hash(),
    }


def _input_checksums(task: Task) -> dict[str, str]:
    if task.depends_on:  # the synthesis depends on the finished region results
        return {name: _finished_key(name) for name in task.depends_on}
    return {**provenance.source_checksums(), **provenance.curated_data_hashes()}


def _finished_key(task_name: str) -> str:
    region, notebook = task_name.split("/")
    record = _read_record(settings.results_dir() / region / f"{notebook}.provenance.json")
    return record.get("key", "missing") if record.get("status") == "ok" else "missing"


def _read_record(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


EXECUTED = "<executed notebook>"


def is_current(task: Task, key: str) -> bool:
    """A task is current when its finished record has this key and every output it lists
    is on disk unchanged (same SHA-256 as when the task finished)."""
    record = _read_record(task.provenance_path)
    if record.get("status") != "ok" or record.get("key") != key:
        return False
    recorded = record.get("output_sha256", {})
    return bool(recorded) and all(
        path.is_file() and provenance.sha256_file(path) == digest
        for path, digest in ((_output_path(task, name), d) for name, d in recorded.items())
    )


def _output_path(task: Task, name: str) -> Path:
    return task.executed_path if name == EXECUTED else task.results_dir / name


# ------------------------------------------------------------------------ one execution


def execute_notebook(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill (in a worker process); never raises.

    Returns ``{"ok": True}`` or ``{"ok": False, "error": ..., "cell": ...}``.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    # Workers are long-lived (fork server, Dask): the kernel must see this run's project.
    os.environ[settings.ROOT_ENV] = spec["root"]
    try:
        pm.execute_notebook(
            spec["template"],
            spec["output"],
            parameters=spec["parameters"],
            kernel_name=spec["kernel"],
            language="python",
            cwd=spec["cwd"],
            execution_timeout=spec["timeout"],
            progress_bar=False,
            log_output=False,
            # the kernel's own start-up warnings (e.g. its transport) are noise to a reader
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as exc:
        first_line = (exc.source or "").strip().splitlines()[:1]
        cell = f"cell {exc.cell_index} ({first_line[0] if first_line else 'empty'})"
        return _failure(started, f"{exc.ename}: {exc.evalue}", cell)
    except Exception as exc:  # kernel death, timeout, missing kernel: reported, not raised
        return _failure(started, f"{type(exc).__name__}: {exc}", None)
    return {"ok": True, "duration_s": time.perf_counter() - started}


def _failure(started: float, error: str, cell: str | None) -> dict[str, Any]:
    return {"ok": False, "error": error, "cell": cell, "duration_s": time.perf_counter() - started}


@dataclass
class _Attempt:
    """One task's execution in progress: where its outputs are staged."""

    task: Task
    key: str
    parts: dict[str, Any]
    started: datetime
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def staging_dir(self) -> Path:
        return (
            settings.results_dir()
            / ".staging"
            / f"{self.task.region}-{self.task.notebook}-{self.token}"
        )

    @property
    def staging_notebook(self) -> Path:
        path = self.task.executed_path
        return path.with_name(f".{path.stem}.{self.token}.ipynb")

    @staticmethod
    def _relative(path: Path) -> str:
        """A path relative to the project root (the kernel's working directory)."""
        return str(path.relative_to(settings.project_root()))

    def spec(self, timeout: int) -> dict[str, Any]:
        return {
            "template": str(self.task.template),
            "output": str(self.staging_notebook),
            "parameters": {**self.task.parameters, "results_dir": self._relative(self.staging_dir)},
            "kernel": settings.KERNEL_NAME,
            "cwd": str(settings.project_root()),
            "root": str(settings.project_root()),
            "timeout": timeout,
        }


def _prepare(task: Task, key: str, parts: dict[str, Any]) -> _Attempt:
    attempt = _Attempt(task, key, parts, datetime.now(UTC))
    attempt.staging_dir.mkdir(parents=True, exist_ok=True)
    attempt.staging_notebook.parent.mkdir(parents=True, exist_ok=True)
    return attempt


def _commit(attempt: _Attempt, outcome: dict[str, Any]) -> TaskResult:
    """Move a finished task's outputs into place; the provenance record goes last."""
    task = attempt.task
    _remove_previous_outputs(task)
    if not outcome["ok"]:
        failed_copy = task.executed_path.with_name(f"{task.notebook}.failed.ipynb")
        if attempt.staging_notebook.exists():
            os.replace(attempt.staging_notebook, failed_copy)
        shutil.rmtree(attempt.staging_dir, ignore_errors=True)
        _write_record(attempt, outcome, outputs=[], status="failed")
        return _result(attempt, outcome, "failed", None)
    task.results_dir.mkdir(parents=True, exist_ok=True)
    outputs = sorted(p.name for p in attempt.staging_dir.iterdir() if p.is_file())
    for name in outputs:
        os.replace(attempt.staging_dir / name, task.results_dir / name)
    os.replace(attempt.staging_notebook, task.executed_path)
    task.executed_path.with_name(f"{task.notebook}.failed.ipynb").unlink(missing_ok=True)
    shutil.rmtree(attempt.staging_dir, ignore_errors=True)
    _write_record(attempt, outcome, outputs=outputs, status="ok")
    return _result(attempt, outcome, "executed", str(task.executed_path))


def _remove_previous_outputs(task: Task) -> None:
    """Whatever the attempt's outcome, the previous outputs belong to an older key."""
    record = _read_record(task.provenance_path)
    for name in record.get("outputs", []):
        (task.results_dir / name).unlink(missing_ok=True)
    task.provenance_path.unlink(missing_ok=True)
    task.executed_path.unlink(missing_ok=True)


def _write_record(
    attempt: _Attempt, outcome: dict[str, Any], *, outputs: list[str], status: str
) -> None:
    atomic_write_json(
        attempt.task.provenance_path,
        {
            "task": attempt.task.name,
            "status": status,
            "key": attempt.key,
            "key_parts": attempt.parts,
            "parameters": attempt.task.parameters,
            "outputs": outputs,
            "output_sha256": _output_hashes(attempt.task, outputs) if status == "ok" else {},
            "executed_notebook": str(
                attempt.task.executed_path.relative_to(settings.project_root())
            ),
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
    return {name: provenance.sha256_file(_output_path(task, name)) for name in names}


def _result(
    attempt: _Attempt, outcome: dict[str, Any], status: str, path: str | None
) -> TaskResult:
    task = attempt.task
    return TaskResult(
        task=task.name,
        region=task.region,
        notebook=task.notebook,
        status=status,
        duration_s=round(outcome["duration_s"], 3),
        key=attempt.key,
        error=outcome.get("error"),
        cell=outcome.get("cell"),
        executed_path=path,
    )


# ------------------------------------------------------------------------------ backends


class _ProcessBackend:
    """Local worker processes, forked from a server that imported papermill once.

    A fork server (rather than forking this process) keeps the display's threads out of
    the workers; preloading papermill saves each worker its multi-second import.
    """

    def __init__(self, jobs: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["proeftuin.pipeline", "papermill"])
        self.jobs = jobs
        self._pool = ProcessPoolExecutor(jobs, mp_context=context)

    def submit(self, fn: Callable[[dict[str, Any]], dict[str, Any]], spec: dict[str, Any]) -> Any:
        return self._pool.submit(fn, spec)

    def wait_any(self, handles: list[Any]) -> list[Any]:
        return list(wait(handles, return_when=FIRST_COMPLETED).done)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _DaskBackend:
    """A Dask distributed cluster: ``local`` starts one here, else a scheduler address."""

    def __init__(self, scheduler: str, jobs: int) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler == "local":
            self._cluster = LocalCluster(
                n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(scheduler)
        self.jobs = jobs if self._cluster else max(1, sum(self._client.nthreads().values()))

    def submit(self, fn: Callable[[dict[str, Any]], dict[str, Any]], spec: dict[str, Any]) -> Any:
        return self._client.submit(fn, spec, pure=False)

    def wait_any(self, handles: list[Any]) -> list[Any]:
        from distributed import wait as dask_wait

        return list(dask_wait(handles, return_when="FIRST_COMPLETED").done)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# ------------------------------------------------------------------------------- the run


def run_plan(
    plan: Plan,
    *,
    regions: list[str] | None = None,
    outcomes: list[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    scheduler: str | None = None,
    display: Any = None,
) -> RunSummary:
    """Execute the plan's tasks (region tasks in parallel, then the synthesis)."""
    started = time.perf_counter()
    tasks = plan.tasks(regions, outcomes)
    _check_ready(tasks)
    facts.write_facts(plan)  # the snapshot of sites and outcomes the report prints
    display = display or _SilentDisplay()
    jobs = max(1, jobs or os.cpu_count() or 1)
    summary = RunSummary()
    stages = [[t for t in tasks if not t.depends_on], [t for t in tasks if t.depends_on]]
    display.start(len(tasks))
    backend: _ProcessBackend | _DaskBackend | None = None
    try:
        for stage in stages:
            todo = _plan_stage(stage, force, summary, display)
            if todo and backend is None:
                backend = _DaskBackend(scheduler, jobs) if scheduler else _ProcessBackend(jobs)
            if todo:
                _execute_stage(todo, backend, plan.spec.execution.cell_timeout, summary, display)
    finally:
        if backend is not None:
            backend.close()
        display.stop()
    summary.wall_time_s = round(time.perf_counter() - started, 3)
    atomic_write_json(settings.results_dir() / "run_summary.json", summary.to_dict())
    return summary


def _check_ready(tasks: list[Task]) -> None:
    panel = settings.processed_dir() / "panel.parquet"
    if any(not t.depends_on for t in tasks) and not panel.is_file():
        raise PipelineError(f"no panel at {panel}: run `proeftuin data` first")


def _plan_stage(
    stage: list[Task], force: bool, summary: RunSummary, display: Any
) -> list[tuple[Task, str, dict[str, Any]]]:
    """Split a stage into cached tasks (recorded now) and tasks to execute."""
    todo = []
    for task in stage:
        parts = task_key_parts(task)
        key = provenance.sha256_json(parts)
        if not force and is_current(task, key):
            cached = TaskResult(task.name, task.region, task.notebook, "cached", 0.0, key)
            cached.executed_path = str(task.executed_path)
            summary.results.append(cached)
            display.finished(cached)
        else:
            todo.append((task, key, parts))
    return todo


def _execute_stage(
    todo: list[tuple[Task, str, dict[str, Any]]],
    backend: _ProcessBackend | _DaskBackend,
    timeout: int,
    summary: RunSummary,
    display: Any,
) -> None:
    pending = deque(todo)
    running: dict[Any, _Attempt] = {}
    while pending or running:
        while pending and len(running) < backend.jobs:
            attempt = _prepare(*pending.popleft())
            running[backend.submit(execute_notebook, attempt.spec(timeout))] = attempt
            display.started(attempt.task)
        for handle in backend.wait_any(list(running)):
            attempt = running.pop(handle)
            result = _commit(attempt, _outcome_of(handle))
            summary.results.append(result)
            display.finished(result)


def _outcome_of(handle: Any) -> dict[str, Any]:
    try:
        return handle.result()
    except Exception as exc:  # a worker process died: the task failed, the run goes on
        return {"ok": False, "error": f"worker failed: {exc!r}", "cell": None, "duration_s": 0.0}


class _SilentDisplay:
    """The display protocol, doing nothing (library use and tests)."""

    def start(self, total: int) -> None: ...

    def started(self, task: Task) -> None: ...

    def finished(self, result: TaskResult) -> None: ...

    def stop(self) -> None: ...
