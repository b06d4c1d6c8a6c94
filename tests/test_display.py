"""Notebook tables read by reviewers: labels, whole counts, unbounded intervals in words."""

import numpy as np
import pandas as pd

from proeftuin.data.outcomes import OUTCOMES
from proeftuin.designs.results import display_table


def test_display_table_reads_like_a_report_table() -> None:
    raw = pd.DataFrame({"outcome": ["cost_basket_std", "unknown_outcome"],
                        "n_units": [326.0, np.nan], "ci_low": [-np.inf, 1.23456],
                        "p_value": [0.0004, 0.5], "note": ["a note", None]})  # fmt: skip
    shown = display_table(raw)
    assert list(shown.columns) == ["outcome", "n units", "ci low", "p value", "note"]
    assert shown["outcome"].tolist() == [OUTCOMES["cost_basket_std"].label, "unknown_outcome"]
    assert shown["n units"].tolist() == [326, ""] and str(shown["n units"][0]) == "326"
    assert shown["ci low"].tolist() == ["unbounded", 1.235]
    assert shown["note"].tolist() == ["a note", ""]
    assert raw["n_units"][0] == 326.0  # the results table itself is untouched
