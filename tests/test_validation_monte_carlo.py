"""The Monte Carlo script in quick mode: the design it simulates and deterministic behaviour."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "monte_carlo.py"


@pytest.fixture(scope="module")
def mc():
    spec = importlib.util.spec_from_file_location("monte_carlo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulated_panels_have_the_pioneer_shape(mc) -> None:
    for seed in range(5):
        df = mc.simulate_panel(np.random.default_rng(seed), effect=0.0)
        assert df["unit"].nunique() == 342 and df["year"].nunique() == 13
        sizes = df.groupby("region")["unit"].nunique()
        assert sizes.between(2, 7).all()
        starts = df.groupby("region")["g"].first()
        assert 4 <= (starts > 0).sum() <= 9
        assert set(starts[starts > 0]) <= {2013.0, 2014.0}


def test_quick_run_is_deterministic_and_finds_a_large_planted_effect(mc) -> None:
    raw = mc.run(reps=2, draws=19, seed=7, effects=(0.0, 3.0))
    assert raw.equals(mc.run(reps=2, draws=19, seed=7, effects=(0.0, 3.0)))
    big = raw[raw["effect"] == 3.0]
    assert (big["estimate"] - 3.0).abs().max() < 1.0  # estimator sd about 0.3 in this design
    assert (
        big.loc[big["method"].isin(["crv1", "crv1_municipality", "ri"]), "p_value"] <= 0.05
    ).all()
    table = mc.summarise(raw)
    assert list(table["method"].unique()) == list(mc.METHODS)
    assert table["reps"].eq(2).all() and table["coverage_95"].between(0, 1).all()
    assert "| effect | method |" in mc.to_markdown(table, "quick", 1.0)


def test_committed_table_exists_and_reports_every_method(mc) -> None:
    text = (SCRIPT.parent / "monte_carlo.md").read_text()
    assert "python benchmarks/monte_carlo.py" in text and "--seed" in text
    for method in mc.METHODS:
        assert f"| {method} |" in text
