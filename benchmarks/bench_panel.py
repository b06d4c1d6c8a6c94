"""Panel build benchmark: raw source files to the validated panel, wall time and peak memory.

Each build runs in a fresh Python process with ``PROEFTUIN_ROOT`` pointing at a temporary
project (curated reference and site files only): ``build_panel(mirror, force=True)``
copies and verifies the sources from the data mirror, parses, harmonises, standardises,
validates and writes the panel. Timed: that call (imports excluded); memory: the child's
peak RSS (imports included). Repeated, median time and largest peak reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Table, data_env, in_child, report, rss_mib  # noqa: E402


def build_once() -> dict:
    """(In a child) build the panel from the mirror into ``$PROEFTUIN_ROOT``."""
    from proeftuin.core import settings
    from proeftuin.data.panel import build_panel

    before = rss_mib()
    start = time.perf_counter()
    built = build_panel(settings.data_mirror(), force=True, progress=False)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before_mib": before, "rows": built.manifest["rows"]["panel"],
            "municipalities": built.manifest["municipalities"]}  # fmt: skip


def measure(repeat: int) -> list[dict]:
    runs = []
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(prefix="proeftuin-panel-"))
        for sub in ("sites", "reference"):
            shutil.copytree(ROOT / "data" / sub, root / "data" / sub)
        try:
            out = in_child(
                "bench_panel:build_once", env={**data_env(), "PROEFTUIN_ROOT": str(root)}
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if "error" in out:
            raise RuntimeError(f"panel build failed: {out['error']}")
        runs.append(out)
    return runs


def run(quick: bool = False) -> list[Table]:
    runs = measure(1 if quick else 3)
    secs = statistics.median(r["seconds"] for r in runs)
    peak = max(r["peak_mib"] for r in runs)
    t = Table("Panel build: raw files to the validated panel",
              ["step", "wall s", "peak RSS MiB", "rows", "municipalities", "target"])  # fmt: skip
    verdict = "met" if secs < 15 and peak < 1024 else "MISSED"
    t.add("build_panel(mirror, force=True)", secs, peak, runs[0]["rows"],
          runs[0]["municipalities"], f"< 15 s and < 1 GiB: {verdict}")  # fmt: skip
    t.notes += [
        f"Median of {len(runs)} builds, each in a fresh process: "
        + ", ".join(f"{r['seconds']:.2f} s" for r in runs)
        + "; acquisition (copy from the mirror and SHA-256 verification) included.",
        "Peak RSS: VmHWM of the child, interpreter and imports included "
        f"(≈ {runs[0]['rss_before_mib']:.0f} MiB before the build started).",
        f"Mirror: {os.environ.get('PROEFTUIN_DATA_MIRROR')}.",
    ]
    return [t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one build instead of three")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    report(run(args.quick), title="Panel build benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
