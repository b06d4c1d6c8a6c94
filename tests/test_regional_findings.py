"""The overview's statement on sites sharing an area (synthesis.regional), from results
files only, with a verdict that follows the checks' intervals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from proeftuin.synthesis.regional import area_numbers, statement, verdict


def _write(root: Path) -> None:
    for site, main in (("a", 90.0), ("b", 140.0)):
        folder = root / site
        folder.mkdir(parents=True)
        did = {"site": site, "outcome": "cost_basket_std", "method": "ri", "estimate": main,
               "ci_low": main - 70, "ci_high": main + 70, "p_value": 0.01}  # fmt: skip
        pd.DataFrame([did]).to_csv(folder / "did_estimates.csv", index=False)
        pd.DataFrame([
            {"site": site, "check": "control_pool", "variant": "province",
             "outcome": "cost_basket_std", "estimate": main - 10, "ci_low": main - 60,
             "ci_high": main + 40},
            {"site": site, "check": "nearby_placebo", "variant": "placebo site Midden",
             "outcome": "cost_basket_std", "estimate": 12.0, "ci_low": -50, "ci_high": 70},
        ]).to_csv(folder / "robustness.csv", index=False)  # fmt: skip
        regional = []
        for other, e, t in (("a", 76.0, (-20.0, 30.0)), ("b", 134.0, (10.0, 100.0))):
            regional += [
                {"area": "CR39", "model": "shared_shift", "term": f"d_{other}", "site": other,
                 "estimate": e, "ci_low": e - 30, "ci_high": e + 30},
                {"area": "CR39", "model": "area_trend", "term": f"d_{other}", "site": other,
                 "estimate": sum(t) / 2, "ci_low": t[0], "ci_high": t[1]},
            ]  # fmt: skip
        regional.append({"area": "CR39", "model": "shared_shift", "term": "area_post",
                         "estimate": 17.0, "ci_low": 2, "ci_high": 33})  # fmt: skip
        pd.DataFrame(regional).to_csv(folder / "regional.csv", index=False)


def test_the_statement_quotes_the_files_and_the_verdict_follows_the_intervals(tmp_path: Path):
    _write(tmp_path)
    numbers = area_numbers(["a", "b"], tmp_path)
    assert set(numbers["site"]) == {"a", "b"}
    assert verdict(numbers, "a") == (
        "holds against controls in their own province only and with a shift shared by the "
        "whole area, but not with the whole area's own linear trend"
    )
    assert verdict(numbers, "b") == "holds under every regional check"
    text = statement(numbers, {"a": "Site A", "b": "Site B"}, {"CR39": "Zuid-Limburg"})
    assert text.startswith("In Zuid-Limburg, **Site A** and **Site B** saw")
    assert "Site A +90 EUR (95% interval +20 to +160)" in text
    assert "placebo sites: for Site A, Midden +12 EUR; for Site B, Midden +12 EUR." in text
    assert "the excess of Site B holds under every regional check" in text
    assert statement(numbers.iloc[0:0], {}, {}) == ""
