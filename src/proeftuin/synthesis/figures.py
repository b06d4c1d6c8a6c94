"""The synthesis's figures, drawn from results tables: the forest plot, the designs side by
side, and the visual Triple Aim scorecard.

Sites are labelled by name (``names``: site id -> name, from the facts snapshot the synthesis
notebook reads); an outcome no site has an estimate for gets no panel, and a figure with
nothing to draw is ``None`` (:func:`proeftuin.designs.figures.save_figure` then saves nothing). The
scorecard carries its meaning in marker shapes as well as colours (Okabe–Ito): ▲ better and
▼ worse where the 95% interval excludes zero, ○ no clear change where it includes zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from proeftuin.designs.figures import (
    CONTROL_COLOUR,
    FIGURE_WIDTH,
    NEUTRAL_COLOUR,
    POOLED_COLOUR,
    SITE_COLOUR,
    STYLE,
    display_names,
    estimated,
    interval_widths,
    outcome_title,
    small_multiples,
    wrap,
)
from proeftuin.designs.headline import METHOD_NAMES, finite

#: Scorecard verdicts: marker, colour, fill and legend words. Shape and fill carry the
#: meaning without colour; the colours are Okabe–Ito blue, vermillion and grey.
VERDICTS = {
    "better": ("^", CONTROL_COLOUR, True, "▲ better: the 95% interval excludes zero"),
    "worse": ("v", SITE_COLOUR, True, "▼ worse: the 95% interval excludes zero"),
    "unclear": ("o", NEUTRAL_COLOUR, False, "○ no clear change: the interval includes zero"),
}
MDE_COLOUR = "#DDDDDD"
DESIGNS = {"did": "DiD", "sdid": "synthetic DiD", "sc": "synthetic control", "its": "ITS"}
DIMENSIONS = {"costs": "Costs", "quality": "Quality of care", "health": "Population health"}


def forest(
    table: pd.DataFrame,
    pooled: pd.DataFrame,
    outcomes: list[str],
    names: Mapping[str, str] | None = None,
) -> Figure | None:
    """Per-site estimates with 95% intervals and the pooled estimate, one panel per outcome
    some site has an estimate for (None when none has); sites by name, once per row of
    panels (every panel has a line per site, empty where the site has no estimate)."""
    rows = estimated(table)
    drawn = [o for o in outcomes if "outcome" in rows and (rows["outcome"] == o).any()]
    sites = list(dict.fromkeys(rows["site"])) if drawn else []
    y = {site: len(sites) - i for i, site in enumerate(sites)}
    ticks = [*y.values(), 0]
    # a site by its programme's name (its region in brackets is on the site pages)
    short = [n.split(" (")[0] for n in display_names(sites, names)]
    labels = [wrap(n, 1.1) for n in short] + ["pooled (random\neffects)"]

    def draw(ax: Axes, outcome: str) -> None:
        sub = rows[rows["outcome"] == outcome]
        ax.errorbar(sub["estimate"], [y[s] for s in sub["site"]], xerr=interval_widths(sub),
                    fmt="o", color=SITE_COLOUR, capsize=2, markersize=4)  # fmt: skip
        pool = pooled[pooled["outcome"] == outcome] if "outcome" in pooled else pooled
        if not pool.empty:
            ax.errorbar([pool.iloc[0]["estimate"]], [0], xerr=interval_widths(pool), fmt="D",
                        color=POOLED_COLOUR, capsize=2, markersize=4)  # fmt: skip
        ax.set_yticks(ticks, labels)
        ax.set_ylim(-0.6, len(sites) + 0.6)
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_xlabel("effect against comparison")

    height = 0.2 * (len(sites) + 1) + 0.9
    return small_multiples(drawn, draw, height=height, sharey=True)


def side_by_side(table: pd.DataFrame, names: Mapping[str, str] | None = None) -> Figure | None:
    """Every design's estimate with its 95% interval, one row of panels per site (headed by
    the site's name when there are several) and one column per outcome; the pooled design
    in black, the others (sensitivity) in colour. Only sites and outcomes with an estimate;
    a site lacking one outcome another has leaves that cell blank. Each row is a subfigure
    whose ``gid`` is the site, so it can be saved on its own
    (:func:`proeftuin.designs.figures.save_figure_rows`).
    None when nothing was estimated."""
    rows = estimated(table)
    sites = list(dict.fromkeys(rows["site"])) if len(rows) else []
    outcomes = list(dict.fromkeys(rows["outcome"])) if len(rows) else []
    if not sites:
        return None
    lines = rows.groupby(["site", "outcome"]).size().max()
    height = (0.24 * lines + 1.5) * len(sites)
    fig = plt.figure(layout="constrained", figsize=(FIGURE_WIDTH, height))
    for sub, site in zip(fig.subfigures(len(sites), 1, squeeze=False)[:, 0], sites, strict=True):
        sub.set_gid(site)
        if len(sites) > 1:
            sub.suptitle(display_names([site], names)[0], x=0.01, ha="left", fontweight="bold")
        panels = sub.subplots(1, len(outcomes), squeeze=False, sharey=True)[0]
        for ax, outcome in zip(panels, outcomes, strict=True):
            cell = rows[(rows["site"] == site) & (rows["outcome"] == outcome)]
            if cell.empty:
                ax.set_visible(False)
                continue
            ax.set_title(wrap(outcome_title(outcome), (FIGURE_WIDTH - 1.2) / len(outcomes)))
            _designs_panel(ax, cell, rows[rows["site"] == site])
    return fig


def _design_label(design: str, variant: object) -> str:
    named = DESIGNS.get(design, design)
    shown = variant.replace("_", " ") if isinstance(variant, str) else ""  # care office
    return f"{named} ({shown})" if shown else named


def _designs_panel(ax: Axes, rows: pd.DataFrame, site_rows: pd.DataFrame) -> None:
    """One site's designs for one outcome, each on the line the site's designs share in
    every panel of its row (named once, on the left)."""
    order = list(dict.fromkeys(map(_design_label, site_rows["design"], site_rows["variant"])))
    at = {label: len(order) - i for i, label in enumerate(order)}
    y = [at[_design_label(d, v)] for d, v in zip(rows["design"], rows["variant"], strict=True)]
    pooled = (rows["role"] == "pooled").to_numpy()
    for mask, colour, marker in ((~pooled, SITE_COLOUR, "o"), (pooled, POOLED_COLOUR, "D")):
        if mask.any():
            ax.errorbar(rows["estimate"][mask], [v for v, m in zip(y, mask, strict=True) if m],
                        xerr=interval_widths(rows[mask]), fmt=marker, color=colour,
                        capsize=2, markersize=4)  # fmt: skip
    ax.set_yticks(list(at.values()), [wrap(label, 1.2) for label in at])
    ax.set_ylim(0.4, len(order) + 0.6)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
    ax.grid(alpha=0.3)
    ax.set_xlabel("effect (black: pooled design)")


# ----------------------------------------------------------------------------- scorecard


def verdict(estimate: float, low: float, high: float, higher_is_better: bool) -> str:
    """``better`` or ``worse`` where the 95% interval excludes zero, else ``unclear``."""
    if not (low > 0 or high < 0):
        return "unclear"
    return "better" if (estimate > 0) == higher_is_better else "worse"


def interval_methods(card: pd.DataFrame) -> str:
    """The inference methods the scorecard's intervals come from, in words."""
    methods = [m for m in dict.fromkeys(estimated(card).get("method", [])) if isinstance(m, str)]
    return "; ".join(METHOD_NAMES.get(m, m) for m in methods) or "not recorded"


