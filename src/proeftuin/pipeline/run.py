"""The run: the plan's tasks in stages (sites and validation, then the synthesis), under
the run lock, with the manifest kept current and interrupts handled."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from proeftuin.core import provenance, settings
from proeftuin.core.errors import PipelineError
from proeftuin.core.fileio import atomic_write_json
from proeftuin.pipeline import facts, results
from proeftuin.pipeline.cache import is_current, read_record, task_key_parts
from proeftuin.pipeline.commit import Attempt, TaskResult, commit, discard, prepare
from proeftuin.pipeline.guard import InterruptGuard, RunInProgress, RunLock, clear_stale
from proeftuin.pipeline.plan import Plan, Task
from proeftuin.pipeline.tracking import Tracker
from proeftuin.pipeline.worker import Backend, DaskBackend, ProcessBackend, execute_notebook

POLL_S = 0.25
#: Notebooks from the longest to the shortest, as measured (a cold run with RI by
#: projection: synth 25, did 11, robustness 6, its 4, validation 2 s per site): the order
#: of a run without records of earlier durations.
TYPICAL_ORDER = ("synth_site", "did_site", "robustness_site", "its_site", "validation")


@dataclass
class RunSummary:
    results: list[TaskResult] = field(default_factory=list)
    wall_time_s: float = 0.0
    interrupted: bool = False
    subset: str | None = None

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def executed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "executed"]

    @property
    def not_run(self) -> list[TaskResult]:
        return [r for r in self.results if r.status in ("not_run", "interrupted")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_time_s": self.wall_time_s,
            "interrupted": self.interrupted,
            "subset": self.subset,
            "tasks": [asdict(r) for r in self.results],
        }


def run_plan(
    plan: Plan,
    *,
    sites: list[str] | None = None,
    outcomes: list[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    scheduler: str | None = None,
    display: Any = None,
    fresh_kernels: bool = False,
) -> RunSummary:
    """Execute the plan's tasks (site tasks in parallel, then the synthesis).

    Tasks start longest first (:func:`longest_first`), so no long task starts last while
    the other workers idle. Each worker keeps one kernel warm between its tasks, reset to
    a fresh kernel's state (:mod:`proeftuin.pipeline.kernel`); ``fresh_kernels`` starts a
    new kernel for every task instead.

    Raises :class:`PipelineError` (one line) when the run cannot start. On SIGINT the run
    stops: finished tasks are committed, running ones stopped (``interrupted``), the rest
    left ``not_run``; the summary says ``interrupted``.
    """
    settings.resolve_environment()
    started = time.perf_counter()
    tasks = plan.tasks(sites, outcomes)
    _check_ready(tasks)
    try:
        with RunLock(), InterruptGuard() as guard:
            clear_stale()
            if not tasks or not tasks[0].subset:  # a subset run leaves the full results alone
                facts.write_facts(plan)  # the snapshot of sites and outcomes the report prints
            summary = _run(plan, tasks, guard, jobs, force, scheduler, display, not fresh_kernels)
    except RunInProgress as exc:
        raise PipelineError(str(exc)) from None
    except PermissionError as exc:
        raise PipelineError(
            f"cannot write to {exc.filename or settings.results_dir()}: permission denied; "
            "make reports/ writable (or set PROEFTUIN_ROOT to a writable copy)"
        ) from None
    summary.wall_time_s = round(time.perf_counter() - started, 3)
    atomic_write_json(results.run_summary_path(summary.subset), summary.to_dict())
    return summary


def _check_ready(tasks: list[Task]) -> None:
    """The built panel and its manifest are there and readable (else one line, before the
    lock and the manifest are touched)."""
    panel = settings.processed_dir() / "panel.parquet"
    if any(not t.depends_on for t in tasks):
        if not panel.is_file():
            raise PipelineError(f"no panel at {panel}: run `proeftuin data` first")
        provenance.source_checksums()  # a DataError naming the manifest and what to do


def _run(
    plan: Plan,
    tasks: list[Task],
    guard: InterruptGuard,
    jobs: int | None,
    force: bool,
    scheduler: str | None,
    display: Any,
    warm: bool,
) -> RunSummary:
    display = display or _SilentDisplay()
    jobs = max(1, jobs or os.cpu_count() or 1)
    tracker = Tracker(plan, tasks)
    summary = RunSummary(subset=tracker.manifest.subset)
    tracker.write()
    for task in tracker.unselected(tasks):  # other sites: current, or said to be stale
        key = provenance.sha256_json(task_key_parts(task))
        if is_current(task, key):
            tracker.record(_cached(task, key))
        else:
            tracker.stale(task, key)
    stages = [[t for t in tasks if not t.depends_on], [t for t in tasks if t.depends_on]]
    display.start(len(tasks))
    backend: Backend | None = None
    interrupted: list[Attempt] = []  # their staged files go once the workers are stopped
    try:
        for stage in stages:
            if guard.stopped.is_set():
                _skip(stage, summary, tracker, display)
                continue
            todo = _plan_stage(stage, force, summary, tracker, display)
            if todo and backend is None:
                backend = DaskBackend(scheduler, jobs) if scheduler else ProcessBackend(jobs)
            if todo:
                timeout = plan.spec.execution.cell_timeout
                todo = longest_first(todo)
                _execute(
                    todo, backend, (timeout, warm), summary, tracker, display, guard, interrupted
                )
    finally:
        if backend is not None:
            backend.close(kill=guard.stopped.is_set())
        for attempt in interrupted:  # a stopped worker can no longer write them
            discard(attempt)
        display.stop()
    summary.interrupted = guard.stopped.is_set()
    tracker.finish("interrupted" if summary.interrupted else "complete")
    return summary


def longest_first(
    todo: list[tuple[Task, str, dict[str, Any]]],
) -> list[tuple[Task, str, dict[str, Any]]]:
    """The tasks by expected duration, longest first (the makespan of a greedy schedule is
    then at most 4/3 of the best). Expected: the duration its last record says (any cache
    key), else its notebook's typical rank (``TYPICAL_ORDER``); ties keep plan order."""
    rank = {name: len(TYPICAL_ORDER) - i for i, name in enumerate(TYPICAL_ORDER)}

    def expected(item: tuple[Task, str, dict[str, Any]]) -> tuple[float, float]:
        task = item[0]
        seconds = read_record(task.provenance_path).get("duration_s")
        return (float(seconds) if isinstance(seconds, int | float) else -1.0,
                rank.get(task.notebook, 0))  # fmt: skip

    return sorted(todo, key=expected, reverse=True)


