"""Shared benchmark machinery: timing, peak memory, machine facts, tables and RESULTS.md.

Wall time is ``time.perf_counter``. Peak memory is the peak resident set size (RSS) of a
child process: either the whole command under ``/usr/bin/time -v`` (largest single process
of the tree) or, for a function, the peak RSS (``VmHWM``) read inside the child that ran
it (imports and inputs included). Running this file as
``_common.py child MODULE:FUNCTION JSON`` is how a function is measured in a child.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "pyfixest", "papermill", "pandera", "numba")
MIB = 1024 * 1024


# ----------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A result table: printed with rich, appended to RESULTS.md as markdown."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append([fmt(c) for c in cells])

    def print(self) -> None:
        from rich.console import Console
        from rich.table import Table as RichTable

        table = RichTable(title=self.title)
        for col in self.columns:
            table.add_column(col)
        for row in self.rows:
            table.add_row(*map(str, row))
        console = Console()
        console.print(table)
        for note in self.notes:
            console.print(f"  [dim]- {note}")

    def markdown(self) -> str:
        head = f"### {self.title}\n\n| " + " | ".join(self.columns) + " |\n"
        head += "|" + "---|" * len(self.columns) + "\n"
        body = "".join("| " + " | ".join(map(str, r)) + " |\n" for r in self.rows)
        notes = "".join(f"- {n}\n" for n in self.notes)
        return head + body + ("\n" + notes if notes else "")


def fmt(value: Any) -> str:
    """Numbers to short strings (3 significant digits for floats)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.3g}"
    return str(value)


def ratio(baseline: float, ours: float) -> str:
    """Speed-up of ours over the baseline, as '12.3×'."""
    return f"{baseline / ours:.1f}×" if ours > 0 and baseline == baseline else "n/a"


# ----------------------------------------------------------------------------- timing


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float, Any]:
    """Run ``fn`` ``repeat`` times: (best seconds, median seconds, last result)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def run_command(
    cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Run a command under ``/usr/bin/time -v``: wall seconds, peak RSS (MiB), exit code."""
    full_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    rss = next(
        (
            int(line.split(":")[1]) / 1024
            for line in proc.stderr.splitlines()
            if "Maximum resident set size" in line
        ),
        float("nan"),
    )
    return {"seconds": wall, "peak_mib": rss, "rc": proc.returncode, "out": proc.stdout,
            "err": proc.stderr[-3000:]}  # fmt: skip


def in_child(target: str, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh Python; its dict plus ``peak_mib``.

    The function times its own measured step (key ``seconds``); ``peak_mib`` is the child's
    peak RSS over its whole life. A failing child returns ``{"error": ...}``.
    """
    cmd = [PYTHON, str(BENCH_DIR / "_common.py"), "child", target, json.dumps(kwargs)]
    proc = subprocess.run(
        cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        return {"error": last or [f"failed (exit code {proc.returncode}, no message)"]}
    return json.loads(lines[-1])


def _child_main(target: str, kwargs_json: str) -> None:
    sys.path.insert(0, str(BENCH_DIR))
    module, func = target.split(":")
    out = getattr(importlib.import_module(module), func)(**json.loads(kwargs_json))
    out["peak_mib"] = max(out.get("peak_mib", 0.0), peak_rss_mib())
    print(json.dumps(out, default=float))


def peak_rss_mib() -> float:
    """Peak RSS of this process since it started (VmHWM, MiB).

    Not ``ru_maxrss``: after fork and exec it keeps the parent's resident size at the fork.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CallPeak:
    """Peak RSS added by one block: ``with CallPeak() as peak: ...``, then ``peak.mib``
    (the kernel's peak counter reset at the start, via /proc/self/clear_refs) and
    ``peak.life_mib``, the process's peak over its whole life."""

    def __enter__(self) -> CallPeak:
        self.before_peak, self.before = peak_rss_mib(), rss_mib()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.before = float("nan")  # cannot reset: only the lifetime peak is known
        return self

    def __exit__(self, *exc: object) -> None:
        after = peak_rss_mib()
        self.mib = after - self.before
        self.life_mib = max(self.before_peak, after)


def rss_mib() -> float:
    """Current RSS of this process (MiB), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------------- machine


def machine_info() -> dict[str, str]:
    """Date, commit, CPU, cores, RAM, Python and the key package versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    versions = ", ".join(f"{p} {_version(p)}" for p in PACKAGES)
    blas = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD") + _dirty(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "packages": versions,
        "threads env": ", ".join(f"{k}={v}" for k, v in sorted(blas.items())) or "none set",
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def _dirty() -> str:
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "src", "notebooks")
    return " (src/notebooks modified)" if status and status != "unknown" else ""


def command_line() -> str:
    """The command that produced this run, relative to the project root."""
    exe = (
        os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else "python"
    )
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}"
        for k in ("PROEFTUIN_DATA_MIRROR", "PYTHONPATH")
        if os.environ.get(k)
    )
    return " ".join(filter(None, [env, exe, script, *map(shlex.quote, sys.argv[1:])]))


def append_results(tables: list[Table], *, title: str, seconds: float) -> None:
    """Append one run (machine facts, command, tables) to benchmarks/RESULTS.md."""
    info = machine_info()
    lines = [f"## {title} — {info['date']}", ""]
    lines += [f"- **{k}**: {v}" for k, v in info.items() if k != "date"]
    lines += [
        f"- **command**: `{command_line()}`",
        f"- **benchmark wall time**: {seconds:.0f} s",
        "",
    ]
    text = "\n".join(lines) + "\n" + "\n".join(t.markdown() for t in tables) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmarks\n\nAppended by `benchmarks/run_all.py` (or one `bench_*.py`); "
            "newest run last.\n\n",
            encoding="utf-8",
        )
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)


def report(tables: list[Table], *, title: str, started: float, save: bool = True) -> None:
    """Print the tables and (unless ``save`` is false) append them to RESULTS.md."""
    for table in tables:
        table.print()
    if save:
        append_results(tables, title=title, seconds=time.perf_counter() - started)


def data_env() -> dict[str, str]:
    """The data mirror for children: ``$PROEFTUIN_DATA_MIRROR`` or the shared default."""
    mirror = os.environ.get("PROEFTUIN_DATA_MIRROR") or str(ROOT.parent / "shared" / "data")
    os.environ.setdefault("PROEFTUIN_DATA_MIRROR", mirror)
    return {"PROEFTUIN_DATA_MIRROR": mirror}


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "child":
    _child_main(sys.argv[2], sys.argv[3])
