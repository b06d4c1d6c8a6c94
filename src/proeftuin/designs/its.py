"""A site's interrupted time series per outcome: the fits, the placebo inference, the tables,
the results object (:class:`ItsResults`) and its figures.

For a rate with a count model (the mortality outcomes: deaths with log person-years as
offset, and the standardised mortality ratios: observed deaths with log expected deaths as
offset, :data:`proeftuin.data.outcomes.COUNT_MODELS`) the site's municipalities are summed
into one series and fitted three ways: the quasi-Poisson segmented regression of the site
alone (level and slope change at the start), the controlled version against the summed
comparison group
(time-clustered HAC errors), and that controlled fit with placebo-in-space inference:
placebo sites of the site's size drawn within one COROP area, and drawn from all controls
(:func:`estimators.estimate_its_placebo`), plus placebo-in-time in the pre-period.

The report leads with placebo sites within COROP areas (:data:`LEAD`): in the Monte Carlo
on the real mortality panel (``benchmarks/monte_carlo_its.py``; 400 planted null sites of
2-7 municipalities of one COROP area) it rejected a true null 3.7-5.2% of the time at 5%
for all-cause and cardiovascular level and slope changes, and found a planted -5% level
change more often than draws from all controls (which rejected 3.0-6.8% of true nulls);
Newey-West, the single-series GLM and the controlled fit's own errors rejected 19-91%
(``benchmarks/monte_carlo.md``). On the standardised panel (observed deaths with log
expected deaths as offset, 1999-2019; 200 planted null sites, 499 draws) it rejected 7.0%
(level, Monte Carlo SE 1.8) and 5.0% (slope) of true nulls for all-cause mortality, 5.5%
and 3.5% for cardiovascular mortality.

An outcome without a count model gets the Gaussian controlled ITS of the yearly means.
Any outcome with fewer than :data:`MIN_PRE_YEARS` pre-period years is refused, with one
line saying why (the annual Vektis series give two or three).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from proeftuin.core.fileio import atomic_write_json, atomic_write_text
from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.figures import (
    FIGURE_WIDTH,
    NEUTRAL_COLOUR,
    PANEL_HEIGHT,
    SITE_COLOUR,
    legend_below,
    mark_start,
    small_multiples,
    wrap,
)
from proeftuin.designs.results import SiteResults

#: Fewest annual pre-period points for a segmented regression that answers (Penfold &
#: Zhang 2013, Acad Pediatr 13:S38-44, recommend at least 8 points per segment).
MIN_PRE_YEARS = 8
#: The inference method the report leads with (see the module docstring).
LEAD = "placebo_area"
METHODS = {
    "glm": "site alone, quasi-Poisson (model-based errors)",
    "controlled": "site against its comparison group, time-clustered HAC errors",
    "placebo_area": "controlled fit, placebo sites within one COROP area",
    "placebo_all": "controlled fit, placebo sites from all controls",
}
ITS_COLUMNS = [
    "site", "design", "outcome", "effect", "method", "estimate", "rate_ratio", "se",
    "ci_low", "ci_high", "p_value", "p_kind", "p_mcse", "p_mc_low", "p_mc_high", "n_areas",
    "p_resolution", "n_pre", "n_post", "n_placebos", "lead", "note",
]  # fmt: skip


@dataclass
class ItsOutcome:
    """One outcome's ITS fits (``controlled`` is an ItsPlaceboResult for a count model,
    an ItsResult otherwise), or the reason there are none."""

    outcome: str
    controlled: Any | None = None
    single: Any | None = None  # estimators.ItsResult, the site alone
    placebo_all: Any | None = None  # estimators.its_placebo.PlaceboDraws
    reason: str | None = None

    @property
    def fit(self) -> Any | None:
        """The controlled ItsResult (what the figure draws)."""
        return getattr(self.controlled, "site", self.controlled)

    def curve(self) -> pd.DataFrame:
        """Observed, fitted and counterfactual series (with band) on the outcome's scale:
        a count model's counts over its exposure (per 1,000 person-years; an SMR as is)."""
        from proeftuin.data.outcomes import RATE_SCALE

        cf = self.fit.counterfactual.copy()
        series = getattr(getattr(self.controlled, "draws", None), "series", None)
        if series is not None:
            exposure = series.set_index("time")["exposure"].reindex(cf["time"]).to_numpy()
            per = exposure / RATE_SCALE.get(self.outcome, 1000.0)
            cols = ["observed", "fitted", "counterfactual", "cf_low", "cf_high"]
            cf[cols] = cf[cols].div(per, axis=0)
        return cf

    def to_dict(self) -> dict[str, Any]:
        if self.controlled is None:
            return {"reason": self.reason}
        return {
            "controlled": self.controlled.to_dict(),
            "single": None if self.single is None else self.single.to_dict(),
        }


