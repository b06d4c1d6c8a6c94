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
import time
from collections.abc import Mapping, Sequence
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

ENGINE = "proeftuin-warm"
READY_TIMEOUT_S = 120
READY_IOPUB_S = 0.2  # jupyter_client's wait for a first IOPub message

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


class _PreludeClient(PapermillNotebookClient):
    """papermill's notebook client, running ``prelude`` silently (no history, no execution
    count, no output) on its kernel before the notebook's first cell."""

    def __init__(self, nb_man: Any, prelude: str = "", **kwargs: Any) -> None:
        super().__init__(nb_man, **kwargs)
        self._prelude = prelude

    def papermill_execute_cells(self) -> None:
        if self._prelude:
            reply = run_sync(self.kc.execute_interactive)(
                self._prelude,
                silent=True,
                store_history=False,
                timeout=READY_TIMEOUT_S,
                output_hook=_ignore,  # its error is in the reply; nothing for the worker's log
            )
            if reply["content"]["status"] != "ok":
                error = f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
                raise RuntimeError(f"the warm kernel's reset failed: {error}")
        super().papermill_execute_cells()


class WarmEngine(NBClientEngine):
    """papermill's nbclient engine on a kernel it is given (``km``) and does not stop: the
    ``prelude`` (the reset) runs first through the notebook's own client, whose channels are
    closed after the notebook.

    papermill writes the output notebook before and after every cell, so that a reader can
    follow a long notebook; a run's output is a staged file nobody reads until the task is
    committed, so here only papermill's first and final writes happen (the final one also on
    a failing cell or a timeout, in papermill's ``finally``): 0.2 s less per notebook.
    """

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
        prelude: str = "",
        **kwargs: Any,
    ) -> Any:
        client = _PreludeClient(
            nb_man,
            prelude=prelude,
            km=km,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logging.getLogger("papermill"),
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        nb_man.save = _no_save  # the cells' writes; notebook_complete runs after the del
        try:
            return client.execute()
        finally:
            del nb_man.save
            if client.kc is not None:
                client.kc.stop_channels()


def _no_save(**kwargs: Any) -> None:
    return None


def _ignore(message: dict[str, Any]) -> None:
    return None


class _ReadyClient(AsyncKernelClient):
    """jupyter_client's client with a ready check that does not end in a 0.2 s wait.

    ``wait_for_ready`` asks for kernel info until the reply and an IOPub message arrive (the
    IOPub connection is then known to work), and then drains IOPub until it has been silent
    for 0.2 s. On a warm kernel that is idle, nothing is left to drain but the kernel-info
    request's own status messages, which a notebook client skips anyway (it reads only the
    messages of its own requests); so the drain here takes what is already there and goes
    on: 0.2 s less per notebook.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            with contextlib.suppress(Empty):
                reply = await self.shell_channel.get_msg(timeout=1)
                if reply["msg_type"] == "kernel_info_reply":
                    with contextlib.suppress(Empty):  # IOPub connected: it delivers
                        await self.iopub_channel.get_msg(timeout=READY_IOPUB_S)
                        self._handle_kernel_info_reply(reply)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
        while await self.iopub_channel.msg_ready():
            await self.iopub_channel.get_msg(timeout=0)


papermill_engines.register(ENGINE, WarmEngine)


class WarmKernel:
    """One running kernel, the settings it was started with and the number of tasks it ran."""

    def __init__(self, key: tuple, kernel: str, cwd: str, extra_arguments: Sequence[str]) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.key = key
        self.km = AsyncKernelManager(
            kernel_name=kernel, client_class=f"{__name__}.{_ReadyClient.__name__}"
        )
        run_sync(self.km.start_kernel)(cwd=cwd, extra_arguments=list(extra_arguments))
        self.tasks = 0

    def alive(self) -> bool:
        return bool(run_sync(self.km.is_alive)())

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already dead: nothing to stop
            run_sync(self.km.shutdown_kernel)(now=True)


_local = threading.local()  # one warm kernel per worker thread (Dask runs tasks in threads)
_finalizer_registered = False


def acquire(
    kernel: str, cwd: str, env: Mapping[str, str], extra_arguments: Sequence[str]
) -> dict[str, Any]:
    """This worker's kernel for these settings (started if needed), as papermill's engine
    arguments: ``engine_name``, the kernel manager ``km`` and the ``prelude`` that resets the
    kernel to a new kernel's state before the notebook (on a new kernel: the snapshot of its
    warnings filters that later resets restore)."""
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
    prelude = _RESET.format(cwd=cwd) if warm.tasks else _SNAPSHOT
    warm.tasks += 1
    return {"engine_name": ENGINE, "km": warm.km, "prelude": prelude}


def discard() -> None:
    """Stop this worker's warm kernel (after a failure, a change of settings, at exit)."""
    warm: WarmKernel | None = getattr(_local, "kernel", None)
    _local.kernel = None
    if warm is not None:
        warm.stop()
