"""Validation against published results, through the command line (offline, mirror data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proeftuin.cli import app

# Callaway & Sant'Anna (2021), R package `did` README / vignette, mpdta, never-treated controls.
PUBLISHED_ATT_GT = {
    (2004, 2004): -0.0105,
    (2004, 2005): -0.0704,
    (2004, 2006): -0.1373,
    (2004, 2007): -0.1008,
    (2006, 2004): 0.0065,
    (2006, 2005): -0.0028,
    (2006, 2006): -0.0046,
    (2006, 2007): -0.0412,
    (2007, 2004): 0.0305,
    (2007, 2005): -0.0027,
    (2007, 2006): -0.0311,
    (2007, 2007): -0.0261,
}
PUBLISHED_DYNAMIC_BY_E = {
    -3: 0.0305,
    -2: -0.0006,
    -1: -0.0245,
    0: -0.0199,
    1: -0.0510,
    2: -0.1373,
    3: -0.1008,
}
# Published values are rounded to four decimals: "within 1e-4" allows the rounding half-unit.
TOL = 1e-4 / 2 + 1e-9


def _run(args: list[str]) -> dict:
    result = CliRunner().invoke(app, ["estimate", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def mpdta_cs(reference_dir: Path) -> dict:
    return _run(
        [
            "did",
            "--data",
            str(reference_dir / "mpdta.csv"),
            "--unit",
            "countyreal",
            "--time",
            "year",
            "--outcome",
            "lemp",
            "--first-treated",
            "first.treat",
            "--method",
            "cs",
            "--control-group",
            "never",
            "--json",
        ]
    )


def test_mpdta_twelve_group_time_atts(mpdta_cs: dict) -> None:
    got = {(int(r["group"]), int(r["time"])): r["estimate"] for r in mpdta_cs["att_gt"]}
    assert set(got) == set(PUBLISHED_ATT_GT)
    deviations = {k: abs(got[k] - v) for k, v in PUBLISHED_ATT_GT.items()}
    assert max(deviations.values()) <= TOL, deviations


def test_mpdta_aggregations(mpdta_cs: dict) -> None:
    agg = mpdta_cs["aggregations"]
    assert abs(agg["simple"]["estimate"] - (-0.0400)) <= TOL
    assert abs(agg["dynamic"]["estimate"] - (-0.0772)) <= TOL
    assert abs(agg["group"]["estimate"] - (-0.0310)) <= TOL
    by_e = {r["event_time"]: r["estimate"] for r in agg["dynamic"]["by_event_time"]}
    for e, value in PUBLISHED_DYNAMIC_BY_E.items():
        assert abs(by_e[e] - value) <= TOL, (e, by_e[e], value)
    assert mpdta_cs["estimate"] == agg["simple"]["estimate"]


def test_mpdta_analytic_se_and_pretest(mpdta_cs: dict) -> None:
    # Published: simple ATT analytic SE 0.0120; Wald pre-test of parallel trends p = 0.168.
    assert abs(mpdta_cs["aggregations"]["simple"]["se"] - 0.0120) <= 0.5e-4
    assert abs(mpdta_cs["pretrend"]["p_value"] - 0.168) <= 0.5e-3
    assert mpdta_cs["n_units"] == 500 and mpdta_cs["n_treated_units"] == 191
    assert mpdta_cs["n_periods"] == 5


def test_sicily_seasonally_adjusted_rate_ratio(reference_dir: Path) -> None:
    out = _run(
        [
            "its",
            "--data",
            str(reference_dir / "sicily.csv"),
            "--time",
            "time",
            "--outcome",
            "aces",
            "--start",
            "37",
            "--exposure",
            "stdpop",
            "--family",
            "quasipoisson",
            "--period",
            "12",
            "--harmonics",
            "2",
            "--impact",
            "level",
            "--json",
        ]
    )
    # Lopez Bernal, Cummins & Gasparrini (2017): seasonally adjusted rate ratio about 0.885.
    assert round(out["level_change"]["ratio"], 3) == 0.885
    assert out["level_change"]["ci_high"] < 0
    assert out["slope_change"] is None
