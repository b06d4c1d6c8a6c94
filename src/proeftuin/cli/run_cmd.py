"""``proeftuin run``: execute the plan's notebooks with a live progress display."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from proeftuin.pipeline.plan import PlanError, Task, load_plan

console = Console(stderr=True)
WIDE = 400  # columns when the output is not a terminal: nothing cut, nothing wrapped
INTERRUPTED_EXIT = 130

JobsOption = Annotated[
    int | None, typer.Option("--jobs", "-j", help="Parallel processes (default: all cores).")
]
_last_run_failed = False


MARKS = {
    "executed": "[green]✓",
    "cached": "[dim]=",
    "failed": "[red]✗",
    "interrupted": "[yellow]![/]",
    "not_run": "[yellow]-[/]",
}
STYLES = {
    "executed": "green",
    "cached": "dim",
    "failed": "red",
    "interrupted": "yellow",
    "not_run": "yellow",
}


class ProgressDisplay:
    """A live display: one bar for the run, one row per running task with its elapsed time."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self._rows: dict[str, TaskID] = {}
        self._overall: TaskID | None = None

    def start(self, total: int) -> None:
        self._progress.start()
        self._overall = self._progress.add_task("[bold]evaluation", total=total)

    def started(self, task: Task) -> None:
        self._rows[task.name] = self._progress.add_task(
            f"  {task.folder} · {task.notebook}", total=None
        )

    def finished(self, result) -> None:  # noqa: ANN001 - pipeline.TaskResult
        row = self._rows.pop(result.task, None)
        if row is not None:
            self._progress.remove_task(row)
        if result.status != "cached":  # cached tasks are counted, not listed
            mark = MARKS[result.status]
            detail = f"{result.duration_s:.1f}s" if result.status in ("executed", "failed") else ""
            self._progress.console.print(f"{mark} {result.task} [dim]{detail or result.status}")
        if self._overall is not None:
            self._progress.advance(self._overall)

    def stop(self) -> None:
        self._progress.stop()


def run(
    site: Annotated[
        list[str] | None, typer.Option("--site", "-r", help="Run only this site (repeatable).")
    ] = None,
    outcome: Annotated[
        list[str] | None, typer.Option("--outcome", "-o", help="Only this outcome (repeatable).")
    ] = None,
    jobs: JobsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun even if cached.")] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Run on Dask: 'local' for a local cluster, or a scheduler address."),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Validate the plan and stop.")] = False,
    fresh_kernels: Annotated[
        bool,
        typer.Option(
            "--fresh-kernels",
            help="A new kernel for every notebook (default: one kernel per worker, reset "
            "between notebooks to a fresh kernel's state).",
        ),
    ] = False,
    exit_on_failure: Annotated[bool, typer.Option(hidden=True)] = True,
) -> None:
    """Execute every task of the analysis plan (analysis.yml): cached, parallel, isolated."""
    global _last_run_failed
    from proeftuin.pipeline import run_plan

    plan = load_plan()  # a PlanError is printed in one place (cli._Group)
    _check_selection(plan, site, outcome)
    if check:
        console.print(f"[green]plan OK:[/green] {len(plan.tasks())} tasks")
        console.print(_registry_line())
        return
    started = time.perf_counter()
    summary = run_plan(
        plan,
        sites=site,
        outcomes=outcome,
        jobs=jobs,
        force=force,
        scheduler=scheduler,
        display=ProgressDisplay(),
        fresh_kernels=fresh_kernels,
    )
    _report(summary, time.perf_counter() - started)
    _last_run_failed = bool(summary.failed) or summary.interrupted
    if summary.interrupted:
        raise typer.Exit(INTERRUPTED_EXIT)
    if summary.failed and exit_on_failure:
        raise typer.Exit(1)


def _report(summary, wall: float) -> None:  # noqa: ANN001 - pipeline.RunSummary
    """The run's outcome: one line of counts (each task was listed as it finished) and,
    for each failed task, its full error (never cut, also when not on a terminal)."""
    if not console.is_terminal:
        console.width = WIDE
    if summary.subset:
        console.print(
            f"outcome subset: results in reports/results/subsets/{summary.subset}/ "
            "(the full results and the synthesis are untouched)",
            soft_wrap=True,
        )
    if summary.results and all(r.status == "cached" for r in summary.results):
        console.print(f"[dim]up to date:[/] all {len(summary.results)} tasks cached ({wall:.1f}s)")
        return
    console.print(_summary_line(summary, wall), highlight=False)
    for failed in summary.failed:
        where = f" ({failed.cell})" if failed.cell else ""
        console.print(
            f"[red]failed:[/] {failed.task}{where}: {failed.error}", soft_wrap=True, highlight=False
        )
    if summary.interrupted:
        console.print(
            f"[yellow]interrupted, {len(summary.not_run)} tasks not run[/] "
            "(finished tasks were kept; run again to finish)"
        )


def _registry_line() -> str:
    """What the registry keeps out of the control pools, in one line (``run --check``)."""
    from proeftuin.data.sites import load_registry

    reg = load_registry()
    others = ", ".join(
        f"{o.name} ({o.exclude_from_controls})" for o in reg.other_initiatives.values()
    )
    contested = ", ".join(e.name for e in reg.contested.values())
    return (
        f"registry OK: {len(reg.sites)} sites; contested: {contested or 'none'}; other "
        f"initiatives: {others or 'none'}; {len(reg.excluded_from_controls())} municipalities "
        "in no control pool by default"
    )


def _check_selection(plan, sites: list[str] | None, outcomes: list[str] | None) -> None:  # noqa: ANN001
    problems = [
        f"--site: {r!r} is not in the plan ({', '.join(plan.sites)})"
        for r in sites or []
        if r not in plan.sites
    ]
    problems += [
        f"--outcome: {o!r} is not in the plan ({', '.join(plan.outcomes)})"
        for o in outcomes or []
        if o not in plan.outcomes
    ]
    if problems:
        raise PlanError(plan.path, problems)


def _summary_line(summary, wall: float) -> str:  # noqa: ANN001 - pipeline.RunSummary
    """Counts per status in one line: each task was listed once as it finished."""
    counts: dict[str, int] = {}
    for r in summary.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    said = ", ".join(f"[{STYLES[k]}]{n} {k}[/]" for k, n in counts.items())
    return f"run: {len(summary.results)} tasks ({said}) in {wall:.1f}s wall"


def exit_if_failed() -> None:
    """Exit non-zero if the last run had failing tasks (used by ``proeftuin all``)."""
    if _last_run_failed:
        raise typer.Exit(1)
