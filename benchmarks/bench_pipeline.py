"""Pipeline benchmark: cold, warm and one-site-changed runs against a naive papermill loop,
the compute limit, each notebook's fixed cost, and the cold run of an earlier commit.

Everything runs in a temporary copy of the project (``PROEFTUIN_ROOT``: notebooks, plan,
curated data, the processed panel, the lock file), so the real reports are untouched.
Cold is ``proeftuin run`` on an empty reports folder; warm is the same command with nothing
changed (median of 3); one-site-changed edits one site's ``draws`` in the plan. The
baseline is a sequential loop of ``papermill.execute_notebook`` over the same tasks, with
no cache, measured in the same run (a naive rerun costs the same whatever changed); its
result files are compared with the cold run's (fresh kernels against warm ones). The
compute limit and the fixed costs are measured in children (``_pipeline_parts``); the
earlier commit (``--before``, default 6b60a23) runs cold in a temporary copy of its own
checkout, with its own environment and CLI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _pipeline_parts as parts  # noqa: E402
from _common import PYTHON, ROOT, Table, data_env, in_child, ratio, report, run_command  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "proeftuin")
BEFORE = "6b60a23"  # the state before the work of issue 15 (pipeline part)
COMPARED = (".csv", ".json", ".png")
BASELINE = """
import json
import papermill as pm
from proeftuin.core import settings
from proeftuin.pipeline.plan import load_plan
failed = []
for task in load_plan().tasks():
    out = settings.project_root() / "baseline" / task.folder / f"{task.notebook}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    params = {**task.parameters, "results_dir": str(out.parent)}
    try:
        pm.execute_notebook(str(task.template), str(out), parameters=params,
                            kernel_name=settings.KERNEL_NAME, cwd=str(settings.project_root()),
                            progress_bar=False)
    except pm.PapermillExecutionError as exc:
        failed.append(f"{task.name} ({exc.ename}: {exc.evalue[:80]})")
