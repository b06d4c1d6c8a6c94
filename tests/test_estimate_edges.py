"""Degenerate inputs that gave results with exit 0, and options that were not there
(issue 24, items 14 and 15): each is now refused in one line, or headed by a method that
gives an interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from proeftuin.cli import app
from proeftuin.core.errors import DesignError
from proeftuin.estimators import estimate_did
from test_estimate_cli import BASE, invoke, panel


def one_line(res) -> str:  # noqa: ANN001 - click's Result
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert res.stdout == ""
    return lines[0]


def test_a_semicolon_file_is_said_without_an_option_did_and_its_lack(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    panel().to_csv(path, index=False, sep=";")
    did = ["did", *BASE[1:], "--first-treated", "start"]
    its = ["its", "--time", "jaar", "--outcome", "kosten", "--start", "2014"]
    for command in (did, its):
        res = CliRunner().invoke(app, ["estimate", command[0], "--data", str(path), *command[1:]])
        assert res.exit_code == 2
        line = one_line(res)
        assert "';'-separated: save it comma-separated" in line and "--sep" not in line


def test_synth_with_an_empty_separator_is_one_line(tmp_path: Path) -> None:
    args = ["synth", "--unit", "gemeente", "--time", "jaar", "--outcome", "kosten",
            "--treated", "pioneer", "--sep", ""]  # fmt: skip
    res = invoke(tmp_path, panel(), args)
    assert res.exit_code == 2 and "--sep '': give one character" in one_line(res)


def test_values_too_large_to_estimate_with_are_refused(tmp_path: Path) -> None:
    frame = panel().assign(kosten=lambda d: d["kosten"] * 1e300)
    args = ["synth", "--unit", "gemeente", "--time", "jaar", "--outcome", "kosten",
            "--treated", "pioneer"]  # fmt: skip
    res = invoke(tmp_path, frame, args)
    assert res.exit_code == 2 and "too large to estimate with: rescale it" in one_line(res)


@pytest.mark.parametrize("command", ["did", "synth"])
def test_a_constant_outcome_is_refused(tmp_path: Path, command: str) -> None:
    frame = panel().assign(kosten=5.0)
    args = ([*BASE, "--first-treated", "start"] if command == "did" else
            ["synth", "--unit", "gemeente", "--time", "jaar", "--outcome", "kosten",
             "--treated", "pioneer"])  # fmt: skip
    res = invoke(tmp_path, frame, args)
    assert res.exit_code == 2 and "'kosten' is 5 in every row" in one_line(res)


def test_a_method_not_available_for_the_estimator_never_heads_it() -> None:
    frame = panel()
    result = estimate_did(frame, unit="gemeente", time="jaar", outcome="kosten",
                          first_treated="start", method="cs", inference=["wild", "crv1", "ri"],
                          cluster="regio", draws=99, seed=1)  # fmt: skip
    assert result.headline_method is not None
    assert not result.headline_method.startswith("wild")
    assert result.ci_low is not None and np.isfinite([result.ci_low, result.ci_high]).all()
    with pytest.raises(DesignError, match="in every row"):
        estimate_did(frame.assign(kosten=1.0), unit="gemeente", time="jaar", outcome="kosten",
                     first_treated="start")  # fmt: skip


def test_its_with_fewer_pre_period_points_than_the_notebooks_accept_is_refused(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {"jaar": np.arange(2011, 2024), "y": np.r_[np.arange(3.0), 9 + np.arange(10.0)]}
    )
    res = invoke(tmp_path, frame, ["its", "--time", "jaar", "--outcome", "y", "--start", "2014"])
    assert res.exit_code == 2
    assert "3 pre-period points before 2014: a trend needs at least 8" in one_line(res)
    ok = invoke(tmp_path, frame, ["its", "--time", "jaar", "--outcome", "y", "--start", "2019"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["diagnostics"]["n_pre"] == 8
