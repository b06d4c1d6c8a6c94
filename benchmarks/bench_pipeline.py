"""Pipeline benchmark: cold, warm and one-site-changed runs against a naive papermill loop.

Everything runs in a temporary copy of the project (``PROEFTUIN_ROOT``: notebooks, plan,
curated data, the processed panel, the lock file), so the real reports are untouched.
Cold is ``proeftuin run`` on an empty reports folder; warm is the same command with nothing
changed (median of 3); one-site-changed edits one site's ``draws`` in the plan. The
baseline is a sequential loop of ``papermill.execute_notebook`` over the same tasks, with
no cache, measured in the same run (a naive rerun costs the same whatever changed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, ROOT, Table, data_env, ratio, report, run_command  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "proeftuin")
BASELINE = """
import papermill as pm
from proeftuin import settings
from proeftuin.plan import load_plan
for task in load_plan().tasks():
    out = settings.project_root() / "baseline" / task.folder / f"{task.notebook}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {**task.parameters, "results_dir": str(task.results_dir)}
    pm.execute_notebook(str(task.template), str(out), parameters=params,
                        kernel_name=settings.KERNEL_NAME, cwd=str(settings.project_root()),
                        progress_bar=False)
"""


def make_root(quick: bool) -> Path:
    """A temporary project: notebooks, plan, curated and processed data, lock file."""
    root = Path(tempfile.mkdtemp(prefix="proeftuin-bench-"))
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    # a snapshot of the package: edits to src/ during the benchmark must not change the
    # cache keys (they hash the package source) between the runs being compared
    shutil.copytree(ROOT / "src" / "proeftuin", root / "src" / "proeftuin")
    for sub in ("sites", "reference", "processed"):
        shutil.copytree(ROOT / "data" / sub, root / "data" / sub)
    shutil.copy2(ROOT / "requirements.lock", root / "requirements.lock")
    plan = yaml.safe_load((ROOT / "analysis.yml").read_text(encoding="utf-8"))
    if quick:
        plan["sites"] = dict(list(plan["sites"].items())[:1])
        plan["outcomes"] = plan["outcomes"][:2]
        plan["defaults"]["draws"] = 99
    (root / "analysis.yml").write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return root


def change_one_site(root: Path) -> str:
    """Give the first site its own number of draws; returns the site changed."""
    path = root / "analysis.yml"
    plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    site = next(iter(plan["sites"]))
    plan["sites"][site] = {"draws": int(plan["defaults"]["draws"]) + 1}
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return site


def _run(cmd: list[str], env: dict[str, str]) -> dict:
    res = run_command(cmd, env=env, cwd=env["PROEFTUIN_ROOT"])
    if res["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res['rc']}):\n{res['err']}")
    summary = Path(env["PROEFTUIN_ROOT"]) / "reports" / "results" / "run_summary.json"
    if cmd[0] == CLI and summary.is_file():
        tasks = json.loads(summary.read_text(encoding="utf-8"))["tasks"]
        res["status"] = dict(Counter(t["status"] for t in tasks))
    return res


def _status(m: dict) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(m.get("status", {}).items()))


def measure(quick: bool) -> dict[str, dict]:
    """Run the four scenarios in one temporary project; their wall time and peak RSS."""
    root = make_root(quick)
    path = os.pathsep.join(filter(None, [str(root / "src"), os.environ.get("PYTHONPATH")]))
    env = {**data_env(), "PROEFTUIN_ROOT": str(root), "PYTHONPATH": path}
    try:
        count = "from proeftuin.plan import load_plan; print(len(load_plan().tasks()))"
        tasks = int(_run([PYTHON, "-c", count], env)["out"].strip())
        out = {"baseline": _run([PYTHON, "-c", BASELINE], env)}
        out["cold"] = _run([CLI, "run"], env)
        warm = [_run([CLI, "run"], env) for _ in range(3)]
        out["warm"] = {**warm[0], "seconds": statistics.median(w["seconds"] for w in warm),
                       "all": [(w["seconds"], _status(w)) for w in warm]}  # fmt: skip
        out["site"] = {"name": change_one_site(root)}
        out["changed"] = _run([CLI, "run"], env)
        out["tasks"] = {"n": tasks}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def table(m: dict[str, dict], quick: bool) -> Table:
    base = m["baseline"]["seconds"]
    t = Table(
        "Pipeline: full plan" + (" (quick: 1 site, 2 outcomes, 99 draws)" if quick else ""),
        ["run", "wall s", "tasks", "baseline s", "speed-up vs baseline", "target"],
    )
    t.add("naive baseline: sequential papermill loop, no cache", m["baseline"]["seconds"],
          f"{m['tasks']['n']} executed", base, "1.0×", "")  # fmt: skip
    t.add("cold: `proeftuin run`, empty reports", m["cold"]["seconds"], _status(m["cold"]),
          base, ratio(base, m["cold"]["seconds"]), "")  # fmt: skip
    warm = m["warm"]["seconds"]
    t.add("warm: `proeftuin run`, nothing changed (median of 3)", warm, _status(m["warm"]),
          base, ratio(base, warm), "< 3 s: " + ("met" if warm < 3 else "MISSED"))  # fmt: skip
    t.add(f"one site changed ({m['site']['name']} draws)", m["changed"]["seconds"],
          _status(m["changed"]), base, ratio(base, m["changed"]["seconds"]), "")  # fmt: skip
    t.notes += [
        f"{m['tasks']['n']} tasks (every design per site, validation, synthesis); "
        "`proeftuin run` uses all "
        "cores (process pool); the baseline runs the same tasks one after another.",
        "The naive baseline has no cache: a rerun costs the same whatever changed, so every "
        "ratio is against the one baseline run measured in this run.",
        "Wall time: time.perf_counter around the whole command (interpreter start included). "
        "Peak RSS (/usr/bin/time -v, the command and the children it waited for): baseline "
        f"{m['baseline']['peak_mib']:.0f} MiB (its kernels included); `proeftuin run` "
        f"{m['cold']['peak_mib']:.0f} MiB (the CLI process; its fork-server workers and "
        "their kernels are not its waited children).",
        "The temporary project runs a snapshot of the package source (PYTHONPATH), so edits "
        "to src/ during the benchmark cannot invalidate the cache between runs.",
        "Warm runs: " + "; ".join(f"{s:.2f} s ({st})" for s, st in m["warm"]["all"]) + ".",
    ]
    return t


def run(quick: bool = False) -> list[Table]:
    return [table(measure(quick), quick)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 site, 2 outcomes, 99 draws")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    report(run(args.quick), title="Pipeline benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
