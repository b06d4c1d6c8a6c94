"""Placebo-study benchmark: the study's cold wall time beside the real sites' cold run (the
baseline, measured in the same run), per-design compute per notebook, peak memory, and
throughput with 1 and 2 workers on the Dask scheduler.

Everything runs in a temporary copy of the project (``bench_pipeline.make_root``), so the
real reports are untouched. In one run: the five real sites cold (``proeftuin run``), then
the placebo study cold (``proeftuin placebo-study --sites N``) in the same copy; per-design
compute is each executed notebook's duration in the two run manifests; throughput is
notebooks per minute of ``placebo-study --scheduler local`` with ``-j 1`` and ``-j 2`` on a
smaller study (``--dask-sites``, each forced cold). The load average is printed beside the
numbers: on a shared machine they are only meaningful with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Table, report, run_command  # noqa: E402
from bench_pipeline import _env, make_root  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "proeftuin")
TARGET_STUDY_S = 300.0  # the five real sites plus 40 pseudo-sites, cold, on 2 cores
TARGET_REAL_S = 60.0


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _manifest(root: Path, study: bool) -> dict[str, Any]:
    folder = root / "reports" / ("placebo/results" if study else "results")
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def _timed(cmd: list[str], root: Path, study: bool) -> dict[str, Any]:
    load = _load()
    res = run_command(cmd, env=_env(root), cwd=root)
    if res["rc"] != 0:  # a failed task: the timing stands, the table says so
        print(f"{' '.join(cmd[1:])} exited {res['rc']}:\n{res['err']}", file=sys.stderr)
    tasks = _manifest(root, study)["tasks"]
    print(f"{' '.join(cmd[1:])}: {res['seconds']:.1f} s, load {load} -> {_load()}",
          file=sys.stderr)  # fmt: skip
    durations: dict[str, list[float]] = defaultdict(list)
    for task in tasks:
        if task["status"] == "ok":
            durations[task["notebook"]].append(float(task["duration_s"]))
    return {"seconds": res["seconds"], "peak_mib": res["peak_mib"], "load_before": load,
            "load_after": _load(), "executed": sum(len(v) for v in durations.values()),
            "durations": dict(durations), "rc": res["rc"],
            "not_ok": sum(task["status"] not in ("ok", "cached") for task in tasks)}  # fmt: skip


def measure(
    sites: int, dask_sites: int, seed: int, draws: int | None, keep: Path | None = None
) -> dict[str, Any]:
    root = make_root(quick=False)
    extra = ["--draws", str(draws)] if draws else []
    study = [CLI, "placebo-study", "--seed", str(seed), *extra]
    try:
        measured = {"real": _timed([CLI, "run", "-j", "2"], root, study=False)}
        measured["study"] = _timed([*study, "--sites", str(sites), "-j", "2"], root, True)
        if keep is not None:
            keep_results(root, keep)
        shutil.rmtree(root / "reports" / "placebo")
        for workers in (1, 2):
            cmd = [*study, "--sites", str(dask_sites), "--scheduler", "local", "-j",
                   str(workers), "--force"]  # fmt: skip
            measured[f"dask{workers}"] = _timed(cmd, root, study=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return measured


def keep_results(root: Path, project: Path) -> None:
    """Copy the cold runs' results, executed notebooks and placebo study into ``project``'s
    ``reports/`` (replacing them): the same code, plan and data give the same cache keys
    there, so ``proeftuin run`` and ``placebo-study`` in ``project`` find every task cached."""
    for folder in ("results", "executed", "placebo"):
        target = project / "reports" / folder
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(root / "reports" / folder, target, symlinks=True)
    print(f"results of the cold runs kept in {project / 'reports'}", file=sys.stderr)


def tables(m: dict[str, Any], sites: int, dask_sites: int) -> list[Table]:
    real, study = m["real"], m["study"]
    cold = Table("Placebo study, cold, 2 workers (baseline: the five real sites, same run)",
                 ["run", "notebooks", "wall (s)", "peak RSS (MiB)", "load before", "load after",
                  "target"])  # fmt: skip
    cold.add(
        "five real sites (baseline)",
        real["executed"],
        real["seconds"],
        real["peak_mib"],
        real["load_before"],
        real["load_after"],
        f"< {TARGET_REAL_S:.0f} s: {'met' if real['seconds'] < TARGET_REAL_S else 'not met'}",
    )
    cold.add(
        f"placebo study, {sites} pseudo-sites",
        study["executed"],
        study["seconds"],
        study["peak_mib"],
        study["load_before"],
        study["load_after"],
        (
            f"< {TARGET_STUDY_S:.0f} s (with the real sites): "
            + ("met" if real["seconds"] + study["seconds"] < TARGET_STUDY_S else "not met")
        )
        if sites >= 40
        else "none: not the full study (40 pseudo-sites)",
    )
    for name, run in (("five real sites", real), ("placebo study", study)):
        if run["rc"] != 0:
            cold.notes.append(f"{name}: exit {run['rc']}, {run['not_ok']} tasks not ok")
    cold.notes.append(
        "Peak RSS: the largest single process of the command's tree "
        "(/usr/bin/time -v); load: 1/5/15-minute load averages on 2 cores."
    )
    design = Table("Compute per notebook (s), from the run manifests",
                   ["notebook", "run", "n", "median", "min", "max"])  # fmt: skip
    for name, run in (("real", real), ("placebo", study)):
        for notebook, values in sorted(run["durations"].items()):
            design.add(notebook, name, len(values), statistics.median(values), min(values),
                       max(values))  # fmt: skip
    dask = Table(f"Throughput on the Dask scheduler (--scheduler local), {dask_sites} "
                 "pseudo-sites, forced cold", ["workers", "notebooks", "wall (s)",
                 "notebooks/min", "load before", "load after"])  # fmt: skip
    for workers in (1, 2):
        run = m[f"dask{workers}"]
        dask.add(workers, run["executed"], run["seconds"], 60 * run["executed"] / run["seconds"],
                 run["load_before"], run["load_after"])  # fmt: skip
    return [cold, design, dask]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=40, help="pseudo-sites of the cold study")
    parser.add_argument("--dask-sites", type=int, default=10, help="pseudo-sites per Dask run")
    parser.add_argument("--seed", type=int, default=20130701, help="the pseudo-sites' draw")
    parser.add_argument("--draws", type=int, default=None, help="default: the plan's")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--keep-results", type=Path, default=None, metavar="PROJECT",
                        help="copy the cold runs' reports (results, executed, placebo) into "
                        "this project folder, e.g. the checkout, before the Dask runs")  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    measured = measure(args.sites, args.dask_sites, args.seed, args.draws, args.keep_results)
    report(tables(measured, args.sites, args.dask_sites), title="Placebo-study benchmark",
           started=started, save=not args.no_save)  # fmt: skip


if __name__ == "__main__":
    main()
