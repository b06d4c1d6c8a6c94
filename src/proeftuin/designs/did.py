"""A site's difference-in-differences per outcome: the fits, the tidy table, the results
object (:class:`DidResults`) and the event-study figure.

The DiD notebook calls these through :class:`DidResults` so that it holds narrative and
figures only (the robustness checks call :func:`run_did` directly). An
outcome the design cannot identify (no pre-period for a late-starting series, too few
pre-period points for a trend) is kept as a row with its reason, never dropped silently.
Results are written as CSV and JSON (machine-readable, read by the synthesis and the
report), each atomically.

What a design could detect is said by its minimum detectable effect (Bloom 1995, *Evaluation
Review* 19(5)): the true effect a two-sided 5% test finds with 80% power, (z_0.975 +
z_0.80) x SD = 2.80 x SD, with SD the spread of the estimator under no effect. Here that
spread is read from the placebo distribution (the estimates for placebo sites drawn within
the site's COROP area, the randomization-inference draws), so it needs no model: columns
``mde`` (outcome units) and ``mde_pct`` (% of the site's pre-period mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.figures import (
    FIGURE_WIDTH,
    NEUTRAL_COLOUR,
    SITE_COLOUR,
    STYLE,
    small_multiples,
    wrap,
)
from proeftuin.designs.results import OutcomeResult, SiteResults, write_tables

DID_COLUMNS = [
    "site", "design", "outcome", "method", "estimate", "se", "ci_low", "ci_high",
    "p_value", "p_kind", "p_mcse", "p_mc_low", "p_mc_high", "n_areas", "p_resolution",
    "n_units", "n_treated_units", "n_periods", "pretrend_p", "pretrend_p_mcse", "mde", "mde_pct",
    "note",
]  # fmt: skip
#: The site's DiD table (``did_estimates.csv``): :data:`DID_COLUMNS` and, before the note,
#: each outcome's HonestDiD breakdown value (:mod:`proeftuin.designs.sensitivity`).
DID_SITE_COLUMNS = [*DID_COLUMNS[:-1], "breakdown_mbar", DID_COLUMNS[-1]]


def mde_factor(alpha: float = 0.05, power: float = 0.80) -> float:
    """z_(1-alpha/2) + z_power: 2.80 at 5% two-sided and 80% power (Bloom 1995)."""
    from scipy import stats  # here: a notebook that only reads results need not import it

    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    placebo: Any, weights: Any = None, *, alpha: float = 0.05, power: float = 0.80
) -> float:
    """2.80 x the (weighted) SD of placebo estimates; NaN with fewer than two finite ones."""
    draws = np.asarray(placebo, dtype=float)
    ok = np.isfinite(draws)
    if ok.sum() < 2:
        return float("nan")
    w = np.ones(ok.sum()) if weights is None else np.asarray(weights, dtype=float)[ok]
    centre = np.average(draws[ok], weights=w)
    sd = float(np.sqrt(np.average((draws[ok] - centre) ** 2, weights=w)))
    return mde_factor(alpha, power) * sd


def pre_period_mean(design: SiteDesign, outcome: str) -> float:
    """The site's mean of the yearly (insured-year weighted) means before its start."""
    series = design.series(outcome)
    pre = series.loc[series["year"] < design.start_year, "site"].dropna()
    return float(pre.mean()) if len(pre) else float("nan")


def add_mde(
    table: pd.DataFrame, design: SiteDesign, by: Sequence[str] = ("outcome",)
) -> pd.DataFrame:
    """``mde`` and ``mde_pct`` on every row of an outcome (and estimator), from the spread of
    its randomization-inference placebo estimates (the RI row's ``se`` is their SD)."""
    ri = table[table["method"] == "ri"].drop_duplicates(list(by))
    sd = ri.set_index(list(by))["se"].astype(float)
    keys = pd.MultiIndex.from_frame(table[list(by)]) if len(by) > 1 else table[by[0]]
    mde = mde_factor() * sd.reindex(keys).to_numpy()
    site_means = {o: pre_period_mean(design, o) for o in table["outcome"].dropna().unique()}
    means = table["outcome"].map(site_means).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(np.abs(means) > 0, 100 * mde / np.abs(means), np.nan)
    return table.assign(mde=mde, mde_pct=pct)


