"""One run at a time, interrupts that keep finished work, and no leftovers.

* :class:`RunLock`: ``reports/results/.run.lock`` holds the running pid under an exclusive
  ``flock``; a second run is refused with that pid. The kernel drops the lock when its
  holder dies, so a stale lock (dead pid) is simply taken over.
* :class:`InterruptGuard`: the first SIGINT asks the run to stop (it commits what finished
  and stops the rest); a second one raises ``KeyboardInterrupt`` at once.
* :func:`clear_stale`: staging folders and hidden partial notebooks of earlier runs that
  were killed are removed when the next run starts (under the lock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType

from proeftuin.core import settings
from proeftuin.pipeline import results


class RunInProgress(RuntimeError):
    """Another run holds the lock."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"a run is in progress ({who}) on {settings.project_root()}: "
            "wait for it to finish, or stop it, then run again"
        )


class RunLock:
    """An exclusive lock on the results folder for the length of a run."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or results.lock_path()
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise RunInProgress(pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def clear_stale() -> list[Path]:
    """Remove what killed runs left behind: staging folders, hidden partial notebooks and
    temporary files of atomic writes. Call only while holding the :class:`RunLock`."""
    removed: list[Path] = []
    staging = results.staging_dir()
    if staging.is_dir():
        removed += sorted(staging.iterdir())
        shutil.rmtree(staging, ignore_errors=True)
    for base, patterns in (
        (settings.executed_dir(), (".*.ipynb", ".*.tmp")),
        (settings.results_dir(), (".*.tmp",)),
    ):
        if not base.is_dir():
            continue
        for pattern in patterns:
            for path in base.rglob(pattern):
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


class InterruptGuard:
    """While active (main thread only), SIGINT sets :attr:`stopped` instead of raising."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._previous: object = None
        self._active = False

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._active = True
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopped.is_set():
            raise KeyboardInterrupt
        self.stopped.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._active = False
