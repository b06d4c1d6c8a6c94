"""Parts of the pipeline benchmark that run in a child process or another checkout: the
compute limit, each notebook's fixed cost, and the cold run of an earlier commit.

- **Compute limit** (:func:`compute_limit`): every task's code cells run back to back in
  one warm Python process (imports paid before the clock starts, no kernel, no papermill),
  with the kernels' one BLAS thread; the sum divided by the cores is the floor a scheduler
  of these tasks can approach.
- **Fixed cost** (:func:`fixed_costs`): per notebook template, what a task pays before its
  own work: kernel start, the parameters and setup cells (imports, inputs, design) and a
  first fit of the template's estimator (:data:`FIRST_FIT`; one CRV1 DiD elsewhere).
  Measured on a new kernel (each task's cost without a warm kernel) and on a warm kernel
  (reset, as the pipeline does).
- **Earlier commit** (:func:`prepare_checkout`): a detached worktree of the commit with its
  own environment (``make env``) and panel (``proeftuin data``), driven by its own CLI.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from proeftuin.pipeline.commit import KERNEL_ENV  # the kernels' threads and hash seed

WORK = ("checks = ",)  # where a setup cell's work begins: it and the lines after are cut
FIRST_FIT = {  # per template, a first fit of its own estimator without inference
    "synth_site": "from proeftuin.designs.synth import run_synth\n_fit = run_synth(design, "
    "outcomes[:1], estimators=['sdid'], inference=[], draws=draws, seed=seed)",
}
DID_FIT = (  # the other site templates: one CRV1 DiD, which imports the estimators
    "from proeftuin.designs.did import run_did\n"
    "_fit = run_did(design, outcomes[:1], inference=['crv1'], draws=draws, "
    "seed=seed, event_study=False)"
)


def _cells(template: Path) -> tuple[str, list[str]]:
    """The parameters cell and the other code cells of a template."""
    cells = json.loads(template.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    params = next(c for c in code if "parameters" in c.get("metadata", {}).get("tags", []))
    return "".join(params["source"]), ["".join(c["source"]) for c in code if c is not params]


# ------------------------------------------------------------------------- compute limit


def compute_limit(root: str, scratch: str) -> dict[str, Any]:
    """Run every task's code cells in this process, one after another (see module doc)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from proeftuin.pipeline.plan import load_plan

    for module in ("analysis", "compare", "its_analysis", "plots", "robustness", "synthesis",
                   "synthetic", "validation", "estimators"):  # fmt: skip
        importlib.import_module(f"proeftuin.{module}")

    tasks = load_plan().tasks()
    per_task: dict[str, float] = {}
    for task in tasks:
        params, cells = _cells(task.template)
        out = Path(scratch) / task.folder
        out.mkdir(parents=True, exist_ok=True)
        namespace: dict[str, Any] = {}
        exec(params, namespace)
        namespace.update(task.parameters, results_dir=str(out))
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            for source in cells:
                exec(compile(source, f"<{task.name}>", "exec"), namespace)
        per_task[task.name] = time.perf_counter() - started
        plt.close("all")
    return {"seconds": sum(per_task.values()), "per_task": per_task, "root": root}


# ---------------------------------------------------------------------------- fixed cost


def _fixed_notebook(template: Path, folder: Path) -> Path:
    """The template cut to its parameters and setup cells, plus a first fit for a site."""
    notebook = json.loads(template.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    keep = code[:2]
    source = "".join(keep[1]["source"])
    if "site_design(" in source:  # a site design: its setup cell and a first fit
        lines = source.splitlines()
        work = [i for i, ln in enumerate(lines) if ln.startswith(WORK)]
        keep[1] = {**keep[1], "source": "\n".join(lines[: work[0] if work else None])}
        fit = FIRST_FIT.get(template.stem, DID_FIT)
        keep.append({**keep[1], "id": "first-fit", "source": fit, "outputs": [], "metadata": {}})
    else:  # validation, synthesis: their setup cell is their work; its imports only
        imports = [ln for ln in source.splitlines() if ln.startswith(("from ", "import "))]
        keep[1] = {**keep[1], "source": "\n".join(imports)}
    notebook["cells"] = keep
    path = folder / template.name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def fixed_costs(root: str, repeat: int = 2) -> dict[str, Any]:
    """Per template: seconds on a new kernel (best of ``repeat``) and on a warm kernel
    (best of ``repeat``, after every template ran once on it)."""
    from proeftuin.core import settings
    from proeftuin.pipeline import kernel
    from proeftuin.pipeline.plan import load_plan
    from proeftuin.pipeline.worker import execute_notebook

    plan = load_plan()
    tasks = {t.notebook: t for t in plan.tasks()}  # one task (the first site) per template
    folder = Path(root) / "fixed_cost"
    folder.mkdir(exist_ok=True)
    env = {**settings.environment(), **KERNEL_ENV}

    def run(task: Any, path: Path, warm: bool) -> float:
        out = folder / "out" / task.notebook
        spec = {
            "template": str(path),
            "output": str(folder / f"{task.notebook}.out.ipynb"),
            "parameters": {**task.parameters, "results_dir": str(out)},
            "kernel": settings.KERNEL_NAME,
            "cwd": root,
            "root": root,
            "env": env,
            "timeout": 600,
            "warm": warm,
        }
        started = time.perf_counter()
        outcome = execute_notebook(spec)
        if not outcome["ok"]:
            raise RuntimeError(f"{task.notebook}: {outcome['error']}")
        return time.perf_counter() - started

    cut = {name: _fixed_notebook(task.template, folder) for name, task in tasks.items()}
    fresh = {n: min(run(tasks[n], p, False) for _ in range(repeat)) for n, p in cut.items()}
    first_warm = {n: run(tasks[n], p, True) for n, p in cut.items()}  # warms the kernel
    warm = {n: min(run(tasks[n], p, True) for _ in range(repeat)) for n, p in cut.items()}
    kernel.discard()
    return {"fresh": fresh, "warm": warm, "first_warm": first_warm, "seconds": 0.0}


# ---------------------------------------------------------------------- earlier commit


def prepare_checkout(commit: str, folder: Path, repo: Path, mirror: str) -> Path:
    """A detached worktree of ``commit`` in ``folder`` with its environment and panel."""
    if not (folder / ".venv" / "bin" / "proeftuin").exists():
        if not folder.exists():
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "add", "--detach", str(folder), commit],
                check=True, capture_output=True,
            )  # fmt: skip
        subprocess.run(["make", "env"], cwd=folder, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not head.startswith(commit):
        raise RuntimeError(f"{folder} is at {head[:10]}, not {commit}")
    if not (folder / "data" / "processed" / "panel.parquet").is_file():
        env = {**os.environ, "PROEFTUIN_DATA_MIRROR": mirror}
        subprocess.run(
            [str(folder / ".venv" / "bin" / "proeftuin"), "data"],
            cwd=folder, env=env, check=True, capture_output=True,
        )  # fmt: skip
    return folder


def remove_checkout(folder: Path, repo: Path) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "remove", "--force", str(folder)],
        check=False, capture_output=True,
    )  # fmt: skip
