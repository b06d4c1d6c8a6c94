"""How sure a randomization p-value is: exact enumeration against sampling, the Monte Carlo
error of a sampled p, the resolution of placebo sites drawn within areas, evidence labels
that never claim more than it, and pooling that treats neighbouring sites as one."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from proeftuin.designs.headline import sure
from proeftuin.estimators import estimate_did
from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import InferenceResult
from proeftuin.synthesis import pooling


def _area_panel(seed: int = 4, areas: int = 5, per_area: int = 10, years: int = 8) -> pd.DataFrame:
    """Units in areas with area shocks; three treated units in area 0 from 2004."""
    rng = np.random.default_rng(seed)
    n = areas * per_area
    area = np.repeat(np.arange(areas), per_area)
    t = np.arange(2000, 2000 + years)
    g = np.zeros(n)
    g[:3] = 2004
    shock = rng.normal(0, 0.6, (areas, years))[area]
    y = rng.normal(size=(n, 1)) + 0.1 * t[None, :] + shock + rng.normal(size=(n, years))
    y += 0.8 * ((g[:, None] > 0) & (t[None, :] >= g[:, None]))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), years),
            "year": np.tile(t, n),
            "y": y.ravel(),
            "g": np.repeat(g, years),
            "area": np.repeat(area, years),
        }
    )


def _weighted_cdf(values: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    order = np.argsort(values)
    cum = np.concatenate([[0.0], np.cumsum(weights[order])]) / weights.sum()
    return cum[np.searchsorted(values[order], grid, "right")]


def test_enumeration_and_sampling_agree_in_distribution() -> None:
    labels = np.zeros(80)
    labels[[0, 1, 2]] = 2004.0
    groups = np.arange(80) // 16  # five areas of 16, the site in area 0
    value = np.random.default_rng(0).normal(size=80) + groups  # area-level differences
    exact = asg.grouped_draws(labels, groups, 100, np.random.default_rng(1), budget=10_000)
    sampled = asg.grouped_draws(labels, groups, 2000, np.random.default_rng(1))
    assert exact.exact and not sampled.exact and exact.n_areas == sampled.n_areas == 5
    assert len(exact) == 4 * 560 + 286  # C(16, 3) placebo sites per other area, C(13, 3)
    stat_exact, stat_sampled = value[exact.slots].sum(1), value[sampled.slots].sum(1)
    grid = np.sort(stat_exact)
    gap = np.abs(
        _weighted_cdf(stat_exact, exact.weights, grid)
        - _weighted_cdf(stat_sampled, np.ones(len(stat_sampled)), grid)
    ).max()
    assert gap < 1.95 / np.sqrt(len(stat_sampled))  # Kolmogorov-Smirnov at 0.1%
    observed = value[:3].sum()
    p_exact = inf.ri_pvalue(observed, stat_exact, True, exact.weights, observed_included=False)
    p_sampled = inf.ri_pvalue(observed, stat_sampled, False, sampled.weights, False)
    _, lo, hi = inf.monte_carlo_error(p_sampled, len(sampled))
    assert lo <= p_exact <= hi


@pytest.mark.parametrize(("n", "k"), [(1, 1), (5, 1), (5, 5), (7, 3), (12, 6), (3, 4), (4, 0)])
def test_combinations_are_itertools_in_its_order(n: int, k: int) -> None:
    expected = list(itertools.combinations(range(n), k))
    assert [tuple(r) for r in asg.combinations(n, k).tolist()] == expected


def test_did_ri_is_exact_within_the_budget_and_sampled_beyond(monkeypatch) -> None:
    df = _area_panel()
    kw = {"unit": "unit", "time": "year", "outcome": "y", "first_treated": "g",
          "cluster": "unit", "inference": ["ri"], "draws": 999, "seed": 3,
          "placebo_group": "area", "event_study": False}  # fmt: skip
    exact = estimate_did(df, **kw).inference["ri"]
    assert exact.p_kind == "exact" and exact.p_mcse == 0.0 and exact.n_areas == 5
    assert exact.draws == 4 * 120 + 35  # C(10, 3) per other area, C(7, 3) in the site's
    monkeypatch.setattr(asg, "EXACT_BUDGET", 10)
    sampled = estimate_did(df, **{**kw, "draws": 400}).inference["ri"]
    assert sampled.p_kind == "sampled" and sampled.draws == 400
    assert sampled.p_mcse == pytest.approx(np.sqrt(sampled.p_value * (1 - sampled.p_value) / 400))
    assert sampled.p_mc_low <= exact.p_value <= sampled.p_mc_high
    assert sampled.p_resolution == exact.p_resolution == pytest.approx(1 / 6)


def test_headline_draws_bound_the_monte_carlo_error_at_five_percent() -> None:
    b = inf.headline_draws()
    assert b == 7600
    assert inf.monte_carlo_error(0.05, b)[0] <= inf.HEADLINE_MCSE + 1e-12
    assert inf.monte_carlo_error(0.05, b - 100)[0] > inf.HEADLINE_MCSE
    # the plan's default and the committed plan keep headline rows within that error
    from proeftuin.core import settings
    from proeftuin.core.yamlfile import read_yaml

    assert b <= settings.DEFAULT_DRAWS
    assert read_yaml(settings.plan_path())["defaults"]["draws"] >= b
    se, lo, hi = inf.monte_carlo_error(0.034, 999)  # the lucky draw
    assert se == pytest.approx(0.0057, abs=1e-4) and lo < 0.034 < hi and hi > 0.05


def test_the_resolution_note_fires_for_23_areas_below_one_in_24() -> None:
    fine = inf.mark_precision(InferenceResult("ri", 0.034, note="x"), True, 207_452, 23)
    assert fine.p_resolution == pytest.approx(1 / 24)
    assert inf.RESOLUTION in fine.note and "1/24" in fine.note
    coarse = inf.mark_precision(InferenceResult("ri", 0.048, note="x"), True, 207_452, 23)
    assert coarse.note == "x" and coarse.p_kind == "exact"
    everywhere = inf.mark_precision(InferenceResult("ri", 0.001), False, 7600, None)
    assert everywhere.note is None and everywhere.p_resolution is None


def test_evidence_labels_never_claim_more_than_the_resolution() -> None:
    assert pooling.evidence(0.001) == "strong"
    assert pooling.evidence(0.001, 1 / 24) == "moderate"
    assert pooling.evidence(0.014, 1 / 24) == "moderate"
    assert pooling.evidence(0.001, 1 / 20) == "weak"
    assert pooling.evidence(0.3, 1 / 24) == "none"
    assert pooling.evidence(0.001, float("nan")) == "strong"


def test_neighbours_are_pooled_first_as_perfectly_correlated() -> None:
    est, se = pooling.combine_neighbours(np.array([90.0, 150.0]), np.array([30.0, 30.0]))
    assert est == 120.0 and se == 30.0  # no variance gained from a neighbour
    z = pooling.Z95
    table = pd.DataFrame(
        {
            "site": ["a", "b", "c", "d"],
            "outcome": "cost",
            "method": "ri",
            "design": "did",
            "estimate": [90.0, 150.0, -20.0, 60.0],
            "ci_low": [90 - 30 * z, 150 - 30 * z, -20 - 40 * z, 60 - 35 * z],
            "ci_high": [90 + 30 * z, 150 + 30 * z, -20 + 40 * z, 60 + 35 * z],
            "note": "",
        }
    )
    row = pooling.pool(table, {"a": "a+b", "b": "a+b", "c": "c", "d": "d"}).iloc[0]
    assert row["k"] == 4 and row["k_shared"] == 3 and row["clusters"] == "a+b"
    assert row["se_shared"] > row["se"] and row["mde_shared"] > row["mde"]
    plain = pooling.pool(table).iloc[0]
    assert np.isnan(plain["estimate_shared"]) and plain["estimate"] == row["estimate"]


def test_tables_print_how_sure_a_p_value_is() -> None:
    exact = {"p_value": "0.0085", "p_kind": "exact", "p_mcse": "0", "n_areas": "23",
             "p_resolution": str(1 / 24)}  # fmt: skip
    assert sure(exact) == ", exact; 23 areas: ≥ 1/24"
    sampled = {"p_value": 0.0685, "p_kind": "sampled", "p_mcse": 0.0029, "n_areas": 19,
               "p_resolution": 0.05}  # fmt: skip
    assert sure(sampled) == " ± 0.003"
    assert sure({"p_value": 0.2}) == ""  # CRV1, the wild bootstrap: nothing to add
