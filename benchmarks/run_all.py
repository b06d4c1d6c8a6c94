"""Run every benchmark in one process and append their tables to benchmarks/RESULTS.md.

``.venv/bin/python benchmarks/run_all.py`` (about half an hour on two cores) or with
``--quick`` for a smoke run (one site, fewer draws, the smallest synthetic panel).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_inference  # noqa: E402
import bench_panel  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_scaling  # noqa: E402
from _common import data_env, report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run of every benchmark")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    data_env()
    started = time.perf_counter()
    tables = []
    for module in (bench_pipeline, bench_inference, bench_panel, bench_scaling):
        step = time.perf_counter()
        new = module.run(args.quick)
        for table in new:
            table.print()
        print(f"[{module.__name__}: {time.perf_counter() - step:.0f} s]", flush=True)
        tables += new
    title = "All benchmarks" + (" (quick)" if args.quick else "")
    report([], title=title, started=started, save=False)
    if not args.no_save:
        from _common import append_results

        append_results(tables, title=title, seconds=time.perf_counter() - started)


if __name__ == "__main__":
    main()
