"""The figure helpers every design shares (each design's own figures live in its module):
saving and showing a labelled figure, the palette, one small multiple per outcome, names for
ids, and the site-against-comparison trends; the synthesis figures
(:mod:`proeftuin.synthesis.figures`) use them too.

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

from proeftuin.designs.comparison import SiteDesign

SITE_COLOUR = "#D55E00"  # vermillion
CONTROL_COLOUR = "#0072B2"  # blue
NEUTRAL_COLOUR = "#555555"
POOLED_COLOUR = "#000000"


DPI = 150  # every saved figure's resolution


def save_figure(fig: Figure | None, results_dir: str | Path, label: str, draw: bool = True) -> None:
    """Save a labelled figure beside the task's results as ``<label>.png``, close it and, in
    a notebook, show that file: the website's embed, the PDF and the previews then show one
    image, drawn once (an open figure would be drawn again by the notebook's inline backend).
    No figure (nothing to draw) saves and shows nothing: the report then embeds nothing.
    ``draw=False`` closes the figure unsaved (drawing is what a figure costs; a placebo
    study's synthesis needs none)."""
    if fig is not None and not draw:
        plt.close(fig)
    if fig is None or not draw:
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
    from proeftuin.data.outcomes import get_outcome

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


def mark_start(ax: Axes, start: float, label: str = "start") -> None:
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
        mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")

    fig = small_multiples([o for o in outcomes if design.years(o)], draw)
    if fig is not None:
        fig.axes[0].legend(fontsize=8, loc="best")
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


def municipality_names(design: SiteDesign) -> dict[str, str]:
    """GM code -> municipality name, from the design's panel."""
    if "name" not in design.panel:
        return {}
    named = design.panel.dropna(subset=["name"]).drop_duplicates("municipality")
    return dict(zip(named["municipality"], named["name"].astype(str), strict=True))


def display_names(items: Sequence[str], names: Mapping[str, str] | None) -> list[str]:
    """Each id's name where ``names`` has it (sites by name, not id)."""
    return [(names or {}).get(item, item) for item in items]
