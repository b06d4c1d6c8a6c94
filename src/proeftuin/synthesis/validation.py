"""Validation against published results: run the estimators on public reference data and
compare every quantity with its published value (``data/reference/published_results.csv``),
and the figure of each quantity's distance from it (:func:`validation_figure`).

The report's methods page shows this table; the test suite asserts that every row passes.
Published values are rounded (mostly to four decimals); each row's tolerance is half a unit
of the last published digit, the most a correct estimate can differ from its rounded value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from proeftuin.core import settings
from proeftuin.designs.figures import CONTROL_COLOUR, FIGURE_WIDTH, NEUTRAL_COLOUR, SITE_COLOUR

VALIDATION_COLUMNS = [
    "case", "quantity", "published", "estimate", "abs_diff", "tolerance", "passed", "source",
]  # fmt: skip


def published_results() -> pd.DataFrame:
    return pd.read_csv(settings.reference_dir() / "published_results.csv")


def _reference(name: str, mirror: Path | None, sep: str = ",") -> pd.DataFrame:
    from proeftuin.sources.reference import reference_path

    return pd.read_csv(reference_path(name, mirror), sep=sep)


def mpdta_estimates(mirror: Path | None = None) -> dict[str, float]:
    """Callaway & Sant'Anna on mpdta: ATT(g,t), aggregations, event-time effects."""
    from proeftuin.estimators import estimate_did

    fit = estimate_did(
        _reference("mpdta.csv", mirror), unit="countyreal", time="year", outcome="lemp",
        first_treated="first.treat", method="cs", control_group="never", inference=("crv1",),
    )  # fmt: skip
    aggregations = fit.to_dict()["aggregations"]
    values = {
        f"att_gt g={int(row.group)} t={int(row.time)}": row.estimate
        for row in fit.att_gt.itertuples()
    }
    values |= {
        "simple ATT": aggregations["simple"]["estimate"],
        "simple ATT SE (analytic)": aggregations["simple"]["se"],
        "dynamic ATT": aggregations["dynamic"]["estimate"],
        "group ATT": aggregations["group"]["estimate"],
    }
    values |= {
        f"dynamic e={e['event_time']}": e["estimate"]
        for e in aggregations["dynamic"]["by_event_time"]
    }
    return values


def sicily_estimates(mirror: Path | None = None) -> dict[str, float]:
    """The tutorial's seasonally adjusted quasi-Poisson model with a level change."""
    from proeftuin.estimators import estimate_its

    fit = estimate_its(
        _reference("sicily.csv", mirror), time="time", outcome="aces", start=37,
        exposure="stdpop", family="quasipoisson", period=12, harmonics=2, slope=False,
    )  # fmt: skip
    return {"level change rate ratio (quasi-Poisson, 2 harmonics)": fit.level_change.ratio}


def bcg_estimates(mirror: Path | None = None) -> dict[str, float]:
    """DerSimonian–Laird random-effects pooling of the BCG trials' log risk ratios."""
    from proeftuin.synthesis.pooling import pool_effects

    trials = pd.read_csv(settings.reference_dir() / "bcg_trials.csv")
    treated = trials["tpos"] + trials["tneg"]
    control = trials["cpos"] + trials["cneg"]
    log_rr = np.log(trials["tpos"] / treated) - np.log(trials["cpos"] / control)
    var = 1 / trials["tpos"] - 1 / treated + 1 / trials["cpos"] - 1 / control
    pooled = pool_effects(log_rr, np.sqrt(var))
    return {
        "pooled log risk ratio (DerSimonian-Laird)": pooled["estimate"],
        "pooled SE": pooled["se_dl"],
        "tau2": pooled["tau2"],
        "I2": pooled["i2"],
    }


def prop99_estimates(mirror: Path | None = None) -> dict[str, float]:
    """Synthetic DiD, synthetic control and DiD on California's Proposition 99 (synthdid)."""
    from proeftuin.estimators import estimate_synth

    data = _reference("california_prop99.csv", mirror, sep=";")
    names = {
        "sdid": "synthetic DiD",
        "sc": "synthetic control (synthdid Frank-Wolfe)",
        "did": "DiD",
    }
    return {
        label: estimate_synth(
            data,
            unit="State",
            time="Year",
            outcome="PacksPerCapita",
            treated="treated",
            method=method,
            inference=(),
        ).estimate
        for method, label in names.items()
    }


CASES: dict[str, Callable[[Path | None], dict[str, float]]] = {
    "mpdta": mpdta_estimates,
    "sicily": sicily_estimates,
    "bcg": bcg_estimates,
    "prop99": prop99_estimates,
}


def run_validation(mirror: Path | None = None) -> pd.DataFrame:
    """Every published quantity beside our estimate, its difference and whether it passes."""
    published = published_results()
    estimates = {case: CASES[case](mirror) for case in published["case"].unique()}
    pairs = zip(published["case"], published["quantity"], strict=True)
    table = published.assign(estimate=[estimates[c].get(q, np.nan) for c, q in pairs])
    table["abs_diff"] = (table["estimate"] - table["published"]).abs()
    table["passed"] = table["abs_diff"] <= table["tolerance"] + 1e-12
    return table.reindex(columns=VALIDATION_COLUMNS)


def validation_figure(table: pd.DataFrame) -> Figure:
    """Each validated quantity's distance from its published value, as a share of the
    tolerance (half a unit of the published last digit): bars left of 1 pass."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 0.2 * len(table) + 1.0), layout="constrained")
    share = (table["abs_diff"] / table["tolerance"]).to_numpy()
    labels = [f"{c}: {q}" for c, q in zip(table["case"], table["quantity"], strict=True)]
    colours = [CONTROL_COLOUR if ok else SITE_COLOUR for ok in table["passed"]]
    ax.barh(range(len(table))[::-1], share, color=colours)
    ax.set_yticks(range(len(table))[::-1], labels)
    ax.axvline(1.0, color=NEUTRAL_COLOUR, linestyle="--", linewidth=1)
    ax.set_xlabel("|estimate - published| / tolerance (1 = rounding limit)")
    ax.set_xlim(0, max(1.2, float(np.nanmax(share)) * 1.1) if len(share) else 1.2)
    return fig