print(json.dumps(failed))
"""


def make_root(quick: bool, source: Path = ROOT, registry: str = "sites") -> Path:
    """A temporary project: notebooks, plan, curated and processed data, lock file (of
    ``source``, this checkout or an earlier one whose registry folder may be named else)."""
    root = Path(tempfile.mkdtemp(prefix="proeftuin-bench-"))
    shutil.copytree(source / "notebooks", root / "notebooks")
    # a snapshot of the package: edits to src/ during the benchmark must not change the
    # cache keys (they hash the package source) between the runs being compared
    shutil.copytree(source / "src" / "proeftuin", root / "src" / "proeftuin")
    for sub in (registry, "reference", "processed"):
        shutil.copytree(source / "data" / sub, root / "data" / sub)
    shutil.copy2(source / "requirements.lock", root / "requirements.lock")
    plan = yaml.safe_load((source / "analysis.yml").read_text(encoding="utf-8"))
    if quick:
        key = "sites" if "sites" in plan else "regions"
        plan[key] = dict(list(plan[key].items())[:1])
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
    if cmd[0].endswith("proeftuin") and summary.is_file():
        tasks = json.loads(summary.read_text(encoding="utf-8"))["tasks"]
        res["status"] = dict(Counter(t["status"] for t in tasks))
    return res


def _status(m: dict) -> str:
    return ", ".join(f"{n} {s}" for s, n in sorted(m.get("status", {}).items()))


def _env(root: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(root / "src"), os.environ.get("PYTHONPATH")]))
    return {**data_env(), "PROEFTUIN_ROOT": str(root), "PYTHONPATH": path}


def _without_run_times(value: Any) -> Any:
    """A results JSON without its run times (``seconds`` keys: wall clock, never equal)."""
    if isinstance(value, dict):
        return {k: _without_run_times(v) for k, v in value.items() if k != "seconds"}
    return [_without_run_times(v) for v in value] if isinstance(value, list) else value


def _digest(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".json":
        data = json.dumps(_without_run_times(json.loads(data)), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _first_difference(a: Path, b: Path) -> str:
    """The first line where two text files differ, as 'line N: <a> | <b>'."""
    la = a.read_text(encoding="utf-8").splitlines() if a.is_file() else ["(missing)"]
    lb = b.read_text(encoding="utf-8").splitlines() if b.is_file() else ["(missing)"]
    for n, (x, y) in enumerate(zip(la + [""], lb + [""], strict=False), start=1):
        if x != y:
            return f"line {n}: {x[:160]} | {y[:160]}"
    return "same lines"


def _hashes(results: Path) -> dict[str, str]:
    """SHA-256 of the compared result files of every task (records and manifest aside;
    JSON without run times)."""
    return {
        str(p.relative_to(results)): _digest(p)
        for p in sorted(results.rglob("*"))
        if p.suffix in COMPARED and p.is_file() and p.parent != results
        and not p.name.endswith(".provenance.json")
    }  # fmt: skip


def measure_before(quick: bool, before: str, checkout: Path | None) -> dict:
    """The cold run of an earlier commit, in a temporary copy of its checkout."""
    folder = checkout or Path(tempfile.mkdtemp(prefix="proeftuin-before-")) / "repo"
    made = checkout is None
    try:
        parts.prepare_checkout(before, folder, ROOT, data_env()["PROEFTUIN_DATA_MIRROR"])
        registry = "sites" if (folder / "data" / "sites").is_dir() else "regions"
        root = make_root(quick, folder, registry)
        try:
            res = _run([str(folder / ".venv" / "bin" / "proeftuin"), "run"], _env(root))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    finally:
        if made:
            parts.remove_checkout(folder, ROOT)
            shutil.rmtree(folder.parent, ignore_errors=True)
    return {**res, "commit": before}


def measure(
    quick: bool, before: str = BEFORE, checkout: Path | None = None, partial: Path | None = None
) -> dict[str, dict]:
    """Every scenario, one after another (one heavy job at a time), in one temporary project;
    with ``partial``, what is measured so far is written there after each scenario."""
    out: dict[str, Any] = {}

    def done(name: str, value: dict) -> None:
        out[name] = value
        if partial is not None:
            partial.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")

    root = make_root(quick)
    env = _env(root)
    try:
        count = "from proeftuin.pipeline.plan import load_plan; print(len(load_plan().tasks()))"
        done("tasks", {"n": int(_run([PYTHON, "-c", count], env)["out"].strip()),
                       "cores": os.cpu_count() or 1})  # fmt: skip
        done("cold", _run([CLI, "run"], env))  # an empty reports folder
        warm = [_run([CLI, "run"], env) for _ in range(3)]
        done("warm", {**warm[0], "seconds": statistics.median(w["seconds"] for w in warm),
                      "all": [(w["seconds"], _status(w)) for w in warm]})  # fmt: skip
        done("fixed", in_child("_pipeline_parts:fixed_costs", env=env, root=str(root)))
        done("before", measure_before(quick, before, checkout))
        limit_env = {**env, **parts.KERNEL_ENV, "MPLBACKEND": "Agg"}
        done("limit", in_child("_pipeline_parts:compute_limit", env=limit_env,
                               root=str(root), scratch=str(root / "compute_limit")))  # fmt: skip
        # after the cold run: the synthesis notebook reads its run manifest (and the site
        # results it lists); the baseline writes into a folder of its own, with the
        # kernels' environment (one BLAS thread, one string-hash seed: else the last digits
        # differ, whoever runs them)
        baseline = _run([PYTHON, "-c", BASELINE], {**env, **parts.KERNEL_ENV})
        baseline["failed"] = json.loads(baseline["out"].strip().splitlines()[-1])
        done("baseline", baseline)
        cold_files = _hashes(root / "reports" / "results")
        baseline_files = _hashes(root / "baseline")
        differ = sorted(k for k in baseline_files.keys() | cold_files.keys()
                        if baseline_files.get(k) != cold_files.get(k))  # fmt: skip
        first = {k: _first_difference(root / "reports" / "results" / k, root / "baseline" / k)
                 for k in differ if k.endswith(".csv")}  # fmt: skip
        done("identical", {"n": len(cold_files), "differ": differ, "first": first})
        out["site"] = {"name": change_one_site(root)}
        done("changed", _run([CLI, "run"], env))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


NAN = float("nan")


def _target(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(m: dict[str, Any], quick: bool) -> list[Table]:
    """The tables of what was measured; a scenario not measured says so (``--partial``)."""
    sec = {k: float(v.get("seconds", NAN)) for k, v in m.items() if isinstance(v, dict)}
    base, cold, before = sec.get("baseline", NAN), sec.get("cold", NAN), sec.get("before", NAN)
    cores, limit = m["tasks"]["cores"], m.get("limit", {})
    floor = sec.get("limit", NAN) / cores
    n = m["tasks"]["n"]
    t = Table(
        "Pipeline: full plan" + (" (quick: 1 site, 2 outcomes, 99 draws)" if quick else ""),
        ["run", "wall s", "tasks", "vs naive baseline", "vs before", "target"],
    )
    t.add(f"before: cold `proeftuin run` at {BEFORE}, its own CLI", before,
          _status(m.get("before", {})), ratio(base, before), "1.0×", "")  # fmt: skip
    failed = m.get("baseline", {}).get("failed", [])
    t.add("naive baseline: sequential papermill loop, no cache", base,
          f"{n} executed" + (f", {len(failed)} failed" if failed else ""), "1.0×",
          ratio(before, base), "")  # fmt: skip
    t.add("cold: `proeftuin run`, empty reports", cold, _status(m.get("cold", {})),
          ratio(base, cold), ratio(before, cold),
          f"< 60 s: {_target(cold < 60)}; ≤ 1.5× compute limit: "
          f"{_target(cold <= 1.5 * floor)} ({cold / floor:.2f}×)")  # fmt: skip
    warm = sec.get("warm", NAN)
    t.add("warm: `proeftuin run`, nothing changed (median of 3)", warm,
          _status(m.get("warm", {})), ratio(base, warm), ratio(before, warm),
          f"< 3 s: {_target(warm < 3)}")  # fmt: skip
    t.add(f"one site changed ({m.get('site', {}).get('name', '–')} draws)", sec.get("changed", NAN),
          _status(m.get("changed", {})), ratio(base, sec.get("changed", NAN)), "", "")  # fmt: skip
    t.add(f"compute limit: the tasks' cells back to back in one warm process / {cores} cores",
          floor, f"{n} in one process ({sec.get('limit', NAN):.0f} s)", ratio(base, floor),
          ratio(before, floor), "the floor")  # fmt: skip
    missing = [k for k in ("before", "baseline", "limit", "changed") if k not in m]
    same = m.get("identical")
    t.notes += [
        f"{n} tasks (every design per site, validation, synthesis); `proeftuin run` uses all "
        "cores (process pool, one warm kernel per worker, longest task first); the baseline "
        "runs the same tasks one after another, a new kernel each, no cache (a rerun costs "
        "the same whatever changed).",
        f"Before: commit {BEFORE} in a temporary copy of its own checkout (its environment, "
        "panel and CLI; registry data/regions, notebooks *_region), the same plan.",
        "Results: not compared (the baseline was not run)." if same is None else
        f"Results: {same['n']} result files (CSV, JSON, PNG of every task) of the cold run "
        "(warm kernels) against the baseline's (a new kernel per notebook, run after the cold "
        "run, whose manifest and site results its synthesis reads): "
        + ("all byte-identical." if not same["differ"] else "DIFFER: " + ", ".join(same["differ"]))
        + "".join(f" ({k}, first difference, cold | baseline: {v})"
                  for k, v in same.get("first", {}).items())
        + " JSON compared without its run times (`seconds` keys); the baseline's kernels get "
        "the pipeline's kernel environment (one BLAS thread, PYTHONHASHSEED=0).",
        "Compute limit: each task's code cells exec'd in one Python process with the "
        "notebooks' imports done before the clock starts (no kernel, no papermill, outputs "
        "not rendered), the kernels' environment (one BLAS thread, one hash seed); the sum "
        "divided by the cores."
        + ("" if not limit.get("per_task") else " Per task: "
           + "; ".join(f"{k} {v:.1f} s" for k, v in limit["per_task"].items()) + "."),
        "Wall time: time.perf_counter around the whole command (interpreter start included).",
        "The temporary project runs a snapshot of the package source (PYTHONPATH), so edits "
        "to src/ during the benchmark cannot invalidate the cache between runs.",
        "Baseline failures: " + ("; ".join(failed) or "none") + ".",
        "Warm runs: "
        + "; ".join(f"{s:.2f} s ({st})" for s, st in m.get("warm", {}).get("all", [])) + ".",
    ]  # fmt: skip
    if missing:
        t.notes.append(
            "Not measured in this run (stopped before them): " + ", ".join(missing) + "."
        )
    return [t, fixed_table(m.get("fixed", {"error": "not run"}))]


def fixed_table(fixed: dict) -> Table:
    t = Table(
        "Pipeline: a notebook's fixed cost (kernel start, imports, inputs and design, first fit)",
        ["notebook", "new kernel s (baseline)", "warm kernel s", "speed-up", "target"],
    )
    if "error" in fixed:
        t.notes.append(f"not measured: {fixed['error']}")
        return t
    for name, fresh in fixed["fresh"].items():
        warm = fixed["warm"][name]
        t.add(name, fresh, warm, ratio(fresh, warm), "< 2 s: " + ("met" if warm < 2 else "MISSED"))
    t.notes += [
        "Each template cut to its parameters and setup cells (imports, load_inputs, "
        "site_design, the facts table) and one first fit of one outcome (synth_site: synthetic "
        "DiD without inference, which loads the compiled solver; the others: a CRV1 DiD, "
        "which imports the estimators); validation and synthesis: their imports only (their setup "
        "cell is their work). Run with papermill through the pipeline's worker function, "
        "best of 2.",
        "New kernel: what every task paid before (and pays with `--fresh-kernels`). Warm "
        "kernel: the pipeline's default, the worker's kernel reset to a fresh kernel's state "
        "after every template ran on it once (first warm run per template: "
        + "; ".join(f"{k} {v:.1f} s" for k, v in fixed["first_warm"].items())
        + ").",
    ]
    return t


def run(
    quick: bool = False,
    before: str = BEFORE,
    checkout: Path | None = None,
    partial: Path | None = None,
) -> list[Table]:
    return table(measure(quick, before, checkout, partial), quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 site, 2 outcomes, 99 draws")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--before", default=BEFORE, help="the earlier commit run cold")
    parser.add_argument("--before-checkout", type=Path, default=None,
                        help="a prepared checkout of --before (default: a new one)")  # fmt: skip
    parser.add_argument("--partial", type=Path, default=None,
                        help="write the measurements so far here after each scenario")  # fmt: skip
    parser.add_argument("--from-partial", type=Path, default=None,
                        help="the tables of a stopped run's --partial file")  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    if args.from_partial:
        measured = json.loads(args.from_partial.read_text(encoding="utf-8"))
        tables = table(measured, args.quick)
        note = "Measured by one run of this script with --partial, stopped after the "
        tables[0].notes.insert(0, note + "scenarios below; these tables are from its file.")
    else:
        tables = run(args.quick, args.before, args.before_checkout, args.partial)
    report(tables, title="Pipeline benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
