"""Where a site's cost effect sits: its difference-in-differences on the fixed basket split
into the basket's care categories and into age bands (the parts of
:mod:`proeftuin.data.components`), with the table, the additivity check, the figure and the
one sentence the site page prints.

Every part is estimated on the site's own design (the same treated and control
municipalities, years and insured-year weights) with the same estimator as the total. That
estimator is linear in the outcome for a fixed sample and weights, and the parts add up to
the basket in every municipality and year, so the parts' estimates add up to the total's
(:func:`additivity` measures the gap; the tests hold it to rounding). Intervals are each
part's own (the leading inference method, as in the robustness checks); they do not add.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from proeftuin.data.components import PARTS
from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.did import did_table, run_did
from proeftuin.designs.figures import (
    FIGURE_WIDTH,
    NEUTRAL_COLOUR,
    POOLED_COLOUR,
    SITE_COLOUR,
    wrap,
)
from proeftuin.designs.headline import headline

TOTAL = "cost_basket_std"
#: Randomization draws for the parts' intervals: fewer than the plan's (fourteen parts per
#: site), so a p-value's resolution is 1/200; the point estimates do not depend on it.
DRAWS = 199
DECOMPOSITION_COLUMNS = [
    "site",
    "kind",
    "part",
    "outcome",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "method",
    "share",
]
KIND_NAMES = {"category": "care category", "age_band": "age band"}


def part_name(outcome: str) -> str:
    """'cost_basket_part_hospital_std' -> 'hospital'; 'cost_basket_age_75plus_std' -> '75+'."""
    core = outcome.removesuffix("_std").removeprefix("cost_basket_")
    core = core.removeprefix("part_").removeprefix("age_")
    return core.replace("plus", "+").replace("_", "-" if core[0].isdigit() else " ")


def run_decomposition(
    design: SiteDesign,
    *,
    inference: Sequence[str],
    draws: int,
    seed: int,
    parts: dict[str, list[str]] = PARTS,
    total: str = TOTAL,
) -> pd.DataFrame:
    """One row for the total and one per part: the leading row of each fit (every part has
    its own random stream, keyed by its name), with the part's share of the total."""
    outcomes = [total, *(o for names in parts.values() for o in names)]
    fits = run_did(design, outcomes, inference=inference, draws=draws, seed=seed, event_study=False)
    table = did_table(design, fits)
    best = headline(table).set_index("outcome")
    kinds = {total: "total", **{o: k for k, names in parts.items() for o in names}}
    rows = []
    for outcome in outcomes:
        row = best.loc[outcome] if outcome in best.index else None
        est = _point_estimate(table, outcome) if row is None else float(row["estimate"])
        rows.append(
            {
                "site": design.site,
                "kind": kinds[outcome],
                "part": "basket" if outcome == total else part_name(outcome),
                "outcome": outcome,
                "estimate": est,
                **(
                    {k: row[k] for k in ("ci_low", "ci_high", "p_value", "method")}
                    if row is not None
                    else {"method": None}
                ),
            }
        )
    out = pd.DataFrame(rows).reindex(columns=DECOMPOSITION_COLUMNS)
    grand = out.loc[out["kind"] == "total", "estimate"].iloc[0]
    return out.assign(share=out["estimate"] / grand if grand else np.nan)


def _point_estimate(table: pd.DataFrame, outcome: str) -> float:
    """The point estimate (the same for every method) where no method gave an interval."""
    values = pd.to_numeric(table.loc[table["outcome"] == outcome, "estimate"], errors="coerce")
    return float(values.dropna().iloc[0]) if values.notna().any() else float("nan")


def additivity(table: pd.DataFrame) -> pd.DataFrame:
    """Per kind of part: the sum of the parts' estimates, the total's, and the gap."""
    total = float(table.loc[table["kind"] == "total", "estimate"].iloc[0])
    sums = table[table["kind"] != "total"].groupby("kind", sort=False)["estimate"].sum()
    return pd.DataFrame(
        {
            "site": table["site"].iloc[0],
            "kind": sums.index,
            "sum_of_parts": sums.to_numpy(),
            "total": total,
            "gap": sums.to_numpy() - total,
        }
    )


def where_sentence(table: pd.DataFrame, name: str) -> str:
    """One sentence: where the site's extra (or lower) basket cost sits, by category and age."""
    total = table[table["kind"] == "total"].iloc[0]
    sign = "extra" if total["estimate"] > 0 else "lower"
    parts = []
    for kind in ("category", "age_band"):
        rows = table[table["kind"] == kind]
        if rows.empty:
            continue
        top = rows.loc[(rows["estimate"] * np.sign(total["estimate"])).idxmax()]
        what = f"{top['part']} care" if kind == "category" else f"ages {top['part']}"
        parts.append(f"{what} ({top['estimate']:+.0f} EUR, {top['share']:.0%} of it)")
    return (
        f"Of {name}'s {total['estimate']:+.0f} EUR per insured-year ({sign} basket cost "
        f"against its controls), the largest part sits in {' and in '.join(parts)}."
    )


def decomposition_figure(table: pd.DataFrame, name: str) -> Figure:
    """Two panels (care category, age band): each part's estimate with its 95% interval; the
    total as a dashed line, zero as a grey one."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    kinds = [k for k in KIND_NAMES if (table["kind"] == k).any()]
    lines = max(int((table["kind"] == k).sum()) for k in kinds)
    fig, axes = plt.subplots(1, len(kinds), figsize=(FIGURE_WIDTH, 0.2 * lines + 1.3),
                             squeeze=False, layout="constrained")  # fmt: skip
    total = float(table.loc[table["kind"] == "total", "estimate"].iloc[0])
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = table[table["kind"] == kind]
        y = np.arange(len(rows))[::-1]
        est = rows["estimate"].to_numpy(float)
        lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
        ax.errorbar(
            est,
            y,
            xerr=[np.nan_to_num(est - lo), np.nan_to_num(hi - est)],
            fmt="o",
            color=SITE_COLOUR,
            capsize=3,
        )
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.axvline(
            total,
            color=POOLED_COLOUR,
            linestyle="--",
            linewidth=0.8,
            label=f"basket total {total:+.0f}",
        )
        ax.set_yticks(y, [wrap(str(p), 1.2) for p in rows["part"]])
        ax.set_title(f"by {KIND_NAMES[kind]}")
        ax.set_xlabel(wrap("effect on basket cost (EUR per insured-year)", 2.2))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.legend(loc="lower right")
    fig.suptitle(name)
    return fig


def statement_table(**texts: str) -> pd.DataFrame:
    """The sentences a site page prints, one row each (``statements.csv``)."""
    return pd.DataFrame({"key": list(texts), "text": list(texts.values())})