def _cached(task: Task, key: str) -> TaskResult:
    """A current task: its record's outputs; a failed copy of an earlier attempt goes (the
    results on disk are the good ones)."""
    task.executed_path.with_name(f"{task.notebook}.failed.ipynb").unlink(missing_ok=True)
    record = read_record(task.provenance_path)
    result = TaskResult(task.name, task.folder, task.notebook, "cached", 0.0, key)
    result.executed_path = str(task.executed_path)
    result.outputs = dict(record.get("output_sha256", {}))
    return result


def _plan_stage(
    stage: list[Task], force: bool, summary: RunSummary, tracker: Tracker, display: Any
) -> list[tuple[Task, str, dict[str, Any]]]:
    """Split a stage into cached tasks (recorded now) and tasks to execute."""
    todo = []
    for task in stage:
        parts = task_key_parts(task, tracker.dependencies(task.depends_on))
        key = provenance.sha256_json(parts)
        if not force and is_current(task, key):
            cached = _cached(task, key)
            summary.results.append(cached)
            tracker.record(cached)
            display.finished(cached)
        else:
            todo.append((task, key, parts))
    return todo


def _execute(
    todo: list[tuple[Task, str, dict[str, Any]]],
    backend: Backend,
    execution: tuple[int, bool],
    summary: RunSummary,
    tracker: Tracker,
    display: Any,
    guard: InterruptGuard,
    interrupted: list[Attempt],
) -> None:
    pending = deque(todo)
    running: dict[Any, Attempt] = {}
    while (pending or running) and not guard.stopped.is_set():
        while pending and len(running) < backend.jobs:
            attempt = prepare(*pending.popleft(), plan_hash=tracker.plan_hash)
            spec = attempt.spec(execution[0], warm=execution[1])
            running[backend.submit(execute_notebook, spec)] = attempt
            display.started(attempt.task)
        for handle in backend.wait_any(list(running), POLL_S):
            _finish(running.pop(handle), _outcome_of(handle), summary, tracker, display)
    for handle, attempt in list(running.items()):  # interrupted: keep what finished
        if handle.done() and not handle.cancelled():
            _finish(attempt, _outcome_of(handle), summary, tracker, display)
            continue
        handle.cancel()
        interrupted.append(attempt)  # its worker may still write: discarded once stopped
        _stop(attempt.task, attempt.key, "interrupted", summary, tracker, display)
    _skip([task for task, _, _ in pending], summary, tracker, display)


def _finish(
    attempt: Attempt, outcome: dict[str, Any], summary: RunSummary, tracker: Tracker, display: Any
) -> None:
    result = commit(attempt, outcome)
    summary.results.append(result)
    tracker.record(result)
    display.finished(result)


def _skip(tasks: list[Task], summary: RunSummary, tracker: Tracker, display: Any) -> None:
    for task in tasks:
        _stop(task, "", "not_run", summary, tracker, display)


def _stop(
    task: Task, key: str, status: str, summary: RunSummary, tracker: Tracker, display: Any
) -> None:
    result = TaskResult(task.name, task.folder, task.notebook, status, 0.0, key)
    summary.results.append(result)
    tracker.record(result, note="the run was interrupted")
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