def scorecard(card: pd.DataFrame, names: Mapping[str, str] | None = None) -> Figure | None:
    """The Triple Aim scorecard as a grid: one column per headline outcome, one row per site
    (by name), each cell the estimate with its 95% interval against zero, the verdict as
    marker shape (▲ better, ▼ worse, ○ no clear change) and, as a grey band, ± the minimum
    detectable effect where known. Sites and outcomes without any estimate are left out
    (the table beside the figure says why); None when nothing was estimated."""
    from proeftuin.data.outcomes import get_outcome

    rows = finite(card, ("estimate", "ci_low", "ci_high")) if len(card) else card
    if rows.empty:
        return None
    sites = [s for s in dict.fromkeys(card["site"]) if (rows["site"] == s).any()]
    outcomes = [o for o in dict.fromkeys(card["outcome"]) if (rows["outcome"] == o).any()]
    fig, axes = plt.subplots(
        1, len(outcomes), squeeze=False, sharey=True, layout="constrained",
        figsize=(FIGURE_WIDTH, 0.45 * len(sites) + 2.4),
    )  # fmt: skip
    inches = (FIGURE_WIDTH - 1.2) / len(outcomes)  # a panel's width beside the site names
    y = {site: len(sites) - i for i, site in enumerate(sites)}
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        info = get_outcome(outcome)
        here = rows[rows["outcome"] == outcome].drop_duplicates("site").set_index("site")
        for site in sites:
            if site in here.index:
                _scorecard_cell(ax, here.loc[site], y[site], info.higher_is_better)
                continue
            ax.text(0.5, y[site], wrap(_why_not(card, site, outcome), inches), ha="center",
                    va="center", transform=ax.get_yaxis_transform(), style="italic",
                    color=NEUTRAL_COLOUR)  # fmt: skip
        ax.axvline(0, color=POOLED_COLOUR, linewidth=0.8)
        better = "higher" if info.higher_is_better else "lower"
        dimension = DIMENSIONS.get(info.dimension, info.dimension)
        ax.set_title(f"{dimension}\n{wrap(info.label, inches, STYLE['axes.titlesize'])}")
        ax.set_xlabel(wrap(f"effect, {info.unit} ({better} is better)", inches))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(list(y.values()), [wrap(n, 1.1) for n in display_names(sites, names)])
    axes[0][0].set_ylim(0.4, len(sites) + 0.6)
    fig.legend(handles=_scorecard_legend(), loc="outside lower center", ncols=2, frameon=False)
    title = f"Triple Aim scorecard: estimates with 95% intervals ({interval_methods(card)})"
    fig.suptitle(wrap(title, FIGURE_WIDTH, STYLE["figure.titlesize"]))
    return fig


