"""Defects an independent re-computation of the estimators found, each pinned by a test:
one random stream per inference method and outcome, wild bootstrap flagged with too few
treated clusters, numeric options validated, missing values reported, messages that name
the command-line options, and a default inference that is not CRV1 alone.

``fixtures/castle.csv`` (Cheng & Hoekstra 2013, castle doctrine; 21 states adopt 2005-2010,
29 never) and ``fixtures/organ_donation.csv`` (Kessler & Roth 2014; California alone treated
from the fourth quarter) come from the MIT-licensed ``causaldata`` package, see
``fixtures/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from proeftuin.cli import app
from proeftuin.designs import did as analysis
from proeftuin.designs import headline
from proeftuin.estimators import DesignError, estimate_did, estimate_its
from proeftuin.estimators.inference import methods as inf
from proeftuin.synthesis import pooling as synthesis

FIXTURES = Path(__file__).parent / "fixtures"
CASTLE = {"unit": "sid", "time": "year", "outcome": "l_homicide", "first_treated": "effyear"}
ORGAN = {"unit": "state", "time": "quarter", "outcome": "rate", "first_treated": "first_treated"}
CASTLE_CLI = ["--unit", "sid", "--time", "year", "--outcome", "l_homicide"]
ORGAN_CLI = ["--unit", "state", "--time", "quarter", "--outcome", "rate"]


def castle() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "castle.csv")


def organ() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "organ_donation.csv")


def cli(args: list[str]):
    return CliRunner().invoke(app, ["estimate", *args])


def said(stderr: str) -> list[str]:
    """The lines on stderr, without the heartbeat a slow machine may add."""
    return [ln for ln in stderr.strip().splitlines() if "still working" not in ln]


def one_line_error(res, *fragments: str) -> None:
    assert res.exit_code == 2, res.output
    lines = said(res.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert res.stdout == ""


def series(n: int = 31, start: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(1, n + 1)
    return pd.DataFrame({"t": t, "y": 10 + 0.5 * t - 2.0 * (t >= start) + rng.normal(size=n)})


# --- 1. one random stream per method and per outcome ----------------------------------------


def test_castle_ri_p_value_does_not_depend_on_wild_being_requested() -> None:
    kw = {**CASTLE, "seed": 7, "draws": 199}
    ri_only = estimate_did(castle(), **kw, inference=["ri"])
    alone = ri_only.inference["ri"]
    after_wild = estimate_did(castle(), **kw, inference=["crv1", "wild", "ri"])
    ri = after_wild.inference["ri"]
    assert ri.draws == alone.draws == 199
    assert (ri.p_value, ri.se, ri.ci_low, ri.ci_high) == (
        alone.p_value,
        alone.se,
        alone.ci_low,
        alone.ci_high,
    )
    wild = estimate_did(castle(), **kw, inference=["wild_unrestricted"]).inference
    assert wild["wild_unrestricted"].p_value == after_wild.inference["wild_unrestricted"].p_value
    assert after_wild.pretrend["ri_p_value"] == ri_only.pretrend["ri_p_value"]


def test_cs_and_imputation_ri_do_not_depend_on_other_methods() -> None:
    frame = castle()
    frame = frame[frame["sid"] <= 30]  # smaller: each RI draw re-estimates
    kw = {**CASTLE, "seed": 3, "draws": 19}
    for method, others in (("cs", ["wild_unrestricted", "ri"]), ("imputation", ["crv1", "ri"])):
        alone = estimate_did(frame, **kw, method=method, inference=["ri"]).inference["ri"]
        mixed = estimate_did(frame, **kw, method=method, inference=others).inference["ri"]
        assert (alone.p_value, alone.se) == (mixed.p_value, mixed.se), method


class _Design:
    """What ``analysis.run_did`` reads of a site design: one frame per outcome."""

    site = "test"
    start_year = 2006

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames

    def outcome_frame(self, outcome: str) -> pd.DataFrame:
        return self.frames[outcome]

    def reference_event_time(self, outcome: str) -> int:
        return -1


def test_each_outcome_draws_from_its_own_stream(monkeypatch) -> None:
    from proeftuin.estimators.inference import assignments

    monkeypatch.setattr(assignments, "EXACT_BUDGET", 0)  # sample, as beyond the budget
    frame = (
        castle()
        .query("effyear == 0 or sid in [1, 4, 10]")  # three treated states: quick to draw
        .rename(columns={"sid": "municipality", "l_homicide": "value", "effyear": "first_treated"})
        .assign(weight=1.0, placebo_area=0)
    )
    design = _Design({"a": frame, "b": frame})
    kw = {"inference": ("ri",), "draws": 49, "seed": 11}
    both = {r.outcome: r.result for r in analysis.run_did(design, ["a", "b"], **kw)}
    only_b = analysis.run_did(design, ["b"], **kw)[0].result
    # the same data under two outcome names: different placebo draws ...
    assert both["a"].inference["ri"].se != both["b"].inference["ri"].se
    # ... and an outcome's result does not depend on the outcomes around it
    assert both["b"].to_dict() == only_b.to_dict()


# --- 2. wild bootstrap flagged with too few treated clusters --------------------------------


def test_wild_flagged_and_kept_out_of_the_headline_with_one_treated_cluster() -> None:
    res = estimate_did(organ(), **ORGAN, inference=["crv1", "wild", "ri"], draws=199, seed=1)
    for name in ("crv1", "wild_restricted", "wild_unrestricted"):
        assert res.inference[name].note.startswith("unreliable with 1 treated cluster"), name
        assert "clusters" not in res.inference[name].note.split(";")[0]
    assert res.headline_method == "ri"
    assert (res.ci_low, res.ci_high) == (res.inference["ri"].ci_low, res.inference["ri"].ci_high)
    # only flagged methods: CRV1 stays the (flagged) fallback, a flagged wild never heads
    assert estimate_did(organ(), **ORGAN, inference=["wild", "crv1"]).headline_method == "crv1"
    wild_only = estimate_did(organ(), **ORGAN, inference=["wild_unrestricted"], draws=199)
    assert wild_only.headline_method is None and wild_only.ci_low is None
    # many treated clusters (castle: 21 states): no flag
    many = estimate_did(castle(), **CASTLE, inference=["wild"], draws=99)
    assert not any(inf.is_unreliable(r.note) for r in many.inference.values())
    assert many.headline_method == "wild_restricted"


def test_cs_multiplier_bootstrap_flagged_with_one_treated_cluster() -> None:
    res = estimate_did(
        organ(), **ORGAN, method="cs", inference=["wild_unrestricted"], draws=99, seed=1
    )
    assert res.inference["wild_unrestricted"].note.startswith("unreliable with 1 treated cluster")


def test_synthesis_headline_skips_flagged_wild_rows() -> None:
    assert headline.UNRELIABLE == inf.UNRELIABLE
    assert inf.unreliable_note(1) == "unreliable with 1 treated cluster"
    row = {"site": "r", "outcome": "cost", "estimate": -0.02}
    table = pd.DataFrame(
        [
            {**row, "method": "crv1", "ci_low": -0.04, "ci_high": -0.01, "p_value": 0.001,
             "note": "unreliable with 1 treated cluster"},
            {**row, "method": "wild_restricted", "ci_low": -0.7, "ci_high": np.inf,
             "p_value": 0.47, "note": "unreliable with 1 treated cluster; Webb weights"},
            {**row, "method": "wild_unrestricted", "ci_low": -0.03, "ci_high": -0.01,
             "p_value": 0.0001, "note": "unreliable with 1 treated cluster; Webb weights"},
        ]
    )  # fmt: skip
    assert synthesis.headline(table)["method"].tolist() == ["crv1"]
    tests = synthesis.headline(table, synthesis.EVIDENCE_PREFERENCE, needs=("estimate", "p_value"))
    assert tests["method"].tolist() == ["crv1"]
    trusted = table.assign(note=table["note"].str.replace("unreliable with 1 treated cluster", ""))
    assert synthesis.headline(trusted)["method"].tolist() == ["wild_unrestricted"]


# --- 3. numeric options: one line, exit 2 ----------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--draws", "0", "--inference", "ri"], ["--draws must be between 19 and"]),
        (["--draws", "-5", "--inference", "wild"], ["--draws must be between 19 and"]),
        (["--draws", "1", "--inference", "wild"], ["--draws must be between 19 and"]),
        (["--draws", "100000", "--inference", "ri"], ["--draws must be between 19 and"]),
        (["--seed", "-1", "--inference", "ri"], ["--seed must be a non-negative"]),
    ],
)
def test_did_numeric_options_validated(extra: list[str], fragments: list[str]) -> None:
    path = FIXTURES / "castle.csv"
    res = cli(["did", "--data", str(path), *CASTLE_CLI, "--first-treated", "effyear", *extra])
    one_line_error(res, *fragments)


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["--maxlags", "-1"], ["--maxlags must be 0 or more"]),
        (["--maxlags", "40"], ["--maxlags 40 is not below", "(31)"]),
        (["--maxlags", "31"], ["--maxlags 31 is not below"]),
        (["--period", "1", "--harmonics", "1"], ["--period must be at least 2"]),
        (["--harmonics", "-1"], ["--harmonics must be 0 or more"]),
        (["--period", "4", "--harmonics", "2"], ["--harmonics must be below --period / 2"]),
        (["--family", "poisson", "--maxlags", "2"], ["--maxlags sets Newey-West lags"]),
        (["--family", "poisson", "--ar-errors"], ["--ar-errors is available for the gaussian"]),
    ],
)
def test_its_numeric_options_validated(tmp_path: Path, extra: list[str], fragments) -> None:
    path = tmp_path / "series.csv"
    series().assign(y=lambda f: f["y"].abs()).to_csv(path, index=False)
    res = cli(
        ["its", "--data", str(path), "--time", "t", "--outcome", "y", "--start", "20", *extra]
    )
    one_line_error(res, *fragments)


def test_its_maxlags_within_the_series_is_used() -> None:
    res = estimate_its(series(), time="t", outcome="y", start=20, maxlags=30)
    assert res.diagnostics["newey_west_lags"] == 30
    with pytest.raises(DesignError, match="not below the number of points"):
        estimate_its(series(), time="t", outcome="y", start=20, maxlags=31)


# --- 4. missing values reported; gaps in an ITS series refused ------------------------------


def test_did_reports_dropped_rows_on_stderr(tmp_path: Path) -> None:
    frame = castle()
    frame.loc[[3, 17, 40], "l_homicide"] = np.nan
    path = tmp_path / "castle.csv"
    frame.to_csv(path, index=False, na_rep="n/a")
    res = cli(["did", "--data", str(path), *CASTLE_CLI, "--first-treated", "effyear",
               "--inference", "crv1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert said(res.stderr) == ["warning: dropped 3 rows with a missing value (l_homicide: 3)"]
    out = json.loads(res.stdout)
    assert out["diagnostics"]["dropped_missing_rows"] == 3


def test_its_counts_dropped_rows_and_refuses_gaps(tmp_path: Path) -> None:
    frame = series()
    frame.loc[frame["t"] == 31, "y"] = np.nan  # at the end: no gap, counted
    res = estimate_its(frame, time="t", outcome="y", start=20)
    assert res.diagnostics["dropped_missing_rows"] == 1
    assert res.diagnostics["warnings"] == ["dropped 1 rows with a missing value"]
    assert res.diagnostics["n_pre"] + res.diagnostics["n_post"] == 30
    frame.loc[frame["t"] == 10, "y"] = np.nan  # inside: a gap the Newey-West lags would skip
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False, na_rep="NA")
    res = cli(["its", "--data", str(path), "--time", "t", "--outcome", "y", "--start", "20"])
    one_line_error(res, "gap in the series: nothing between 9 and 11", "missing value")
    absent = series().query("t != 12")  # a period simply absent from the file
    with pytest.raises(DesignError, match="nothing between 11 and 13 on 't'; ITS needs"):
        estimate_its(absent, time="t", outcome="y", start=20)


# --- 5. messages name the options a user can type -------------------------------------------


def test_its_level_only_message_names_the_cli_option(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    series().iloc[:20].to_csv(path, index=False)
    res = cli(["its", "--data", str(path), "--time", "t", "--outcome", "y", "--start", "20"])
    one_line_error(res, "fit the level change only (--impact level)")
    assert "slope=False" not in res.stderr


def test_no_never_treated_imputation_and_twfe(tmp_path: Path) -> None:
    path = tmp_path / "treated_only.csv"
    castle().query("effyear > 0").to_csv(path, index=False)
    base = ["did", "--data", str(path), *CASTLE_CLI, "--first-treated", "effyear",
            "--inference", "crv1"]  # fmt: skip
    imputation = cli([*base, "--method", "imputation"])
    one_line_error(imputation, "needs untreated observations in every period; none in 2010")
    assert "--control-group" not in imputation.stderr
    twfe = cli([*base, "--method", "twfe"])
    assert twfe.exit_code == 0, twfe.output
    warning = [ln for ln in said(twfe.stderr) if "never-treated" in ln]
    assert len(warning) == 1 and "already-treated" in warning[0]
    cs = cli([*base, "--method", "cs"])
    one_line_error(cs, "no never-treated units: use --control-group notyet with --method cs")


def test_crv1_note_pluralises_treated_clusters() -> None:
    one = estimate_did(organ(), **ORGAN).inference["crv1"].note
    assert one == "unreliable with 1 treated cluster"
    frame = castle()
    two = frame.loc[frame["effyear"] > 0, "sid"].unique()[:2]
    frame = frame[(frame["effyear"] == 0) | frame["sid"].isin(two)]
    assert estimate_did(frame, **CASTLE).inference["crv1"].note == (
        "unreliable with 2 treated clusters"
    )


# --- 6. the command line's default inference ------------------------------------------------


def test_cli_default_inference_is_the_plans_and_crv1_alone_warns() -> None:
    base = ["did", "--data", str(FIXTURES / "organ_donation.csv"), *ORGAN_CLI,
            "--first-treated", "first_treated", "--draws", "99"]  # fmt: skip
    res = cli(base)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out["inference"]) == ["crv1", "wild_restricted", "wild_unrestricted", "ri"]
    assert out["headline_method"] == "ri"
    crv1 = cli([*base, "--inference", "crv1"])
    assert crv1.exit_code == 0
    assert said(crv1.stderr) == [
        "warning: CRV1 alone over-rejects with 1 treated cluster: add --inference ri "
        "(with --placebo-group where units belong to larger areas)"
    ]
