"""Robustness of a site's difference-in-differences, as small check objects (and their
figure, :func:`robustness_figure`): other
comparison groups (:class:`ControlPools`), leaving out one municipality at a time
(:class:`LeaveOneOut`), placebo start years in the pre-period (:class:`PlaceboYears`), the
other initiatives back among the controls (:class:`OtherInitiatives`), each alternative
assignment of a contested municipality (:class:`Contested`), and placebo sites drawn from
the untreated municipalities nearest the site (:class:`NearbyPlacebo`).
A check turns a design into named variants; :func:`run_checks` re-estimates each.

Each check re-estimates the headline outcomes (the first outcome of each Triple Aim
dimension) on a variant of the site's design and keeps one row per variant with the most
robust interval available (randomization inference, else wild bootstrap, else CRV1). The
main estimate is the ``control_pool`` row whose variant is the plan's pool.

Work is shared where the rows allow it. The inputs are loaded once and passed in; a variant
equal to the design (the plan's pool) reuses it. A variant keeps one row per outcome, so
it is fitted without the event study (its RI pre-trend test is the costliest step and no
row shows it) and first with randomization inference alone, the method that leads: each
method draws from its own stream of the outcome's seed, so that row is the one the full
set of methods gives. Only an outcome whose RI gives no finite interval is refitted with
every method of the plan, to pick the row the full set would have led with. The rows are
therefore those of fitting every variant with everything, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from proeftuin.data.initiatives import DROP
from proeftuin.data.outcomes import headline_outcomes
from proeftuin.data.sites import CONTROL_POOLS
from proeftuin.designs.comparison import DesignInputs, SiteDesign, site_design
from proeftuin.designs.did import run_did
from proeftuin.designs.figures import (
    FIGURE_WIDTH,
    NEUTRAL_COLOUR,
    POOLED_COLOUR,
    SITE_COLOUR,
    estimated,
    interval_widths,
    municipality_names,
    small_multiples,
    wrap,
)
from proeftuin.designs.headline import INTERVAL_PREFERENCE, headline

ROBUSTNESS_COLUMNS = [
    "site", "check", "variant", "outcome", "estimate", "ci_low", "ci_high", "p_value", "note",
]  # fmt: skip


class Check(Protocol):
    """A robustness check: a name and the variants of a design it re-estimates."""

    name: str

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        """Variant label -> the design to re-estimate (empty when the check does not apply)."""
        ...


@dataclass(frozen=True)
class ControlPools:
    """The site's design with each other comparison group the registry offers."""

    pools: tuple[str, ...] = CONTROL_POOLS
    name: str = "control_pool"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        return {
            pool: design if pool == design.control_pool else redesign(design, inputs, pool=pool)
            for pool in self.pools
        }


def redesign(
    design: SiteDesign, inputs: DesignInputs, *, pool: str | None = None, initiatives: str = ""
) -> SiteDesign:
    """The site's design again from ``inputs`` (e.g. another registry), with its own years,
    start and buffer, and the pool and initiative rule given (else the defaults)."""
    extra = {"initiatives": initiatives} if initiatives else {}
    return site_design(
        design.site,
        inputs,
        control_pool=pool or design.control_pool,
        buffer=design.buffer,
        start_year=design.start_year,
        first_year=design.first_year,
        last_year=design.last_year,
        outcome_periods=design.periods,
        **extra,
    )


@dataclass(frozen=True)
class OtherInitiatives:
    """The control pool with the other initiatives' municipalities (and the sites' possible
    catchments) put back (``included``: the pools before issue 26), and with the unverified
    initiatives also taken out (``strict``); a variant whose controls do not change is
    left out. The plan's design keeps the registry's default (``excluded``)."""

    rules: tuple[str, ...] = ("included", "strict")
    name: str = "initiatives"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        out = {rule: redesign(design, inputs, initiatives=rule) for rule in self.rules}
        return {k: v for k, v in out.items() if v.controls != design.controls}


@dataclass(frozen=True)
class Contested:
    """Each alternative assignment of a contested municipality that changes the site: the
    site with it (moved in) or without it (moved to another site, an initiative, or
    dropped); alternatives that give the same site are one variant."""

    name: str = "contested"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        registry, out, seen = inputs.registry, {}, {}
        for code, entry in registry.contested.items():
            for alt in entry.alternatives:
                if design.site not in (entry.default, alt):
                    continue
                moved = registry.reassigned(code, alt if alt in registry.sites else DROP)
                if not moved.sites[design.site].municipalities:
                    continue
                variant = redesign(design, replace(inputs, registry=moved))
                verb = "with" if code in variant.treated else "without"
                label = f"{verb} {entry.name}"
                if variant.treated not in seen:
                    seen[variant.treated] = label
                    out[label] = variant
        return out