def run_did(
    design: SiteDesign,
    outcomes: Sequence[str],
    *,
    inference: Sequence[str],
    draws: int,
    seed: int,
    event_study: bool = True,
) -> list[OutcomeResult]:
    """Difference-in-differences of the site against its controls, per outcome.

    Each outcome draws from its own random stream, derived from ``seed`` and keyed by the
    outcome's name: its results depend neither on the other outcomes nor on their order.
    ``event_study=False`` skips the event study and its pre-trend diagnostics (the robustness
    checks, which show one row per outcome); the estimate and every interval are the same.
    """
    from proeftuin.estimators import DesignError, estimate_did
    from proeftuin.estimators.inference.streams import keyed_seed

    results = []
    for outcome in outcomes:
        frame = design.outcome_frame(outcome)
        ref = design.reference_event_time(outcome)
        if ref is None:
            results.append(OutcomeResult(outcome, None, no_pre_period(design, outcome)))
            continue
        try:
            fit = estimate_did(
                frame, unit="municipality", time="year", outcome="value",
                first_treated="first_treated", cluster="municipality", weights="weight",
                inference=inference, draws=draws, seed=keyed_seed(seed, outcome), ref_period=ref,
                placebo_group="placebo_area", event_study=event_study,
            )  # fmt: skip
        except DesignError as exc:
            results.append(OutcomeResult(outcome, None, str(exc)))
            continue
        results.append(OutcomeResult(outcome, fit))
    return results


def no_pre_period(design: SiteDesign, outcome: str) -> str:
    years = design.years(outcome, treated_only=True)
    observed = ", ".join(map(str, years)) if years else "no year"
    return (
        f"no pre-period: the site's municipalities have {outcome} for {observed}; "
        f"the programme starts in {design.start_year}"
    )


def did_table(design: SiteDesign, results: list[OutcomeResult]) -> pd.DataFrame:
    """One row per outcome and inference method (and one per unestimable outcome), from
    each result's own ``tidy()``."""
    rows = []
    for item in results:
        base = {"site": design.site, "design": "did", "outcome": item.outcome}
        if item.result is None:
            rows.append({**base, "method": None, "note": item.reason})
            continue
        rows.extend({**base, **row} for row in item.result.tidy().to_dict("records"))
    table = pd.DataFrame(rows).reindex(columns=DID_COLUMNS)
    return add_mde(table, design) if len(table) else table


@dataclass
class DidResults(SiteResults[OutcomeResult]):
    """Difference-in-differences of a site against its comparison group, per outcome."""

    name: ClassVar[str] = "did"
    #: HonestDiD sensitivity of the event studies (``did_sensitivity.csv``); None: not run
    sensitivity: pd.DataFrame | None = None

    @classmethod
    def run(
        cls,
        design: SiteDesign,
        outcomes: Sequence[str],
        *,
        inference: Sequence[str],
        draws: int,
        seed: int,
    ) -> DidResults:
        """Estimate every outcome (:func:`run_did`, with its event study), then the
        sensitivity of the shown ones to violations of parallel trends
        (:func:`proeftuin.designs.sensitivity.sensitivity_table`)."""
        from proeftuin.designs.sensitivity import sensitivity_table

        fits = run_did(design, outcomes, inference=inference, draws=draws, seed=seed)
        return cls(design, fits, sensitivity=sensitivity_table(design, fits, outcomes))

    def _tidy(self) -> pd.DataFrame:
        table = did_table(self.design, self.results)
        if self.sensitivity is None or table.empty:
            return table
        from proeftuin.designs.sensitivity import breakdown_by_outcome

        breakdown = table["outcome"].map(breakdown_by_outcome(self.sensitivity))
        return table.assign(breakdown_mbar=breakdown).reindex(columns=DID_SITE_COLUMNS)

    def save(self, results_dir: str | Path) -> list[Path]:
        """The estimates and full results (``SiteResults.save``), and ``did_sensitivity.csv``."""
        written = super().save(results_dir)
        if self.sensitivity is not None:
            names = write_tables(results_dir, did_sensitivity=self.sensitivity)
            written += [Path(results_dir) / name for name in names]
        return written

    def event_studies(self) -> Figure | None:
        """Event-study coefficients, one panel per outcome with an event study."""
        return event_study_figure(self.design, self.results)


#: What the event study's bands are, said on the figure: the estimators' pointwise CRV1
#: bands, which the site pages call unreliable with few treated municipalities.
EVENT_STUDY_BANDS = (
    "bands: pointwise 95% CRV1 (cluster-robust, t with G-1 df), too narrow with few treated "
    "municipalities; the estimates table's randomization inference leads"
)


def event_study_figure(design: SiteDesign, results: Sequence) -> Figure | None:  # OutcomeResult
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
        ax.set_xlabel(f"years since start ({design.start_year})")

    fig = small_multiples(list(drawn), draw)
    if fig is not None:
        fig.suptitle(wrap(f"{design.name}: event study; {EVENT_STUDY_BANDS}", FIGURE_WIDTH,
                          STYLE["figure.titlesize"]))  # fmt: skip
    return fig


def _has_event_study(fit: object) -> bool:
    study = getattr(fit, "event_study", None)
    return study is not None and not study.empty
