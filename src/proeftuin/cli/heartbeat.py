"""A sign of life on stderr while a long estimate works (``proeftuin estimate``) or Quarto
renders (``proeftuin report``).

Inference on large panels (many rows, many draws of the wild bootstrap or randomization
inference) can take minutes; without output that looks like a hang. After ``FIRST_AFTER``
seconds, and then every ``EVERY`` seconds, one line says how long it has been running and
where the draw counts are discussed. Short estimates print nothing; stdout (the JSON
result) is never touched.
"""

from __future__ import annotations

import sys
import threading
import time

FIRST_AFTER = 10.0
EVERY = 30.0


class Heartbeat:
    """Periodic one-line progress messages on stderr from a daemon thread."""

    def __init__(self, what: str, hint: str = "") -> None:
        self.what = what
        self.hint = hint or (
            "time grows with rows x draws; fewer --draws explore faster, see README 'Draw counts'"
        )
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        wait = FIRST_AFTER
        while not self._stop.wait(wait):
            elapsed = time.monotonic() - self._started
            print(
                f"{self.what}: still working, {elapsed:.0f} s elapsed ({self.hint})",
                file=sys.stderr,
                flush=True,
            )
            wait = EVERY