@dataclass(frozen=True)
class NearbyPlacebo:
    """Placebo sites from the untreated municipalities nearest the site: the controls in
    the site's province, one placebo site per COROP area (no distances are at hand; the
    area is the nearest grouping the covariates give), each with the site's start year
    against the other controls. With no programme there, an 'effect' is what the nearby
    untreated region shows on its own: a regional shock, not the programme."""

    name: str = "nearby_placebo"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        cov = inputs.covariates.set_index("municipality")
        province = cov.loc[list(design.treated), "province"].mode().iloc[0]
        near = cov.loc[[c for c in design.controls if cov.at[c, "province"] == province]]
        panel = design.panel[~design.panel["municipality"].isin(design.treated)]
        out = {}
        by = "corop_name" if "corop_name" in near else "corop_region"
        for area, group in near.groupby(by, sort=True):
            placebo = tuple(sorted(group.index))
            rest = tuple(c for c in design.controls if c not in placebo)
            out[f"placebo site {area}"] = replace(
                design, treated=placebo, controls=rest, panel=panel
            )
        return out


@dataclass(frozen=True)
class LeaveOneOut:
    """The design without each of the site's municipalities in turn.

    Applies only where at least ``min_left`` municipalities remain."""

    min_left: int = 2
    name: str = "leave_one_out"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        if len(design.treated) - 1 < self.min_left:
            return {}
        return {
            code: replace(
                design,
                treated=tuple(c for c in design.treated if c != code),
                panel=design.panel[design.panel["municipality"] != code],
            )
            for code in design.treated
        }


@dataclass(frozen=True)
class PlaceboYears:
    """Placebo in time: pre-period data only, with a fake start in each pre-period year
    after the first. With no programme yet, an 'effect' signals diverging trends."""

    name: str = "placebo_year"

    def variants(self, design: SiteDesign, inputs: DesignInputs) -> dict[str, SiteDesign]:
        pre = design.panel[design.panel["year"] < design.start_year]
        return {
            str(year): replace(design, start_year=year, last_year=design.start_year - 1, panel=pre)
            for year in range(design.first_year + 1, design.start_year)
        }


#: The checks every site's robustness notebook runs, in the order the report shows them.
CHECKS: tuple[Check, ...] = (
    ControlPools(),
    LeaveOneOut(),
    PlaceboYears(),
    OtherInitiatives(),
    Contested(),
    NearbyPlacebo(),
)


#: The checks the site page shows beside the regional models (with the own-province pool).
REGION_CHECKS = ("initiatives", "contested", "nearby_placebo")


def region_checks(table: pd.DataFrame, outcome: str = "cost_basket_std") -> pd.DataFrame:
    """The rows of ``outcome`` under :data:`REGION_CHECKS` and the own-province pool."""
    province = (table["check"] == "control_pool") & (table["variant"] == "province")
    keep = (table["check"].isin(REGION_CHECKS) | province) & (table["outcome"] == outcome)
    columns = ["check", "variant", "estimate", "ci_low", "ci_high", "p_value", "note"]
    return table.loc[keep, columns].reset_index(drop=True)


def run_checks(
    design: SiteDesign,
    inputs: DesignInputs,
    outcomes: Sequence[str],
    *,
    checks: Sequence[Check] = CHECKS,
    inference: Sequence[str],
    draws: int,
    seed: int,
) -> pd.DataFrame:
    """Every check for the headline outcomes, one row per check, variant and outcome.

    ``inputs`` are the design's inputs (alternative pools draw other controls from them);
    ``inference``, ``draws`` and ``seed`` come from the plan (its ``defaults:``), the one
    place that sets them.
    """
    chosen = headline_outcomes(outcomes)
    variants = {check.name: check.variants(design, inputs) for check in checks}
    frames = [
        _estimate(variant, chosen, check, name, inference=inference, draws=draws, seed=seed)
        for check, by_name in variants.items()
        for name, variant in by_name.items()
    ]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return table.reindex(columns=ROBUSTNESS_COLUMNS)


def _estimate(
    design: SiteDesign,
    outcomes: list[str],
    check: str,
    variant: str,
    *,
    inference: Sequence[str],
    draws: int,
    seed: int,
) -> pd.DataFrame:
    """One row per outcome: the leading row of fitting ``inference`` (see the module doc)."""
    options = {"draws": draws, "seed": seed, "event_study": False}
    lead = INTERVAL_PREFERENCE[0]
    first = [lead] if lead in _methods(inference) else list(inference)
    table = _table(design, outcomes, first, options)
    settled = set(headline(table).query("method == @lead")["outcome"])
    redo = [o for o in outcomes if o not in settled]
    if redo and first != list(inference):  # the full set decides which row leads
        table = pd.concat(
            [table[table["outcome"].isin(settled)], _table(design, redo, inference, options)],
            ignore_index=True,
        )
    table = table.set_index("outcome").loc[outcomes].reset_index()  # plan order
    best = headline(table)
    missing = table[~table["outcome"].isin(best["outcome"])].drop_duplicates("outcome")
    best = best.assign(note=best["method"].map(lambda m: f"interval and p-value: {m}"))
    rows = pd.concat([best, missing], ignore_index=True)
    return rows.assign(check=check, variant=variant)