def run_its(
    design: SiteDesign, outcomes: Sequence[str], *, draws: int, seed: int
) -> list[ItsOutcome]:
    """Per outcome: the fits with placebo inference, or the reason the design refuses it."""
    from proeftuin.data.outcomes import COUNT_MODELS

    out = []
    for outcome in outcomes:
        years = [y for y in design.years(outcome, treated_only=True) if y < design.start_year]
        if len(years) < MIN_PRE_YEARS:
            span = f"{years[0]}-{years[-1]}" if years else "none"
            out.append(
                ItsOutcome(
                    outcome,
                    reason=f"{len(years)} pre-period years ({span}) before {design.start_year};"
                    f" a trend needs at least {MIN_PRE_YEARS}",
                )
            )
            continue
        fit = _count_model if outcome in COUNT_MODELS else _gaussian
        out.append(fit(design, outcome, draws=draws, seed=seed))
    return out


def _count_model(design: SiteDesign, outcome: str, *, draws: int, seed: int) -> ItsOutcome:
    from proeftuin.data.outcomes import COUNT_MODELS
    from proeftuin.estimators import DesignError, estimate_its, estimate_its_placebo
    from proeftuin.estimators.inference.streams import keyed_seed
    from proeftuin.estimators.its.placebo import placebo_space

    count, exposure = COUNT_MODELS[outcome]
    frame = design.count_frame(outcome, count, exposure)
    kw = {
        "unit": "municipality", "time": "year", "outcome": count, "exposure": exposure,
        "treated": list(design.treated), "start": design.start_year, "draws": draws,
        "family": "quasipoisson",
    }  # fmt: skip
    own = keyed_seed(seed, outcome)  # one stream per outcome, and per placebo scheme
    try:
        placebo = estimate_its_placebo(
            frame, area="placebo_area", rng=keyed_seed(own, "placebo_area"), **kw
        )
        everywhere = placebo_space(frame, rng=keyed_seed(own, "placebo_all"), **kw)
        single = estimate_its(
            placebo.draws.series, time="time", outcome="y", exposure="exposure",
            start=design.start_year, family="quasipoisson",
        )  # fmt: skip
    except DesignError as exc:
        return ItsOutcome(outcome, reason=str(exc))
    return ItsOutcome(outcome, placebo, single, everywhere)


def _gaussian(design: SiteDesign, outcome: str, **_: Any) -> ItsOutcome:
    from proeftuin.estimators import DesignError, estimate_its

    series = design.series(outcome).dropna()
    try:
        fit = estimate_its(
            series, time="year", outcome="site", start=design.start_year, control="control"
        )
    except DesignError as exc:
        return ItsOutcome(outcome, reason=str(exc))
    return ItsOutcome(outcome, fit)