def _scorecard_cell(ax: Axes, row: pd.Series, y: float, higher_is_better: bool) -> None:
    estimate, low, high = (float(row[k]) for k in ("estimate", "ci_low", "ci_high"))
    mde = pd.to_numeric(pd.Series([row.get("mde")]), errors="coerce").iloc[0]
    if np.isfinite(mde) and mde > 0:
        ax.barh(y, 2 * mde, left=-mde, height=0.5, color=MDE_COLOUR, linewidth=0)
    marker, colour, filled, _ = VERDICTS[verdict(estimate, low, high, higher_is_better)]
    ax.plot([low, high], [y, y], color=colour, linewidth=2, solid_capstyle="butt")
    ax.plot([estimate], [y], marker=marker, markersize=9, color=colour,
            markerfacecolor=colour if filled else "white", markeredgewidth=1.5)  # fmt: skip


def _why_not(card: pd.DataFrame, site: str, outcome: str) -> str:
    """The scorecard's word for a cell without an estimate ('not estimable', 'failed')."""
    row = card[(card["site"] == site) & (card["outcome"] == outcome)]
    words = row["direction"].dropna() if "direction" in row else pd.Series(dtype=object)
    return str(words.iloc[0]) if len(words) else "not estimated"


def _scorecard_legend() -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = [
        Line2D(
            [],
            [],
            marker=marker,
            color=colour,
            markerfacecolor=colour if filled else "white",
            linewidth=2,
            markersize=8,
            label=label,
        )  # fmt: skip
        for marker, colour, filled, label in VERDICTS.values()
    ]
    handles.append(Patch(color=MDE_COLOUR, label="± minimum detectable effect (where known)"))
    return handles
