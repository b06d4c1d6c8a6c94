"""One run at a time, interrupts that keep finished work, and no leftovers.

* :class:`RunLock`: an exclusive ``flock`` on the project folder itself (which no
  ``make clean`` can delete; a lock file deleted mid-run let a second run start), with the
  running pid in ``reports/results/.run.lock``; a second run, or ``proeftuin data``, is
  refused with that pid. The kernel drops the lock when its holder dies, so a stale lock
  (dead pid) is simply taken over.
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
        self._folder: int | None = None

    def __enter__(self) -> RunLock:
        folder = os.open(settings.project_root(), os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(folder)
            raise RunInProgress(_pid_in(self.path)) from None
        self._folder = folder
        try:  # the pid, for the message a second run prints
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            os.ftruncate(self._fd, 0)
            os.write(self._fd, f"{os.getpid()}\n".encode())
        except OSError:  # a read-only reports/: the folder lock alone (`data` needs no more)
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
        if self._folder is not None:
            fcntl.flock(self._folder, fcntl.LOCK_UN)
            os.close(self._folder)
            self._folder = None


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8")[:32].strip() or 0) or None
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
