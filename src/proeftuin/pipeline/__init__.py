"""Execute the plan's tasks: papermill per task, cached, parallel, failure-isolated.

Each task (a design for a site, the validation, then the synthesis) runs its notebook
template with papermill on the project kernel, in a separate process (or on a Dask
cluster), longest task first, on the worker's warm kernel (reset between tasks). Outputs
are staged and committed only after the task succeeded: the executed notebook and the
result files are renamed into place, and the provenance record, written last, marks the
task as finished. A task whose cache key (see :mod:`proeftuin.core.provenance`)
matches its finished record is skipped. A failing task is recorded with its cell and
error; the others go on. The run manifest (:mod:`proeftuin.pipeline.results`) says, at every
moment, what each task of the plan is.

Modules, one job each:

==============  ==============================================================
``cache``       cache keys; is a task's finished record current
``worker``      one papermill execution; worker lifecycle; process and Dask backends
``kernel``      a warm kernel per worker, reset to a fresh kernel's state between tasks
``commit``      staging and committing a task's outputs and provenance record
``guard``       the run lock, interrupts, stale staging
``tracking``    the run manifest as the run goes
``run``         :func:`run_plan`, tying it together
==============  ==============================================================
"""

from __future__ import annotations

from proeftuin.pipeline.cache import EXECUTED, is_current, task_key_parts
from proeftuin.pipeline.commit import TaskResult
from proeftuin.pipeline.guard import RunInProgress, RunLock
from proeftuin.pipeline.run import PipelineError, RunSummary, run_plan
from proeftuin.pipeline.worker import execute_notebook

__all__ = [
    "EXECUTED",
    "PipelineError",
    "RunInProgress",
    "RunLock",
    "RunSummary",
    "TaskResult",
    "execute_notebook",
    "is_current",
    "run_plan",
    "task_key_parts",
]
