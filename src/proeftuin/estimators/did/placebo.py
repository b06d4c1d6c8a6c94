"""Randomization inference for the DiD estimators: the placebo scheme of a panel (placebo
clusters or units, placebo sites within an area; ``assignments.py`` draws or enumerates
the assignments, compactly), RI for TWFE by projection (``placebo_projection.py``: per-slot
sums, no refits, memory linear in units), RI by re-estimation under each assignment for
the other estimators (their ``Fit.point`` computes what the assignments share once), and
the RI pre-trend test on the same draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.panel import Fit, Panel, RunOptions
from proeftuin.estimators.did.projection import (
    UNIDENTIFIED_TOL,
    Projector,
    coefficient_tables,
    lead_statistics,
    lead_tables,
    placebo_coefficients,
)
from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.inference.streams import method_rng
from proeftuin.estimators.results import InferenceResult


def _assignment_labels(panel: Panel) -> tuple[np.ndarray, np.ndarray, str]:
    """Start labels per assignment cluster (cluster if treatment is constant within it)."""
    units = panel.unit_table()
    if (units.groupby("cl")["g"].nunique() == 1).all():
        labels = units.groupby("cl", sort=True)["g"].first()
        return (
            labels.to_numpy(),
            units["cl"].map(pd.Series(np.arange(len(labels)), index=labels.index)).to_numpy(),
            "cluster",
        )
    return units["g"].to_numpy(), np.arange(len(units)), "unit"


@dataclass
class PlaceboScheme:
    """How the placebo assignments were drawn, for p-values and the note."""

    level: str  # "unit" or "cluster"
    exact: bool
    weights: np.ndarray | None = None
    observed_included: bool = True
    group: str | None = None

    def describe(self) -> str:
        if self.group:
            return f"placebo sites within {self.group}; placebo {self.level}s"
        return f"placebo {self.level}s"


def _slot_groups(panel: Panel, unit_to_slot: np.ndarray) -> np.ndarray:
    """The placebo-group code of each assignment slot; a slot spanning areas gets -1."""
    codes = panel.df.groupby("unit", sort=True)["pgrp"].first().to_numpy()
    per_slot = pd.Series(codes).groupby(unit_to_slot)  # sorted by slot
    return np.where(per_slot.nunique() == 1, per_slot.first(), -1)


@dataclass
class PlaceboDraws:
    """Compact placebo draws over assignment slots, the scheme, and the slot of each unit."""

    draws: asg.Draws
    scheme: PlaceboScheme
    observed: asg.Draws  # the observed assignment, as one draw
    unit_slot: np.ndarray  # unit (sorted order) -> slot
    unit_index: np.ndarray  # row -> unit (sorted order)
    projector: Projector | None = None

    def rows(self, b: int) -> np.ndarray:
        """Row-level first-treated values of draw ``b``."""
        return self.draws.row(b)[self.unit_slot[self.unit_index]]

    def project(self, panel: Panel) -> Projector:
        if self.projector is None:
            self.projector = Projector(panel.df, self.unit_index, panel.covariates)
        return self.projector


def placebo_draws(
    panel: Panel, draws: int, rng: np.random.Generator, budget: int | None = None
) -> PlaceboDraws:
    """Placebo start labels per assignment slot (compact), and the scheme used: every
    assignment when they number at most ``budget`` (default ``draws``), else ``draws``."""
    labels, unit_to_slot, level = _assignment_labels(panel)
    if panel.placebo_group:
        groups = _slot_groups(panel, unit_to_slot)
        out = asg.grouped_draws(labels, groups, draws, rng, budget)
        scheme = PlaceboScheme(level, out.exact, out.weights, False, panel.placebo_group)
    else:
        out = asg.uniform_draws(labels, draws, rng, budget)
        scheme = PlaceboScheme(level, out.exact)
    units = panel.unit_table().index
    treated = np.flatnonzero(labels)
    observed = asg.Draws(treated[None, :], labels[treated][None, :], len(labels), True)
    unit_index = units.get_indexer(panel.df["unit"])
    return PlaceboDraws(out, scheme, observed, unit_to_slot, unit_index)


def placebo_panels(
    panel: Panel, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool, PlaceboScheme]:
    """Placebo first-treated values (draws x rows, dense), exactness, and the scheme used."""
    pdraws = placebo_draws(panel, draws, rng)
    g_rows = pdraws.draws.dense()[:, pdraws.unit_slot[pdraws.unit_index]]
    return g_rows, pdraws.scheme.exact, pdraws.scheme


def _dropped_note(res: InferenceResult, scheme: PlaceboScheme, dropped: int) -> None:
    res.note = f"{res.note}; {scheme.describe()}"
    if dropped:
        res.note += f"; {dropped} placebo draws dropped: placebo treatment not identified"


def _starts(pdraws: PlaceboDraws) -> np.ndarray:
    return np.unique(pdraws.observed.labels)


def ri_twfe(
    panel: Panel,
    estimate: float,
    draws: int,
    rng: np.random.Generator,
    alpha: float,
    placebo: PlaceboDraws | None = None,
) -> tuple[InferenceResult, int]:
    """RI for TWFE by projection (``placebo_projection``); also the dropped-draw count.

    A draw is dropped when its placebo treatment is not identified: fixed effects (and
    covariates) absorb all but a negligible share of the placebo column, as when every
    drawn unit lacks a pre-period. ``placebo`` reuses draws of :func:`placebo_draws`.
    """
    pdraws = placebo or placebo_draws(panel, draws, rng)
    scheme = pdraws.scheme
    proj = pdraws.project(panel)
    starts = _starts(pdraws)
    tables = coefficient_tables(
        proj,
        pdraws.unit_slot,
        pdraws.draws.n_slots,
        starts,
        panel.df["y"].to_numpy(dtype=float),
        panel.df["d"].to_numpy(dtype=float),
    )
    b0, dens, raw, cross_num = placebo_coefficients(proj, tables, starts, pdraws.draws)
    keep = (raw > 0) & (dens > UNIDENTIFIED_TOL * raw)
    dropped = int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    if not keep.any():
        res = InferenceResult("ri", float("nan"), draws=0, note="no identified placebo draw")
        _dropped_note(res, scheme, dropped)
        return res, dropped
    b0, dens = b0[keep], dens[keep]
    cross = cross_num[keep] / dens  # coefficient of D_obs on each D_b

    def pval(tau: float) -> float:
        return inf.ri_pvalue(
            estimate - tau, b0 - tau * cross, scheme.exact, weights, scheme.observed_included
        )

    sd = float(np.std(b0)) or 1.0
    ci = inf._invert(pval, estimate, sd, alpha)
    res = inf.ri_result(
        estimate, b0, scheme.exact, ci, weights, scheme.observed_included, pdraws.draws.n_areas
    )
    res.note = inf.interval_note(ci[0], ci[1], res.note or "")
    _dropped_note(res, scheme, dropped)
    return res, dropped


def ri_pretrend(
    panel: Panel,
    placebo: PlaceboDraws,
    ref_period: int,
    sample: int | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, float | int | str]:
    """RI p-value of the joint pre-trend statistic (sum of squared leads), same placebos.

    A diagnostic, not a headline: when the placebo assignments number more than ``sample``
    (the plan's draws), ``sample`` of them are drawn (with the enumeration's weights, from
    ``rng``) and the p-value is marked sampled with its Monte Carlo error, so that an exact
    enumeration of a few hundred thousand assignments does not cost an event study each.
    Returns ``ri_p_value``, ``ri_p_kind`` ("exact" or "sampled"), ``ri_p_mcse``,
    ``ri_draws`` and ``ri_dropped_draws`` (placebo draws dropped as not identified).
    """
    scheme = placebo.scheme
    draws, exact, weights = placebo.draws, scheme.exact, scheme.weights
    if sample is not None and len(draws) > sample:
        if rng is None:
            raise ValueError("ri_pretrend: sampling the placebo assignments needs an rng")
        prob = None if weights is None else weights / weights.sum()
        pick = np.sort(rng.choice(len(draws), size=sample, replace=True, p=prob))
        draws = asg.Draws(draws.slots[pick], draws.labels[pick], draws.n_slots, False)
        exact, weights = False, None
    proj = placebo.project(panel)
    tab = lead_tables(
        proj,
        placebo.unit_slot,
        draws.n_slots,
        _starts(placebo),
        panel.df["y"].to_numpy(dtype=float),
        ref_period,
    )
    observed = lead_statistics(proj, tab, placebo.observed)[0]
    stat = lead_statistics(proj, tab, draws)
    keep = np.isfinite(stat)
    out: dict[str, float | int | str] = {
        "ri_p_kind": "exact" if exact else "sampled",
        "ri_draws": int(keep.sum()),
        "ri_dropped_draws": int((~keep).sum()),
    }
    if not np.isfinite(observed) or not keep.any():
        return {**out, "ri_p_value": float("nan"), "ri_p_mcse": float("nan")}
    w = None if weights is None else weights[keep]
    # the statistic is non-negative; large values speak against parallel trends
    p = inf.ri_pvalue(np.sqrt(observed), np.sqrt(stat[keep]), exact, w, scheme.observed_included)
    mcse = 0.0 if exact else float(np.sqrt(p * (1 - p) / keep.sum()))
    return {**out, "ri_p_value": p, "ri_p_mcse": mcse}


def ri_refit(
    panel: Panel,
    estimate: float,
    point: Callable[[np.ndarray], float],
    draws: int,
    rng: np.random.Generator,
) -> tuple[InferenceResult, int]:
    """RI by re-estimating under each placebo assignment (``point`` of its first-treated
    value per row); unidentified draws (error, NaN) dropped.

    One draw's assignment at a time: memory does not grow with the number of draws.
    """
    pdraws = placebo_draws(panel, draws, rng)
    scheme = pdraws.scheme
    placebo = []
    for b in range(len(pdraws.draws)):
        try:
            with np.errstate(all="ignore"):
                placebo.append(point(pdraws.rows(b)))
        except (DesignError, ZeroDivisionError, np.linalg.LinAlgError, ValueError):
            placebo.append(float("nan"))
    placebo_arr = np.array(placebo, dtype=float)
    keep = np.isfinite(placebo_arr)
    dropped = int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    if not keep.any():
        res = InferenceResult("ri", float("nan"), draws=0, note="no identified placebo draw")
    else:
        res = inf.ri_result(
            estimate,
            placebo_arr[keep],
            scheme.exact,
            None,
            weights,
            scheme.observed_included,
            pdraws.draws.n_areas,
        )
    _dropped_note(res, scheme, dropped)
    return res, dropped


# --- the inference methods -----------------------------------------------------------------


def ri_projection(fit: Fit, opts: RunOptions) -> InferenceResult:
    """RI for TWFE and the 2x2: one projection of all placebo columns, every assignment when
    they number at most :data:`assignments.EXACT_BUDGET` (a draw costs no refit); draws kept
    for the RI pre-trend test."""
    rng = method_rng(opts.seed, "ri")
    fit.cache["placebo"] = placebo_draws(fit.panel, opts.draws, rng, asg.EXACT_BUDGET)
    res, fit.cache["ri_dropped"] = ri_twfe(
        fit.panel, fit.estimate, opts.draws, rng, opts.alpha, fit.cache["placebo"]
    )
    return res


def ri_by_refit(fit: Fit, opts: RunOptions) -> InferenceResult:
    """RI by re-estimating under every placebo assignment (Callaway-Sant'Anna, imputation:
    their ``point`` keeps what the assignments share, so a draw costs no refit)."""
    assert fit.point is not None
    rng = method_rng(opts.seed, "ri")
    res, fit.cache["ri_dropped"] = ri_refit(fit.panel, fit.estimate, fit.point, opts.draws, rng)
    return res
