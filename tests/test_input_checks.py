"""Inputs refused with one line naming what to do: infinite outcomes, header-only data
(``estimators.checks.require_numeric``), and a corrupt panel that is not up to date."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from proeftuin.cli import app
from proeftuin.core import settings
from proeftuin.estimators import DesignError, estimate_did
from proeftuin.estimators.checks import require_numeric

BASE = ["did", "--unit", "unit", "--time", "year", "--outcome", "y", "--first-treated", "g"]


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    units, years = np.arange(12), np.arange(2011, 2017)
    frame = pd.DataFrame([(u, t) for u in units for t in years], columns=["unit", "year"]).assign(
        g=lambda d: np.where(d["unit"] < 4, 2014, 0)
    )
    return frame.assign(y=rng.normal(size=len(frame)) + 0.5 * (frame["year"] >= frame["g"]))


def _estimate(tmp_path: Path, frame: pd.DataFrame, *extra: str):
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    return CliRunner().invoke(app, ["estimate", *BASE[:1], "--data", str(path), *BASE[1:], *extra])


@pytest.mark.parametrize("method", ["cs", "twfe"])
def test_an_infinite_outcome_is_refused_in_one_line(tmp_path: Path, method: str) -> None:
    frame = _panel()
    frame.loc[7, "y"] = np.inf
    result = _estimate(tmp_path, frame, "--method", method, "--inference", "crv1", "--json")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "outcome column 'y' has 1 infinite values (e.g. inf in row 7)" in lines[0]
    assert "remove or recode them" in lines[0]


def test_a_header_only_file_says_it_has_no_rows(tmp_path: Path) -> None:
    result = _estimate(tmp_path, _panel().iloc[:0], "--json")
    assert result.exit_code == 2
    assert "the data have no rows (a header only?)" in result.stderr
    with pytest.raises(DesignError, match="no rows"):
        estimate_did(_panel().iloc[:0], unit="unit", time="year", outcome="y", first_treated="g")


def test_require_numeric_passes_finite_and_missing_values() -> None:
    values = require_numeric(pd.DataFrame({"y": [1.0, np.nan, -2.5]}), "y", "outcome")
    assert values.isna().sum() == 1 and values.dropna().tolist() == [1.0, -2.5]
    with pytest.raises(DesignError, match="-inf in row 1"):
        require_numeric(pd.DataFrame({"y": ["1", "-inf"]}), "y", "outcome")


def test_a_truncated_panel_is_not_up_to_date(
    built_panel: tuple[Path, object],
    mirror_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from proeftuin.data import panel

    source, _ = built_panel
    root = tmp_path / "root"
    shutil.copytree(source / "data", root / "data", symlinks=True)
    monkeypatch.setenv(settings.ROOT_ENV, str(root))
    parquet = root / "data" / "processed" / "panel.parquet"
    assert panel.build_panel(mirror_dir, progress=False).rebuilt is False  # intact: skipped
    parquet.write_bytes(parquet.read_bytes()[:1000])  # truncated, as by a full disk
    rebuilt = panel.build_panel(mirror_dir, progress=False)
    assert rebuilt.rebuilt is True
    assert len(panel.load_panel()) == len(rebuilt.panel)


def test_a_long_estimate_says_it_is_still_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import proeftuin.estimators as estimators
    from proeftuin.cli import heartbeat

    monkeypatch.setattr(heartbeat, "FIRST_AFTER", 0.05)  # as if it had run for minutes
    fit = estimators.estimate_did

    def slow_fit(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)  # a long estimate, in miniature
        return fit(*args, **kwargs)

    monkeypatch.setattr(estimators, "estimate_did", slow_fit)
    result = _estimate(tmp_path, _panel(), "--method", "cs", "--inference", "crv1", "--json")
    assert result.exit_code == 0, result.stderr
    assert "estimate did: still working" in result.stderr and "Draw counts" in result.stderr
    assert json.loads(result.stdout)  # the JSON result is untouched


def test_data_up_to_date_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    build = SimpleNamespace(rebuilt=False, panel_path=Path("/p/data/processed/panel.parquet"))
    monkeypatch.setattr("proeftuin.data.panel.build_panel", lambda *a, **k: build)
    result = CliRunner().invoke(app, ["data"])
    assert result.exit_code == 0
    assert result.output.strip().splitlines() == [
        "panel up to date: /p/data/processed/panel.parquet (sources, code and files "
        "unchanged; --force rebuilds)"
    ]


def test_a_missing_mirror_folder_and_no_network_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    from proeftuin.sources import DataError
    from proeftuin.sources.fetch import acquire

    with pytest.raises(DataError, match=r"data mirror .*nope is not a folder: point PROEFTUIN"):
        acquire("vektis", next(iter(_vektis_files())), tmp_path / "nope")

    def offline(*args: object, **kwargs: object) -> None:
        raise requests.ConnectionError("no route to host")

    monkeypatch.setenv(settings.ROOT_ENV, str(tmp_path))
    monkeypatch.delenv(settings.MIRROR_ENV, raising=False)
    monkeypatch.setattr(requests, "get", offline)
    table = {("vektis", "x.csv"): _record()}
    with pytest.raises(DataError, match="without network, set PROEFTUIN_DATA_MIRROR"):
        acquire("vektis", "x.csv", table=table)


def _vektis_files() -> list[str]:
    from proeftuin.sources.fetch import checksum_table

    return [file for source, file in checksum_table() if source == "vektis"]


def _record() -> object:
    from proeftuin.sources.fetch import SourceFile

    return SourceFile("vektis", "x.csv", "0" * 64, "https://example.invalid/x.csv")
