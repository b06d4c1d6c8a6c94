"""Every line of a template's parameters cell is a parameter papermill can read: a line it
cannot parse makes papermill drop the parameter ("Passed unknown parameter") silently."""

import json
import re
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(notebook: Path) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    declared = [m.group(1) for line in "".join(cell["source"]).splitlines()
                if (m := re.match(r"^(\w+)\s*[:=]", line))]  # fmt: skip
    assert declared, f"{notebook.name}: no parameters declared"
    assert list(pm.inspect_notebook(str(notebook))) == declared
