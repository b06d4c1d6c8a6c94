"""A warm kernel gives a notebook what a fresh kernel gives it: the same files byte for
byte, the same execution counts and outputs, its warnings shown, no names or figures or
working directory left by the notebook before it; and a failure stops the kernel. Kernels
share the pipeline's environment (one BLAS thread, one hash seed), so two kernels walk a
set of names in the same order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from proeftuin.core import settings
from proeftuin.pipeline import kernel
from proeftuin.pipeline.commit import KERNEL_ENV
from proeftuin.pipeline.worker import execute_notebook

# Leaves behind all it can: a name, an open figure, warnings silenced, another directory.
POLLUTER = """
import os, warnings
import matplotlib.pyplot as plt
leftover = 1
plt.figure()
plt.plot([1, 2], [3, 4])
warnings.simplefilter("ignore")
os.chdir("/")
"""
PROBE = """
import os, warnings
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
warnings.warn("a warning every notebook must show", UserWarning)
out = Path(results_dir)
out.mkdir(parents=True, exist_ok=True)
values = np.random.default_rng(7).normal(size=1000)
(out / "numbers.csv").write_text("\\n".join(repr(float(v)) for v in values.cumsum()))
(out / "set_order.txt").write_text(" ".join({"site", "design", "outcome", "estimate", "year"}))
(out / "state.txt").write_text(
    f"leftover={'leftover' in globals()} figures={plt.get_fignums()} cwd={os.getcwd()}"
)
fig, ax = plt.subplots()
ax.plot(values[:50])
fig.savefig(out / "figure.png", metadata={"Software": None})
"""


def _notebook(path: Path, body: str) -> Path:
    params = new_code_cell('results_dir = "."')
    params.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[params, new_code_cell(body), new_code_cell("1 + 1")])
    notebook.metadata["kernelspec"] = {"name": settings.KERNEL_NAME, "display_name": "p"}
    nbformat.write(notebook, path)
    return path


def _spec(root: Path, template: Path, name: str, *, warm: bool) -> dict:
    return {
        "template": str(template),
        "output": str(root / f"{name}.ipynb"),
        "parameters": {"results_dir": name},
        "kernel": settings.KERNEL_NAME,
        "cwd": str(root),
        "root": str(root),
        "env": KERNEL_ENV,
        "timeout": 120,
        "warm": warm,
    }


def _shown(path: Path) -> list[tuple[int | None, list[str]]]:
    """Per code cell: its execution count and its outputs' text (stdout, stderr, results),
    the kernel's process id in cell file names masked (it differs between any two kernels)."""
    cells = nbformat.read(path, as_version=4).cells
    return [
        (cell.execution_count, [_text(output) for output in cell.outputs])
        for cell in cells
        if cell.cell_type == "code"
    ]


def _text(output: dict) -> str:
    text = output.get("text", "") or str(output.get("data", {}).get("text/plain", ""))
    return re.sub(r"ipykernel_\d+", "ipykernel_<pid>", text)


@pytest.fixture
def root(tmp_path: Path):
    # execute_notebook sets this process's environment as a worker's (PROEFTUIN_ROOT, the
    # kernels' variables): restored after each test, so later tests see their own settings
    saved = os.environ.copy()
    yield tmp_path
    kernel.discard()
    os.environ.clear()
    os.environ.update(saved)


def test_a_reused_kernel_gives_what_a_fresh_kernel_gives(root: Path):
    probe = _notebook(root / "probe.ipynb", PROBE)
    polluter = _notebook(root / "polluter.ipynb", POLLUTER)
    assert execute_notebook(_spec(root, probe, "fresh", warm=False))["ok"]
    assert execute_notebook(_spec(root, polluter, "first", warm=True))["ok"]
    assert execute_notebook(_spec(root, probe, "warm", warm=True))["ok"]
    assert execute_notebook(_spec(root, probe, "again", warm=True))["ok"]

    # set_order: every kernel has the pipeline's hash seed, so sets of names are walked alike
    for name in ("numbers.csv", "state.txt", "figure.png", "set_order.txt"):
        fresh = (root / "fresh" / name).read_bytes()
        assert (root / "warm" / name).read_bytes() == fresh, name
        assert (root / "again" / name).read_bytes() == fresh, name
    assert (root / "warm" / "state.txt").read_text() == f"leftover=False figures=[] cwd={root}"
    assert _shown(root / "warm.ipynb") == _shown(root / "fresh.ipynb")
    assert "a warning every notebook must show" in str(_shown(root / "again.ipynb"))


def test_a_failure_stops_the_warm_kernel_and_the_next_task_gets_a_new_one(root: Path):
    broken = _notebook(root / "broken.ipynb", "raise ValueError('planted')")
    probe = _notebook(root / "probe.ipynb", PROBE)
    assert execute_notebook(_spec(root, probe, "before", warm=True))["ok"]
    first = kernel._local.kernel.km.provisioner.pid
    outcome = execute_notebook(_spec(root, broken, "broken", warm=True))
    assert not outcome["ok"] and "planted" in outcome["error"]
    assert kernel._local.kernel is None
    assert execute_notebook(_spec(root, probe, "after", warm=True))["ok"]
    assert kernel._local.kernel.km.provisioner.pid != first
    assert (root / "after" / "numbers.csv").read_bytes() == (
        root / "before" / "numbers.csv"
    ).read_bytes()


def test_a_failed_reset_fails_the_task_and_the_next_gets_a_new_kernel(root: Path):
    breaker = _notebook(root / "breaker.ipynb", "import sys\ndel sys.modules['_proeftuin_warm']")
    probe = _notebook(root / "probe.ipynb", PROBE)
    assert execute_notebook(_spec(root, breaker, "breaker", warm=True))["ok"]
    outcome = execute_notebook(_spec(root, probe, "after_breaker", warm=True))
    assert not outcome["ok"] and "the warm kernel's reset failed: KeyError" in outcome["error"]
    assert kernel._local.kernel is None
    assert nbformat.read(root / "after_breaker.ipynb", as_version=4).metadata.papermill.end_time
    assert execute_notebook(_spec(root, probe, "again", warm=True))["ok"]
    assert (root / "again" / "state.txt").read_text() == f"leftover=False figures=[] cwd={root}"
