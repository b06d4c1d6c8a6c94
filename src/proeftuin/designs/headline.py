"""Which row of a results table leads: the preference among inference methods, defined once.

A site's estimates table holds one row per outcome and inference method. The robustness
checks, the synthesis and the scorecard all show one row per site and outcome: the most
robust method that gives what they need (an interval, or a p-value). Randomization
inference over placebo sites comes first, then the wild cluster bootstrap, then CRV1. A
wild bootstrap flagged unreliable with too few treated clusters never leads; CRV1, flagged
in the same way, stays the last resort.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Order for rows that must give an interval (pooling, robustness, forest plots).
INTERVAL_PREFERENCE = ("ri", "wild_unrestricted", "crv1")
#: Order for rows that must give a p-value (the scorecard's evidence grade).
EVIDENCE_PREFERENCE = ("ri", "wild_restricted", "wild_unrestricted", "crv1")
#: Each method's name in words, for figure titles and captions.
METHOD_NAMES = {
    "ri": "randomization inference over placebo sites",
    "wild": "wild cluster bootstrap",
    "wild_restricted": "wild cluster bootstrap (restricted)",
    "wild_unrestricted": "wild cluster bootstrap (unrestricted)",
    "crv1": "CRV1 (cluster-robust; unreliable with few treated municipalities)",
}
#: How ``estimators.inference`` starts a few-treated-clusters flag in a note (a test ties
#: the two; this module reads results tables and does not import the estimators).
UNRELIABLE = "unreliable with"


def sure(row: Mapping[str, Any]) -> str:
    """How sure a randomization p-value is, to print after it: ", exact" (every assignment
    enumerated) or " ± SE" (its Monte Carlo error), and "; A areas: ≥ 1/(A+1)" when it is
    finer than the A areas of its placebo sites support (see ``estimators.inference``)."""

    def num(key: str) -> float:
        value = pd.to_numeric(pd.Series([row.get(key)]), errors="coerce").iloc[0]
        return float(value) if np.isfinite(value) else math.nan

    kind, p, areas, floor = row.get("p_kind"), num("p_value"), num("n_areas"), num("p_resolution")
    out = {"exact": ", exact", "sampled": f" ± {num('p_mcse'):.3f}"}.get(str(kind), "")
    if p < floor:  # False when either is missing
        out += f"; {int(areas)} areas: ≥ 1/{int(areas) + 1}"
    return out


def finite(rows: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Rows whose ``columns`` are all finite (unbounded intervals are ±inf or missing)."""
    values = rows[list(columns)].apply(pd.to_numeric, errors="coerce")
    return rows[np.isfinite(values.to_numpy(float)).all(axis=1)]


def trusted(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows fit to lead: a wild bootstrap flagged unreliable with too few treated clusters
    is left out (it over- or under-rejects badly there)."""
    if "note" not in rows:
        return rows
    flagged = rows["note"].astype("string").str.contains(UNRELIABLE, regex=False).fillna(False)
    wild = rows["method"].astype("string").str.startswith("wild").fillna(False)
    return rows[~(flagged & wild).to_numpy(bool)]


def headline(
    table: pd.DataFrame,
    preference: Sequence[str] = INTERVAL_PREFERENCE,
    *,
    needs: Sequence[str] = ("estimate", "ci_low", "ci_high"),
) -> pd.DataFrame:
    """One row per site and outcome: the first method of ``preference`` with ``needs`` set."""
    if table.empty:
        return table.copy()
    rank = {m: i for i, m in enumerate(preference)}
    rows = finite(trusted(table[table["method"].isin(rank)]), needs)
    rows = rows.assign(_rank=rows["method"].map(rank))
    best = rows.sort_values("_rank").drop_duplicates(["site", "outcome"]).drop(columns="_rank")
    return best.sort_values(["outcome", "site"]).reset_index(drop=True)