def its_table(design: SiteDesign, results: list[ItsOutcome]) -> pd.DataFrame:
    """One row per outcome, effect and inference method (one per refused outcome); ``lead``
    marks the row the report shows."""
    rows: list[dict[str, Any]] = []
    for item in results:
        base = {"site": design.site, "design": "its", "outcome": item.outcome}
        if item.controlled is None:
            rows.append({**base, "note": item.reason, "lead": False})
            continue
        fit = item.fit
        n = {"n_pre": fit.diagnostics.get("n_pre"), "n_post": fit.diagnostics.get("n_post")}
        placebo = item.controlled if item.controlled is not fit else None
        for effect in ("level_change", "slope_change"):
            fits = [("controlled", getattr(fit, effect))]
            if item.single is not None:
                fits.insert(0, ("glm", getattr(item.single, effect)))
            for method, eff in fits:
                rows.append(
                    {**base, **n, "effect": effect, "method": method, "estimate": eff.estimate,
                     "rate_ratio": eff.ratio, "se": eff.se, "ci_low": eff.ci_low,
                     "ci_high": eff.ci_high, "p_value": eff.p_value,
                     "lead": placebo is None and method == "controlled"}
                )  # fmt: skip
            if placebo is not None:
                rows += _placebo_rows(base, n, effect, placebo, item.placebo_all)
    return pd.DataFrame(rows).reindex(columns=ITS_COLUMNS)


def _placebo_rows(base, n, effect, placebo, everywhere) -> list[dict[str, Any]]:
    from proeftuin.estimators.inference.methods import mark_precision
    from proeftuin.estimators.results import InferenceResult

    est = getattr(placebo.site, effect).estimate
    k_all = int(everywhere.placebo[effect].notna().sum())
    p_all = InferenceResult("placebo_all", everywhere.p_value(effect, est))
    precision_all = mark_precision(p_all, everywhere.exact, k_all).precision()
    area = placebo.precision(effect)
    area.pop("resolution_note")
    out = []
    for method, p, (lo, hi), k, note, precision in (
        ("placebo_area", placebo.p_value(effect), placebo.interval(effect),
         placebo.n_placebos(effect), placebo.note(effect), area),
        ("placebo_all", p_all.p_value, everywhere.interval(effect, placebo.alpha, est),
         k_all, everywhere.scheme, precision_all),
    ):  # fmt: skip
        out.append(
            {**base, **n, "effect": effect, "method": method, "estimate": est,
             "rate_ratio": math.exp(est), "ci_low": lo, "ci_high": hi, "p_value": p,
             **precision, "n_placebos": k, "lead": method == LEAD, "note": note}
        )  # fmt: skip
    return out


def refused(results: list[ItsOutcome]) -> pd.DataFrame:
    """Not estimated: outcome and reason, one line each."""
    from proeftuin.data.outcomes import get_outcome

    rows = [(get_outcome(r.outcome).label, r.reason) for r in results if r.controlled is None]
    return pd.DataFrame(rows, columns=["not estimated", "reason"]).set_index("not estimated")


def in_time(results: list[ItsOutcome]) -> pd.DataFrame:
    """Placebo-in-time: the site's controlled fit at fake starts in its pre-period."""
    frames = [
        r.controlled.in_time.assign(outcome=r.outcome)
        for r in results
        if getattr(r.controlled, "in_time", None) is not None
    ]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    return table[["outcome", *[c for c in table.columns if c != "outcome"]]]


def estimated(results: list[ItsOutcome]) -> list[ItsOutcome]:
    """The outcomes with a fit (figures draw only these)."""
    return [r for r in results if r.controlled is not None]


def write_results(
    results_dir: str | Path, table: pd.DataFrame, results: list[ItsOutcome]
) -> list[Path]:
    """``its_estimates.csv``, ``its_in_time.csv`` and ``its.json`` (full results), atomically."""
    folder = Path(results_dir)
    return [
        atomic_write_text(folder / "its_estimates.csv", table.to_csv(index=False)),
        atomic_write_text(folder / "its_in_time.csv", in_time(results).to_csv(index=False)),
        atomic_write_json(folder / "its.json", {r.outcome: r.to_dict() for r in results}),
    ]


