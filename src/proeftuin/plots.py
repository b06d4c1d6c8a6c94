"""A site's figures, drawn for its notebooks: trends, event studies, ITS, synthetic control,
robustness checks; and the helpers the synthesis figures (:mod:`proeftuin.plots_synthesis`)
share with them.

One small multiple per *estimated* outcome, labelled with the outcome's label and unit from
the data dictionary: an outcome that was not estimated gets no panel (the notebook says
why in one line), and a figure with nothing to draw is ``None``, which
:func:`save_figure` does not save. Sites and municipalities are labelled by name, never by
id or GM code. Colours are the Okabe–Ito palette (safe for colour-blind readers and in grey
print); uncertainty is always drawn (95% bands or intervals), and the figure says which
inference they come from where it is not the one the tables lead with.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from proeftuin.design import SiteDesign

SITE_COLOUR = "#D55E00"  # vermillion
CONTROL_COLOUR = "#0072B2"  # blue
NEUTRAL_COLOUR = "#555555"
POOLED_COLOUR = "#000000"


DPI = 150  # every saved figure's resolution


def save_figure(fig: Figure | None, results_dir: str | Path, label: str) -> None:
    """Save a labelled figure beside the task's results as ``<label>.png``, close it and, in
    a notebook, show that file: the website's embed, the PDF and the previews then show one
    image, drawn once (an open figure would be drawn again by the notebook's inline backend).
    No figure (nothing to draw) saves and shows nothing: the report then embeds nothing."""
    if fig is None:
        return
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(results_dir) / f"{label}.png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    show_figure(results_dir, label)


def save_figure_rows(fig: Figure | None, results_dir: str | Path, label: str) -> list[str]:
    """Save ``fig`` as ``<label>.png`` and each of its subfigures that has a ``gid``, cut
    from the same image, as ``<label>-<gid>.png`` (its full height; its width up to its
    last visible panel). The figure is drawn once: drawing is what a figure costs (five
    one-row figures beside the whole took 1.6 s). Closes ``fig``; shows nothing
    (:func:`show_figure`). Returns the row figures' labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    if fig is None:
        return []
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    renderer = canvas.get_renderer()
    height, width = pixels.shape[:2]
    cuts = {}
    for sub in fig.subfigs:
        panels = [ax.get_tightbbox(renderer) for ax in sub.axes if ax.get_visible()]
        if sub.get_gid() and panels:
            right = min(width, round(max(b.x1 for b in panels) + 0.08 * DPI))
            box = sub.bbox  # display coordinates: pixels from the bottom
            cuts[sub.get_gid()] = pixels[round(height - box.y1) : round(height - box.y0), :right]
    plt.close(fig)
    Image.fromarray(pixels).save(folder / f"{label}.png", dpi=(DPI, DPI))
    for gid, cut in cuts.items():
        Image.fromarray(cut).save(folder / f"{label}-{gid}.png", dpi=(DPI, DPI))
    return [f"{label}-{gid}" for gid in cuts]


def show_figure(results_dir: str | Path, label: str) -> None:
    """In a notebook, show a saved figure (``<label>.png``); nothing where none was saved."""
    from IPython import get_ipython

    path = Path(results_dir) / f"{label}.png"
    if get_ipython() is not None and path.is_file():
        from IPython.display import Image, display

        display(Image(filename=str(path)))


def outcome_title(outcome: str) -> str:
    """'Label (unit)' from the data dictionary."""
    from proeftuin.outcomes import get_outcome

    info = get_outcome(outcome)
    return f"{info.label} ({info.unit})"


def small_multiples(
    items: Sequence[str],
    draw: Callable[[Axes, str], None],
    *,
    ncols: int = 2,
    panel_width: float = 5.2,
) -> Figure | None:
    """A grid of one panel per item (outcome); unused panels are hidden. None without items.
    A wider ``panel_width`` leaves room for long tick labels (site names)."""
    if not items:
        return None
    ncols = min(ncols, len(items))
    nrows = max(1, math.ceil(len(items) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_width * ncols, 3.4 * nrows), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    flat = axes.ravel()
    for ax, item in zip(flat, items, strict=False):
        draw(ax, item)
        ax.set_title(textwrap.fill(outcome_title(item), 56, break_on_hyphens=False), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in flat[len(items) :]:
        ax.set_visible(False)
    return fig


def _mark_start(ax: Axes, start: float, label: str = "start") -> None:
    ax.axvline(start, color=NEUTRAL_COLOUR, linestyle=":", linewidth=1)
    ax.annotate(label, (start, 1), xycoords=("data", "axes fraction"), fontsize=8,
                ha="left", va="top", color=NEUTRAL_COLOUR)  # fmt: skip


def trends(design: SiteDesign, outcomes: Sequence[str]) -> Figure | None:
    """Weighted yearly means: the site against its comparison group, per outcome with data."""

    def draw(ax: Axes, outcome: str) -> None:
        series = design.series(outcome)
        ax.plot(series["year"], series["site"], "o-", color=SITE_COLOUR, label=design.name)
        ax.plot(series["year"], series["control"], "s--", color=CONTROL_COLOUR,
                label=f"comparison ({len(design.controls)} municipalities)")  # fmt: skip
        _mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")

    fig = small_multiples([o for o in outcomes if design.years(o)], draw)
    if fig is not None:
        fig.axes[0].legend(fontsize=8, loc="best")
    return fig


#: What the event study's bands are, said on the figure: the estimators' pointwise CRV1
#: bands, which the site pages call unreliable with few treated municipalities.
EVENT_STUDY_BANDS = (
    "bands: pointwise 95% CRV1 (cluster-robust, t with G-1 df), too narrow with few treated "
    "municipalities; the estimates table's randomization inference leads"
)


def event_studies(design: SiteDesign, results: Sequence) -> Figure | None:  # OutcomeResult
    """Event-study coefficients with their pointwise CRV1 95% bands (relative to the
    reference year), one panel per outcome with an event study; None when none has one."""
    drawn = {r.outcome: r.result for r in results if _has_event_study(r.result)}

    def draw(ax: Axes, outcome: str) -> None:
        fit = drawn[outcome]
        fit.plot(ax, colour=SITE_COLOUR, neutral=NEUTRAL_COLOUR)
        if len(fit.event_study) > 12:  # e.g. 17 leads of the mortality series
            for line in ax.get_lines():
                line.set_markersize(3.5)
                line.set_linewidth(min(line.get_linewidth(), 1.2))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
        ax.set_xlabel(f"years since start ({design.start_year})")

    fig = small_multiples(list(drawn), draw)
    if fig is not None:
        fig.suptitle(f"{design.name}: event study; {EVENT_STUDY_BANDS}", fontsize=8, wrap=True)
    return fig


def _has_event_study(fit: object) -> bool:
    study = getattr(fit, "event_study", None)
    return study is not None and not study.empty


def its_panels(design: SiteDesign, results: Sequence) -> Figure | None:
    """Observed series, fitted segments and the counterfactual with its 95% band, one panel
    per estimated outcome (its_analysis.ItsOutcome items); None when none was estimated."""
    drawn = {r.outcome: r for r in results if r.controlled is not None}
    if not drawn:
        return None

    def draw(ax: Axes, outcome: str) -> None:
        cf = drawn[outcome].curve()
        post = cf[cf["time"] >= design.start_year]
        ax.fill_between(post["time"], post["cf_low"], post["cf_high"], color=NEUTRAL_COLOUR,
                        alpha=0.2, linewidth=0, label="counterfactual 95% band")  # fmt: skip
        ax.plot(cf["time"], cf["observed"], "o", color=SITE_COLOUR, markersize=4,
                label="observed")  # fmt: skip
        for part in (cf[cf["time"] < design.start_year], post):
            ax.plot(part["time"], part["fitted"], "-", color=SITE_COLOUR)
        ax.plot(post["time"], post["counterfactual"], "--", color=NEUTRAL_COLOUR,
                label="counterfactual")  # fmt: skip
        _mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")

    fig = small_multiples(list(drawn), draw)
    if fig is not None:
        fig.axes[0].legend(fontsize=8, loc="best")
    return fig


def its_placebos(results: Sequence) -> Figure | None:
    """The placebo sites' level and slope changes with the site's marked, one row per
    outcome with placebo inference; None when there is none."""
    from proeftuin.outcomes import get_outcome

    rows = [r for r in results if hasattr(r.controlled, "draws")]
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 2, figsize=(10.4, 3.2 * len(rows)), squeeze=False,
                             layout="constrained")  # fmt: skip
    for (ax_level, ax_slope), item in zip(axes, rows, strict=True):
        for ax, effect in ((ax_level, "level_change"), (ax_slope, "slope_change")):
            item.controlled.plot(effect, ax=ax)
            label = get_outcome(item.outcome).label
            ax.set_title(f"{label}: {ax.get_title()}", fontsize=8)
            ax.grid(alpha=0.3)
    return fig


def interval_widths(rows: pd.DataFrame) -> list[list[float]]:
    """Matplotlib's ``xerr`` from ``estimate``, ``ci_low`` and ``ci_high``."""
    low = (rows["estimate"] - rows["ci_low"]).clip(lower=0).fillna(0)
    high = (rows["ci_high"] - rows["estimate"]).clip(lower=0).fillna(0)
    return [low.tolist(), high.tolist()]


def estimated(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a finite estimate (an outcome without any gets no panel)."""
    if "estimate" not in table:
        return table.iloc[0:0]
    values = pd.to_numeric(table["estimate"], errors="coerce")
    return table[np.isfinite(values.to_numpy(float))]


CHECK_NAMES = {"control_pool": "comparison group", "leave_one_out": "without",
               "placebo_year": "placebo start"}  # fmt: skip


def robustness(design: SiteDesign, table: pd.DataFrame, checks: Sequence[str]) -> Figure | None:
    """Estimates with 95% intervals for each variant of the given checks, one panel per
    outcome with an estimate (None when there is none); municipalities by name.

    The plan's own comparison group (``design.control_pool``) is drawn in black for reference.
    """
    rows = estimated(table[table["check"].isin(checks)])
    names = municipality_names(design)

    def draw(ax: Axes, outcome: str) -> None:
        sub = rows[rows["outcome"] == outcome]
        labels = [
            f"{CHECK_NAMES.get(c, c)}: {names.get(v, v).replace('_', ' ')}"
            for c, v in zip(sub["check"], sub["variant"], strict=True)
        ]
        y = list(range(len(sub), 0, -1))
        ax.errorbar(sub["estimate"], y, xerr=interval_widths(sub), fmt="o", color=SITE_COLOUR,
                    capsize=3)  # fmt: skip
        pool = design.control_pool
        main = ((sub["check"] == "control_pool") & (sub["variant"] == pool)).to_numpy()
        if main.any():
            ax.errorbar(sub["estimate"][main], [v for v, m in zip(y, main, strict=True) if m],
                        xerr=interval_widths(sub[main]), fmt="D", color=POOLED_COLOUR,
                        capsize=3)  # fmt: skip
        ax.set_yticks(y, labels, fontsize=7)
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_xlabel("effect (difference-in-differences)")

    fig = small_multiples(list(dict.fromkeys(rows["outcome"])), draw)
    if fig is not None:
        fig.suptitle(design.name, fontsize=10)
    return fig


def municipality_names(design: SiteDesign) -> dict[str, str]:
    """GM code -> municipality name, from the design's panel."""
    if "name" not in design.panel:
        return {}
    named = design.panel.dropna(subset=["name"]).drop_duplicates("municipality")
    return dict(zip(named["municipality"], named["name"].astype(str), strict=True))


def display_names(items: Sequence[str], names: Mapping[str, str] | None) -> list[str]:
    """Each id's name where ``names`` has it (sites by name, not id)."""
    return [(names or {}).get(item, item) for item in items]


def validation(table: pd.DataFrame) -> Figure:
    """Each validated quantity's distance from its published value, as a share of the
    tolerance (half a unit of the published last digit): bars left of 1 pass."""
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(table) + 1.2), layout="constrained")
    share = (table["abs_diff"] / table["tolerance"]).to_numpy()
    labels = [f"{c}: {q}" for c, q in zip(table["case"], table["quantity"], strict=True)]
    colours = [CONTROL_COLOUR if ok else SITE_COLOUR for ok in table["passed"]]
    ax.barh(range(len(table))[::-1], share, color=colours)
    ax.set_yticks(range(len(table))[::-1], labels, fontsize=7)
    ax.axvline(1.0, color=NEUTRAL_COLOUR, linestyle="--", linewidth=1)
    ax.set_xlabel("|estimate - published| / tolerance (1 = rounding limit)")
    ax.set_xlim(0, max(1.2, float(np.nanmax(share)) * 1.1) if len(share) else 1.2)
    return fig


SYNTH_STYLE = {"sdid": ("--", CONTROL_COLOUR, "synthetic DiD (+ intercept)"),
               "sc": (":", "#009E73", "synthetic control")}  # fmt: skip


def synth_paths(design: SiteDesign, results: Sequence) -> Figure | None:  # OutcomeResult
    """The site against its synthetic counterparts, one panel per estimated outcome; SDID's
    time weights as bars. None when no outcome was estimated."""
    outcomes = list(dict.fromkeys(r.outcome for r in results if r.result is not None))

    def draw(ax: Axes, outcome: str) -> None:
        fits = [r for r in results if r.outcome == outcome and r.result is not None]
        path = fits[0].result.path
        ax.plot(path["time"], path["treated"], "o-", color=SITE_COLOUR, label=design.name)
        for item in fits:
            style, colour, label = SYNTH_STYLE[item.estimator]
            p = item.result.path
            ax.plot(p["time"], p["synthetic_shifted"], style, color=colour, label=label)
        sdid = next((i.result for i in fits if i.estimator == "sdid"), None)
        if sdid is not None:
            tw = sdid.time_weights[sdid.time_weights["weight"] > 0]
            low, high = ax.get_ylim()
            ax.bar(tw["time"], tw["weight"] * 0.2 * (high - low), bottom=low, width=0.6,
                   color=CONTROL_COLOUR, alpha=0.3, label="SDID time weights")  # fmt: skip
            ax.set_ylim(low, high)
        _mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")
        ax.legend(fontsize=7, loc="best")

    return small_multiples(outcomes, draw)


def synth_placebos(results: Sequence) -> Figure | None:  # OutcomeResult items
    """Placebo-site estimates (randomization inference) with the site's estimate marked, one
    panel per estimated outcome; None when no outcome was estimated."""
    outcomes = list(dict.fromkeys(r.outcome for r in results if r.result is not None))

    def draw(ax: Axes, outcome: str) -> None:
        fits = [r for r in results if r.outcome == outcome and r.result is not None]
        for item in fits:
            _, colour, label = SYNTH_STYLE[item.estimator]
            fit = item.result
            draws = fit.placebo_estimates[np.isfinite(fit.placebo_estimates)]
            p = fit.inference["ri"].p_value if "ri" in fit.inference else float("nan")
            ax.hist(draws, bins=30, histtype="step", color=colour, linewidth=1.2,
                    label=f"{label.split(' (')[0]} placebos (RI p = {p:.3f})")  # fmt: skip
            ax.axvline(fit.estimate, color=colour, linewidth=2)
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_xlabel("estimate (site: vertical line)")
        ax.legend(fontsize=7, loc="best")

    return small_multiples(outcomes, draw)
