"""Where notebooks run: one papermill execution per call, in a local worker process (forked
from a server that imported papermill once) or on a Dask cluster.

Workers belong to the run that started them: they ignore SIGINT (the run decides what an
interrupt stops), exit when the run's process dies (``PR_SET_PDEATHSIG`` on Linux, and a
watchdog thread on the run's pid everywhere), and on SIGTERM take their kernel with them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from proeftuin.core import settings

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5
# The kernel's log is noise to a reader: its start-up warnings, and the "KeyboardInterrupt
# caught in kernel" error of the interrupt that jupyter_client sends before every shutdown.
# Errors reach us through papermill.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def execute_notebook(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill (in a worker process); never raises.

    With ``spec["warm"]`` the notebook runs on this worker's warm kernel
    (:mod:`proeftuin.pipeline.kernel`), else on a kernel started for it and stopped after.
    Returns ``{"ok": True}`` or ``{"ok": False, "error": ..., "cell": ...}``.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from proeftuin.pipeline import kernel

    started = time.perf_counter()
    # Workers are long-lived (fork server, Dask): the kernel must see this run's settings.
    os.environ.update(spec.get("env", {}))
    os.environ[settings.ROOT_ENV] = spec["root"]
    warm = spec.get("warm", False)
    try:
        engine: dict[str, Any] = {}
        if warm:  # this worker's kernel, reset to a fresh kernel's state (pipeline.kernel)
            env = {**spec.get("env", {}), settings.ROOT_ENV: spec["root"]}
            engine = kernel.acquire(spec["kernel"], spec["cwd"], env, KERNEL_ARGUMENTS)
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
            extra_arguments=KERNEL_ARGUMENTS,
            **engine,
        )
    except PapermillExecutionError as exc:
        if warm:
            kernel.discard()
        first_line = (exc.source or "").strip().splitlines()[:1]
        cell = f"cell {exc.cell_index} ({first_line[0] if first_line else 'empty'})"
        return _failure(started, f"{exc.ename}: {exc.evalue}", cell)
    except Exception as exc:  # kernel death, timeout, missing kernel: reported, not raised
        if warm:
            kernel.discard()
        return _failure(started, f"{type(exc).__name__}: {exc}", None)
    return {"ok": True, "duration_s": time.perf_counter() - started}


def _failure(started: float, error: str, cell: str | None) -> dict[str, Any]:
    return {"ok": False, "error": error, "cell": cell, "duration_s": time.perf_counter() - started}


# ------------------------------------------------------------------- worker lifecycle


def worker_init(run_pid: int) -> None:
    """Initializer of every local worker: ignore SIGINT, die with the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate)
    if sys.platform.startswith("linux"):
        # the fork server (our parent) exits when the run dies; so do we
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    threading.Thread(target=_watch, args=(run_pid,), name="run-watchdog", daemon=True).start()


def _watch(run_pid: int) -> None:
    while _alive(run_pid):
        time.sleep(WATCH_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: kill this worker's kernel (its own session) and exit at once."""
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            child.kill()
    except Exception:  # noqa: BLE001 - the kernel's own parent poller stops it within a second
        pass
    os._exit(128 + signum)


# ----------------------------------------------------------------------------- backends


class ProcessBackend:
    """Local worker processes, forked from a server that imported papermill once.

    A fork server (rather than forking this process) keeps the display's threads out of
    the workers; preloading papermill saves each worker its multi-second import.
    """

    def __init__(self, jobs: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["proeftuin.pipeline.worker", "papermill", "proeftuin.pipeline.kernel"]
        )
        self.jobs = jobs
        self._pool = ProcessPoolExecutor(
            jobs, mp_context=context, initializer=worker_init, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable[[dict[str, Any]], dict[str, Any]], spec: dict[str, Any]) -> Any:
        return self._pool.submit(fn, spec)

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        return list(wait(handles, timeout=timeout, return_when=FIRST_COMPLETED).done)

    def close(self, *, kill: bool = False) -> None:
        if kill:  # an interrupt: stop running notebooks now, not when they finish
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
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

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        from distributed import wait as dask_wait

        try:
            return list(dask_wait(handles, timeout=timeout, return_when="FIRST_COMPLETED").done)
        except TimeoutError:
            return []

    def close(self, *, kill: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


Backend = ProcessBackend | DaskBackend