@dataclass
class ItsResults(SiteResults[ItsOutcome]):
    """Interrupted time series of a site, per outcome, with placebo-site inference."""

    name: ClassVar[str] = "its"

    @classmethod
    def run(
        cls, design: SiteDesign, outcomes: Sequence[str], *, draws: int, seed: int
    ) -> ItsResults:
        """Fit every outcome, or say why not (:func:`run_its`)."""
        return cls(design, run_its(design, outcomes, draws=draws, seed=seed))

    def _tidy(self) -> pd.DataFrame:
        return its_table(self.design, self.results)

    def refused(self) -> pd.DataFrame:
        """The outcomes the design refuses, with the reason: one line each."""
        return refused(self.results)

    def in_time(self) -> pd.DataFrame:
        """Placebo-in-time: the site's controlled fit at fake starts in its pre-period."""
        return in_time(self.results)

    def panels(self) -> Figure | None:
        """Observed, fitted and counterfactual series, one panel per estimated outcome."""
        return its_panels(self.design, self.results)

    def placebos(self) -> Figure | None:
        """Placebo sites' level and slope changes with the site's, one row per outcome."""
        return its_placebos(self.results)

    def standardised_beside_crude(self) -> Figure | None:
        """Each cause's crude death rate beside its standardised mortality ratio."""
        return standardised_beside_crude(self.design, [r.outcome for r in self.results])

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``its_estimates.csv``, ``its_in_time.csv`` and ``its.json`` atomically."""
        return write_results(results_dir, self.table(), self.results)


def its_panels(design: SiteDesign, results: Sequence) -> Figure | None:
    """Observed series, fitted segments and the counterfactual with its 95% band, one panel
    per estimated outcome (:class:`ItsOutcome` items); None when none was estimated."""
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
        mark_start(ax, design.start_year - 0.5)
        ax.set_xlabel("year")

    return legend_below(small_multiples(list(drawn), draw))


def its_placebos(results: Sequence) -> Figure | None:
    """The placebo sites' level and slope changes with the site's marked, one row per
    outcome with placebo inference; None when there is none."""
    from proeftuin.data.outcomes import get_outcome

    rows = [r for r in results if hasattr(r.controlled, "draws")]
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 2, figsize=(FIGURE_WIDTH, PANEL_HEIGHT * len(rows)),
                             squeeze=False, layout="constrained")  # fmt: skip
    for (ax_level, ax_slope), item in zip(axes, rows, strict=True):
        for ax, effect in ((ax_level, "level_change"), (ax_slope, "slope_change")):
            item.controlled.plot(effect, ax=ax)
            label = get_outcome(item.outcome).label
            ax.set_title(wrap(f"{label}: {ax.get_title()}", (FIGURE_WIDTH - 0.8) / 2))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.grid(alpha=0.3)
    return fig


def standardised_beside_crude(design: SiteDesign, outcomes: Sequence[str]) -> Figure | None:
    """Per cause among ``outcomes`` with both a crude rate and an SMR: the site's and its
    comparison group's crude deaths per 1,000 person-years (left) beside their SMR (right,
    pooled: observed over expected deaths), each over its own years; None without a pair."""
    pairs = [
        (f"mortality_{cause}_per_1000", f"smr_{cause}")
        for cause in ("all", "cardiovascular", "cancer", "respiratory")
        if {f"mortality_{cause}_per_1000", f"smr_{cause}"} <= set(outcomes)
    ]

    def draw(ax: Axes, outcome: str) -> None:
        series = design.series(outcome)
        ax.plot(series["year"], series["site"], "o-", color=SITE_COLOUR, markersize=3,
                label=design.name)  # fmt: skip
        ax.plot(series["year"], series["control"], "-", color=NEUTRAL_COLOUR,
                label="comparison group")  # fmt: skip
        mark_start(ax, design.start_year - 0.5)
        ax.set_xlim(1995.5, 2019.5)
        ax.set_xlabel("year")

    return legend_below(small_multiples([o for pair in pairs for o in pair], draw, ncols=2))
