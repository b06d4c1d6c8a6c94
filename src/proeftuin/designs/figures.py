"""The figure helpers every design shares (each design's own figures live in its module):
the report's figure style and sizes, saving and showing a labelled figure, the palette, one
small multiple per outcome, names for ids, and the site-against-comparison trends; the
synthesis figures (:mod:`proeftuin.synthesis.figures`) use them too.

Sizes are set once here, for print: the PDF scales every figure to its text width
(:data:`PRINT_WIDTH`; a taller one to :data:`PRINT_HEIGHT`), so a figure is drawn
:data:`FIGURE_WIDTH` wide with the font sizes of :data:`STYLE` (applied on import), which
keeps every text at least :data:`MIN_PRINT_PT` points on paper; :func:`print_font_size`
measures it (``tests/test_figure_print_size.py``). On screen the same image fills the
page's column (about 1.3 times its print size).

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
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from proeftuin.designs.comparison import SiteDesign

SITE_COLOUR = "#D55E00"  # vermillion
CONTROL_COLOUR = "#0072B2"  # blue
NEUTRAL_COLOUR = "#555555"
POOLED_COLOUR = "#000000"


DPI = 150  # every saved figure's resolution

#: The PDF's text width and the tallest figure it shows at that width, in inches (A4 with
#: 2 cm margins: 6.7 x 10.0 in; less room for a caption). A figure W x H inches is printed
#: at min(PRINT_WIDTH / W, PRINT_HEIGHT / H) of its size.
PRINT_WIDTH, PRINT_HEIGHT = 6.3, 9.0
#: The smallest text size on paper, in points.
MIN_PRINT_PT = 7.0
#: Every figure's width, in inches: printed at 6.3/6.5 = 97% of its size.
FIGURE_WIDTH = 6.5
#: Font sizes (points) for every figure, the smallest 7.5: 7.3 pt on paper.
STYLE = {
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 7.5,
    "figure.titlesize": 9.0,
}
plt.rcParams.update(STYLE)
#: A panel's height in a grid of small multiples, in inches, and the most columns.
PANEL_HEIGHT, MAX_COLUMNS = 2.2, 3


def print_scale(fig: Figure) -> float:
    """The factor the PDF scales ``fig`` by: to its text width, or less for a tall figure."""
    width, height = fig.get_size_inches()
    return min(PRINT_WIDTH / width, PRINT_HEIGHT / height)


def print_font_size(fig: Figure) -> float:
    """The smallest size, in points on paper, of any visible text in ``fig`` (titles, tick
    labels, legends, annotations), once the PDF has scaled it (:func:`print_scale`)."""
    fig.canvas.draw()  # makes the tick labels
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and _shown(t)
    ]
    return min(sizes, default=float("inf")) * print_scale(fig)


def _shown(text: Text) -> bool:
    """Whether a text is drawn: not in a hidden axes (matplotlib keeps their labels)."""
    axes = text.axes
    return axes is None or axes.get_visible()


def wrap(text: str, inches: float, points: float | None = None) -> str:
    """``text`` broken into lines that fit ``inches`` at ``points`` (the base font size when
    not given); a character is about 0.6 em wide on average."""
    size = points or STYLE["font.size"]
    width = max(12, int(inches * 72 / (0.6 * size)))
    return textwrap.fill(text, width, break_on_hyphens=False, break_long_words=False)


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


def columns_for(count: int, *, most: int = MAX_COLUMNS, height: float = PANEL_HEIGHT) -> int:
    """The fewest columns (at most ``most``, two at least where there are two items) whose
    rows of ``height`` fit the printed height: a grid of many outcomes gets more columns
    rather than shrinking in print."""
    for ncols in range(min(2, count), most + 1):
        if math.ceil(count / ncols) * height <= PRINT_HEIGHT - 0.4:
            return ncols
    return min(most, count)


def small_multiples(
    items: Sequence[str],
    draw: Callable[[Axes, str], None],
    *,
    ncols: int | None = None,
    height: float = PANEL_HEIGHT,
    sharey: bool = False,
) -> Figure | None:
    """A grid of one panel per item (outcome), :data:`FIGURE_WIDTH` wide: as many columns
    as the printed height needs (:func:`columns_for`), each panel ``height`` tall, titled
    with its outcome wrapped to the panel's width; unused panels are hidden. None without
    items. ``sharey`` shares the y axis along a row (tick labels on the first column)."""
    if not items:
        return None
    ncols = min(ncols or columns_for(len(items), height=height), len(items))
    nrows = max(1, math.ceil(len(items) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(FIGURE_WIDTH, height * nrows + 0.3), squeeze=False,
        layout="constrained", sharey="row" if sharey else False,
    )  # fmt: skip
    flat = axes.ravel()
    for ax, item in zip(flat, items, strict=False):
        draw(ax, item)
        title = wrap(outcome_title(item), (FIGURE_WIDTH - 0.6) / ncols, STYLE["axes.titlesize"])
        ax.set_title(title)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=7 - ncols, integer=_years(ax)))
        ax.grid(alpha=0.3)
    for ax in flat[len(items) :]:
        ax.set_visible(False)
    return fig


def _years(ax: Axes) -> bool:
    """Whether the panel's x axis is years or event times (whole numbers)."""
    return "year" in ax.get_xlabel()


def mark_start(ax: Axes, start: float, label: str = "start") -> None:
    ax.axvline(start, color=NEUTRAL_COLOUR, linestyle=":", linewidth=1)
    ax.annotate(label, (start, 1), xycoords=("data", "axes fraction"), ha="left", va="top",
                color=NEUTRAL_COLOUR)  # fmt: skip


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
    return legend_below(fig)


def legend_below(fig: Figure | None) -> Figure | None:
    """The first panel's legend once, below the grid (not over a small panel's lines)."""
    if fig is not None and fig.axes:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(handles)),
                       frameon=False)  # fmt: skip
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
