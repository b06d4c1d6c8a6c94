"""A warm kernel per worker: one Jupyter kernel kept between a run's tasks and reset before
each, so a task pays neither a kernel start nor the imports the task before it paid.

Before every task the kernel is put back where a fresh one starts: an empty user namespace
and history with the execution count at 1 (``InteractiveShell.reset(new_session=True)``),
no open figures, the warnings filters of a new kernel with every "shown once" registry
forgotten (a warning shows in each notebook that raises it), and the working directory.
Imported modules stay: they hold no results (``tests/test_warm_kernel.py`` compares what a
notebook writes in a fresh and in a reused kernel byte for byte; the pipeline benchmark
compares every result file of the plan). A kernel serves one run's settings only (kernel
name, working directory, environment) and is stopped after any failure, so a timed-out or
broken kernel never runs another task.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.util
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

ENGINE = "proeftuin-warm"
READY_TIMEOUT_S = 120

# Taken once, right after the kernel started: the filters every reset restores.
_SNAPSHOT = """
import sys as _sys, types as _types, warnings as _warnings
_sys.modules.setdefault("_proeftuin_warm", _types.ModuleType("_proeftuin_warm")).filters = (
    list(_warnings.filters)
)
del _sys, _types, _warnings
"""

_RESET = """
import os as _os, sys as _sys, warnings as _warnings
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
_warnings.resetwarnings()  # a new filters version: every once-registry is forgotten
_warnings.filters[:] = _sys.modules["_proeftuin_warm"].filters
_os.chdir({cwd!r})
get_ipython().reset(new_session=True)
"""


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine on a kernel it is given (``km``) and does not stop; the
    notebook client's channels are closed after each notebook."""

    @classmethod
    def execute_managed_notebook(  # type: ignore[override]
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        km: Any = None,
        **kwargs: Any,
    ) -> Any:
        client = PapermillNotebookClient(
            nb_man,
            km=km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logging.getLogger("papermill"),
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        try:
            return client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()


papermill_engines.register(ENGINE, WarmEngine)


class WarmKernel:
    """One running kernel and the settings it was started with."""

    def __init__(self, key: tuple, kernel: str, cwd: str, extra_arguments: Sequence[str]) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.key = key
        self._run_sync = run_sync
        self.km = AsyncKernelManager(kernel_name=kernel)
        run_sync(self.km.start_kernel)(cwd=cwd, extra_arguments=list(extra_arguments))
        self.tasks = 0
        self.execute(_SNAPSHOT)

    def execute(self, code: str) -> None:
        """Run ``code`` silently (no history, no execution count); raise if it fails."""

        async def run() -> dict[str, Any]:
            client = self.km.client()
            client.start_channels()
            try:
                await client.wait_for_ready(timeout=READY_TIMEOUT_S)
                return await client.execute_interactive(
                    code, silent=True, store_history=False, timeout=READY_TIMEOUT_S
                )
            finally:
                client.stop_channels()

        reply = self._run_sync(run)()
        content = reply["content"]
        if content["status"] != "ok":
            error = f"{content.get('ename')}: {content.get('evalue')}"
            raise RuntimeError(f"the warm kernel's reset failed: {error}")

    def reset(self, cwd: str) -> None:
        self.execute(_RESET.format(cwd=cwd))

    def alive(self) -> bool:
        return bool(self._run_sync(self.km.is_alive)())

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already dead: nothing to stop
            self._run_sync(self.km.shutdown_kernel)(now=True)


_local = threading.local()  # one warm kernel per worker thread (Dask runs tasks in threads)
_finalizer_registered = False


def acquire(kernel: str, cwd: str, env: Mapping[str, str], extra_arguments: Sequence[str]) -> Any:
    """This worker's kernel for these settings, reset for a new task (started if needed);
    returns its kernel manager for papermill (``km=``, with ``engine_name=ENGINE``)."""
    global _finalizer_registered
    key = (kernel, cwd, tuple(sorted(env.items())), tuple(extra_arguments))
    warm: WarmKernel | None = getattr(_local, "kernel", None)
    if warm is not None and (warm.key != key or not warm.alive()):
        discard()
        warm = None
    if warm is None:
        warm = _local.kernel = WarmKernel(key, kernel, cwd, extra_arguments)
        if not _finalizer_registered:  # worker processes skip atexit; their finalizers run
            multiprocessing.util.Finalize(None, discard, exitpriority=10)
            _finalizer_registered = True
    elif warm.tasks:
        try:
            warm.reset(cwd)
        except Exception:
            discard()
            raise
    warm.tasks += 1
    return warm.km


def discard() -> None:
    """Stop this worker's warm kernel (after a failure, a change of settings, at exit)."""
    warm: WarmKernel | None = getattr(_local, "kernel", None)
    _local.kernel = None
    if warm is not None:
        warm.stop()
