"""The estimators package keeps its shape: small modules by concept, no project I/O (as the
import-linter contract also says), pyfixest internals touched in one compatibility module
only, and one dispatch table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import proeftuin.estimators

PACKAGE = Path(proeftuin.estimators.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
PRIVATE_PYFIXEST = re.compile(r"\._G\b|_beta_hat|\._vcov\b|_coefnames|_did2s_vcov|pyfixest\.core")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_over_450_lines() -> None:
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in MODULES
    }
    assert {"did/estimate.py", "did/twfe.py", "its/estimate.py", "synth/estimate.py"} <= set(sizes)
    assert max(sizes.values()) <= 450, sizes


def test_estimators_import_only_libraries_themselves_and_the_pure_bottom() -> None:
    pure = {
        "proeftuin.core.jsonable",
        "proeftuin.core.errors",
    }  # no I/O (import-linter's lowest layer)
    for path in MODULES:
        project = {m for m in _imports(path) if m.split(".")[0] == "proeftuin"}
        outside = {m for m in project - pure if not m.startswith("proeftuin.estimators")}
        assert not outside, (path.name, outside)


def test_pyfixest_internals_only_in_the_compatibility_module() -> None:
    users = {p.name for p in MODULES if PRIVATE_PYFIXEST.search(p.read_text(encoding="utf-8"))}
    assert users == {"_pyfixest.py"}


def test_one_dispatch_table_covers_every_estimator() -> None:
    from proeftuin.estimators.did import estimate as did

    assert set(did.ESTIMATORS) == set(did.METHODS)
    assert {e for e, _ in did.INFERENCE_METHODS} == set(did.METHODS)
    assert {m for _, m in did.INFERENCE_METHODS} <= set(did.INFERENCE)
    for method in did.METHODS:  # CRV1 and RI exist for every estimator
        assert (method, "crv1") in did.INFERENCE_METHODS
        assert (method, "ri") in did.INFERENCE_METHODS
