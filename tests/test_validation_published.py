"""The validation table behind the report's methods page: every published quantity is
reproduced within half a unit of its last published digit."""

from __future__ import annotations

from pathlib import Path

from proeftuin.synthesis.validation import published_results, run_validation


def test_every_published_quantity_is_reproduced(mirror_dir: Path) -> None:
    table = run_validation(mirror_dir)
    assert len(table) == len(published_results()) >= 31
    assert table["estimate"].notna().all()
    failing = table.loc[~table["passed"], ["case", "quantity", "published", "estimate"]]
    assert failing.empty, failing.to_string()
    assert set(table["case"]) == {"mpdta", "sicily", "bcg", "prop99"}


def test_a_wrong_published_value_is_caught(mirror_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    wrong = published_results()
    wrong.loc[wrong["quantity"] == "simple ATT", "published"] = -0.0500
    monkeypatch.setattr("proeftuin.synthesis.validation.published_results", lambda: wrong)
    table = run_validation(mirror_dir).set_index("quantity")
    assert not table.loc["simple ATT", "passed"]
    assert table.drop(index="simple ATT")["passed"].all()