def _methods(inference: Sequence[str]) -> list[str]:
    """The plan's inference methods as the estimators expand them (wild: both variants)."""
    out = []
    for m in inference:
        out += ["wild_restricted", "wild_unrestricted"] if m == "wild" else [m]
    return out


def _table(
    design: SiteDesign, outcomes: list[str], inference: Sequence[str], options: dict
) -> pd.DataFrame:
    from proeftuin.designs.did import did_table

    return did_table(design, run_did(design, outcomes, inference=inference, **options))


CHECK_NAMES = {
    "control_pool": "comparison group",
    "leave_one_out": "without",
    "placebo_year": "placebo start",
    "initiatives": "other initiatives",
    "contested": "contested",
    "nearby_placebo": "nearby",
}


def robustness_figure(
    design: SiteDesign, table: pd.DataFrame, checks: Sequence[str]
) -> Figure | None:
    """Estimates with 95% intervals for each variant of the given checks, one panel per
    outcome with an estimate, side by side with the variants named once on the left (None
    when there is none); municipalities by name.

    The plan's own comparison group (``design.control_pool``) is drawn in black for reference.
    """
    rows = estimated(table[table["check"].isin(checks)])
    names = municipality_names(design)
    labels = {
        (c, v): f"{CHECK_NAMES.get(c, c)}: {names.get(v, v).replace('_', ' ')}"
        for c, v in zip(rows["check"], rows["variant"], strict=True)
    }
    main = ("control_pool", design.control_pool)
    fig = _variant_dots(rows, labels, main, "effect (difference-in-differences)")
    if fig is not None:
        fig.suptitle(design.name)
    return fig


def placebo_year_figure(design: SiteDesign, table: pd.DataFrame) -> Figure | None:
    """The placebo starts beside the real one, one compact panel per outcome with a placebo
    estimate: each placebo start year's 'effect' (pre-period data only) and, in black, the
    estimate at the real start with the plan's comparison group. None without a placebo."""
    placebos = estimated(table[table["check"] == "placebo_year"])
    if placebos.empty:
        return None
    main = ("control_pool", design.control_pool)
    real = estimated(table[(table["check"] == main[0]) & (table["variant"] == main[1])])
    rows = pd.concat([real[real["outcome"].isin(placebos["outcome"])], placebos])
    labels = {(c, v): f"placebo start {v}" for c, v in zip(rows["check"], rows["variant"],
                                                           strict=True)}  # fmt: skip
    labels[main] = f"real start {design.start_year}"
    fig = _variant_dots(rows, labels, main, "effect (placebo starts: should be near 0)")
    if fig is not None:
        fig.suptitle(f"{design.name}: placebo start years")
    return fig


def _variant_dots(
    rows: pd.DataFrame, labels: dict[tuple[str, str], str], main: tuple[str, str], xlabel: str
) -> Figure | None:
    """One panel per outcome in a row, one line per variant (``labels``, named on the left
    once), each estimate with its 95% interval; the ``main`` variant in black."""
    order = list(dict.fromkeys(labels))
    y = {key: len(order) - i for i, key in enumerate(order)}
    outcomes = list(dict.fromkeys(rows["outcome"]))

    def draw(ax: Axes, outcome: str) -> None:
        sub = rows[rows["outcome"] == outcome]
        keys = list(zip(sub["check"], sub["variant"], strict=True))
        is_main = np.array([k == main for k in keys])
        for mask, colour, marker in ((~is_main, SITE_COLOUR, "o"), (is_main, POOLED_COLOUR, "D")):
            if mask.any():
                ax.errorbar(sub["estimate"][mask], [y[k] for k, m in zip(keys, mask,
                            strict=True) if m], xerr=interval_widths(sub[mask]), fmt=marker,
                            color=colour, capsize=2, markersize=4)  # fmt: skip
        ax.set_yticks(list(y.values()), [wrap(labels[k], 1.7) for k in y])
        ax.set_ylim(0.4, len(order) + 0.6)
        ax.axvline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_xlabel(wrap(xlabel, (FIGURE_WIDTH - 1.8) / max(1, len(outcomes))))

    height = 0.24 * len(order) + 1.3
    return small_multiples(outcomes, draw, ncols=len(outcomes), height=height, sharey=True)
