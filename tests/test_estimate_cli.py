"""``proeftuin estimate``: JSON on stdout, one clear line and a non-zero exit on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from proeftuin.cli import app


def panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n, years = 24, np.arange(2011, 2019)
    g = np.where(np.arange(n) < 6, 2014, 0)
    d = (g[:, None] > 0) & (years[None, :] >= g[:, None])
    y = rng.normal(size=(n, 1)) + 0.1 * years[None, :] + 0.8 * d + rng.normal(size=(n, 8))
    return pd.DataFrame(
        {
            "gemeente": np.repeat(np.arange(n), 8),
            "jaar": np.tile(years, n),
            "kosten": y.ravel(),
            "start": np.repeat(g, 8),
            "pioneer": d.ravel().astype(int),
            "regio": np.repeat(np.arange(n) // 2, 8),
            "verzekerdejaren": np.repeat(rng.uniform(1e3, 5e3, n), 8),
        }
    )


BASE = ["did", "--unit", "gemeente", "--time", "jaar", "--outcome", "kosten"]


def invoke(tmp_path: Path, frame: pd.DataFrame, args: list[str]):
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    return CliRunner().invoke(app, ["estimate", args[0], "--data", str(path), *args[1:]])


def test_did_json_has_the_documented_keys(tmp_path: Path) -> None:
    res = invoke(
        tmp_path,
        panel(),
        [
            *BASE,
            "--first-treated",
            "start",
            "--cluster",
            "regio",
            "--weights",
            "verzekerdejaren",
            "--inference",
            "crv1,wild,ri",
            "--draws",
            "99",
            "--seed",
            "1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for key in (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "inference",
        "n_units",
        "n_treated_units",
        "n_periods",
    ):
        assert key in out
    assert set(out["inference"]) == {"crv1", "wild_restricted", "wild_unrestricted", "ri"}
    assert all("p_value" in v for v in out["inference"].values())
    assert (out["n_units"], out["n_treated_units"], out["n_periods"]) == (24, 6, 8)
    again = invoke(
        tmp_path,
        panel(),
        [
            *BASE,
            "--first-treated",
            "start",
            "--cluster",
            "regio",
            "--weights",
            "verzekerdejaren",
            "--inference",
            "crv1,wild,ri",
            "--draws",
            "99",
            "--seed",
            "1",
            "--json",
        ],
    )
    assert json.loads(again.stdout) == out


def test_did_cs_via_treated_indicator(tmp_path: Path) -> None:
    res = invoke(
        tmp_path,
        panel(),
        [*BASE, "--treated", "pioneer", "--method", "cs", "--control-group", "notyet", "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"group", "time", "estimate", "se"} <= set(out["att_gt"][0])
    assert set(out["aggregations"]) == {"simple", "dynamic", "group"}
    assert "by_event_time" in out["aggregations"]["dynamic"]


def test_its_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    t = np.arange(1, 49)
    frame = pd.DataFrame(
        {"maand": t, "opnames": rng.poisson(200 * np.exp(-0.1 * (t >= 25))), "inwoners": 1e5}
    )
    res = invoke(
        tmp_path,
        frame,
        [
            "its",
            "--time",
            "maand",
            "--outcome",
            "opnames",
            "--start",
            "25",
            "--exposure",
            "inwoners",
            "--family",
            "poisson",
            "--period",
            "12",
            "--harmonics",
            "1",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["level_change"]["ratio"] == pytest.approx(np.exp(out["level_change"]["estimate"]))
    assert set(out["slope_change"]) >= {"estimate", "se", "ci_low", "ci_high", "p_value"}


@pytest.mark.parametrize(
    ("mutate", "extra", "message"),
    [
        (
            lambda d: d,
            ["--first-treated", "strat"],
            "column 'strat' not found; did you mean 'start'?",
        ),
        (
            lambda d: d.assign(kosten=d["kosten"].astype(object).where(d.index != 3, "onbekend")),
            ["--first-treated", "start"],
            "outcome column 'kosten' is not numeric",
        ),
        (lambda d: d.assign(start=0), ["--first-treated", "start"], "no treated units"),
        (lambda d: d.assign(pioneer=0), ["--treated", "pioneer"], "treatment never changes"),
        (
            lambda d: d.assign(start=np.where(d["start"] > 0, 2011, 0)),
            ["--first-treated", "start"],
            "no pre-period",
        ),
        (lambda d: pd.concat([d, d.iloc[[5]]]), ["--first-treated", "start"], "duplicated rows"),
    ],
)
def test_did_bad_input_one_line(tmp_path: Path, mutate, extra, message) -> None:
    res = invoke(tmp_path, mutate(panel()), [*BASE, *extra, "--json"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert res.stdout == ""


def test_its_too_few_pre_period_points(tmp_path: Path) -> None:
    frame = pd.DataFrame({"jaar": np.arange(2012, 2024), "y": np.arange(12.0)})
    res = invoke(tmp_path, frame, ["its", "--time", "jaar", "--outcome", "y", "--start", "2014"])
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: too few pre-period points to identify a trend: 2 before 2014, need at least 3"
    )


def test_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app,
        ["estimate", *BASE[:1], "--data", str(tmp_path / "nope.csv"), *BASE[1:], "--treated", "d"],
    )
    assert res.exit_code == 2 and "data file not found" in res.stderr


def test_did_placebo_group_option(tmp_path: Path) -> None:
    frame = panel().assign(area=lambda f: f["gemeente"] // 6)
    args = [*BASE, "--first-treated", "start", "--inference", "ri", "--draws", "49"]
    res = invoke(tmp_path, frame, [*args, "--placebo-group", "area"])
    assert res.exit_code == 0, res.output
    ri = json.loads(res.stdout)["inference"]["ri"]
    assert "placebo sites within area" in ri["note"]
    # the six treated fill area 0, so each placebo site is one of the areas 1-3 whole
    assert ri["draws"] == 3 and ri["note"].startswith("exact enumeration")
    bad = invoke(tmp_path, frame, [*args, "--placebo-group", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.stderr
