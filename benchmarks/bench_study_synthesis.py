"""The synthesis over a placebo study's sites: with its figures (how every study ran it
before) beside without them (how a study runs it now), measured in one run.

The synthesis notebook runs twice on an existing study (``reports/placebo/``, all of its
pseudo-sites), through papermill on a fresh ``proeftuin`` kernel like a cold task, with the
study's own parameters; only ``draw_figures`` differs. Each writes into a temporary
folder, so the study's results are untouched. What a study skips: the forest plot, the
designs side by side (one row of panels per site, cut into one image per site) and the
scorecard figure; the calibration page shows none of them. Printed with the load average
beside each row (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, Table, data_env, report  # noqa: E402

STUDY = ROOT / "reports" / "placebo"


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def synthesis_parameters(study: Path) -> dict[str, Any]:
    """The synthesis task's parameters as the study's run manifest records them."""
    manifest = json.loads((study / "results" / "manifest.json").read_text(encoding="utf-8"))
    task = next(t for t in manifest["tasks"] if t["notebook"] == "synthesis")
    return dict(task["parameters"])


def run_once(study: Path, draw: bool, out: Path) -> dict[str, Any]:
    """One synthesis notebook on the study's results into ``out``: wall seconds, files."""
    import papermill as pm

    out.mkdir(parents=True, exist_ok=True)
    params = synthesis_parameters(study) | {"results_dir": str(out), "draw_figures": draw}
    load = _load()
    started = time.perf_counter()
    pm.execute_notebook(str(ROOT / "notebooks" / "synthesis.ipynb"), str(out / "run.ipynb"),
                        parameters=params, kernel_name="proeftuin", cwd=str(ROOT),
                        progress_bar=False)  # fmt: skip
    seconds = time.perf_counter() - started
    pngs = sorted(out.glob("*.png"))
    return {"seconds": seconds, "load_before": load, "load_after": _load(),
            "figures": len(pngs), "sites": len(params["sites"]),
            "mib": sum(p.stat().st_size for p in pngs) / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=STUDY, help="the study folder")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    data_env()
    os.environ["PROEFTUIN_STUDY"] = str(args.study.resolve())
    started = time.perf_counter()
    table = Table("Synthesis over the placebo study's sites, one run (fresh kernel each)",
                  ["synthesis", "sites", "wall (s)", "figures saved", "MiB of figures",
                   "load before", "load after"])  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="proeftuin-synthesis-") as tmp:
        folders = []
        for draw, name in ((True, "with figures (before)"), (False, "study mode (after)")):
            folders.append(Path(tmp) / name.split()[0])
            got = run_once(args.study, draw, folders[-1])
            table.add(name, got["sites"], got["seconds"], got["figures"], got["mib"],
                      got["load_before"], got["load_after"])  # fmt: skip
        table.notes.append(f"Tables written (CSV and Markdown): {same_tables(*folders)}.")
    report([table], title="Placebo-study synthesis", started=started, save=not args.no_save)


def same_tables(first: Path, second: Path) -> str:
    """Whether the two runs wrote the same tables, byte for byte ('identical', or which
    differ)."""
    names = sorted({p.name for f in (first, second) for p in f.iterdir()
                    if p.suffix in (".csv", ".md")})  # fmt: skip
    differ = [n for n in names
              if not ((first / n).is_file() and (second / n).is_file()
                      and (first / n).read_bytes() == (second / n).read_bytes())]  # fmt: skip
    return f"{len(names)} files, identical" if not differ else f"differ: {', '.join(differ)}"


if __name__ == "__main__":
    main()
