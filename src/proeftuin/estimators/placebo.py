"""Randomization inference for the DiD estimators: the placebo scheme of a panel (placebo
clusters or units, placebo sites within an area; ``inference.py`` draws or enumerates
the assignments), RI for TWFE by one projection of all placebo columns, RI by
re-estimation for the other estimators, and the RI pre-trend test on the same draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from proeftuin.estimators import inference as inf
from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.panel import Fit, Panel, RunOptions, residualizer
from proeftuin.estimators.results import InferenceResult
from proeftuin.estimators.streams import method_rng


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
    per_slot = (
        pd.Series(codes).groupby(unit_to_slot).agg(lambda s: s.iloc[0] if s.nunique() == 1 else -1)
    )
    return per_slot.sort_index().to_numpy()


def placebo_panels(panel: Panel, draws: int, rng: np.random.Generator):
    """Placebo first-treated values (draws x rows), exactness, and the scheme used."""
    labels, unit_to_slot, level = _assignment_labels(panel)
    if panel.placebo_group:
        groups = _slot_groups(panel, unit_to_slot)
        assign, exact, weights = inf.grouped_placebo_assignments(labels, groups, draws, rng)
        scheme = PlaceboScheme(level, exact, weights, False, panel.placebo_group)
    else:
        assign, exact = inf.placebo_assignments(labels, draws, rng)
        scheme = PlaceboScheme(level, exact)
    units = panel.unit_table().index.to_numpy()
    unit_pos = pd.Series(np.arange(len(units)), index=units)
    row_slot = unit_to_slot[unit_pos[panel.df["unit"]].to_numpy()]
    return assign[:, row_slot], exact, scheme


UNIDENTIFIED_TOL = 1e-8


def _dropped_note(res: InferenceResult, scheme: PlaceboScheme, dropped: int) -> None:
    res.note = f"{res.note}; {scheme.describe()}"
    if dropped:
        res.note += f"; {dropped} placebo draws dropped: placebo treatment not identified"


def ri_twfe(
    panel: Panel,
    estimate: float,
    draws: int,
    rng: np.random.Generator,
    alpha: float,
    placebo: tuple | None = None,
) -> tuple[InferenceResult, int]:
    """RI for TWFE by one projection of all placebo columns; also the dropped-draw count.

    A draw is dropped when its placebo treatment is not identified: fixed effects (and
    covariates) absorb all but a negligible share of the placebo column, as when every
    drawn unit lacks a pre-period. ``placebo`` reuses draws of :func:`placebo_panels`.
    """
    g_rows, exact, scheme = placebo or placebo_panels(panel, draws, rng)
    t = panel.df["time"].to_numpy()
    dmat = ((g_rows > 0) & (t[None, :] >= g_rows)).astype(float).T
    resid = residualizer(panel)
    y, d = panel.df["y"].to_numpy(), panel.df["d"].to_numpy()
    b0, dens = inf.ri_coefficients(resid, y, dmat)
    raw = resid.w @ dmat
    keep = (raw > 0) & (dens > UNIDENTIFIED_TOL * raw)
    dropped = int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    if not keep.any():
        res = InferenceResult("ri", float("nan"), draws=0, note="no identified placebo draw")
        _dropped_note(res, scheme, dropped)
        return res, dropped
    b0, dens = b0[keep], dens[keep]
    cross = (resid.w * resid(d)) @ dmat[:, keep] / dens  # coefficient of D_obs on each D_b

    def pval(tau: float) -> float:
        return inf.ri_pvalue(
            estimate - tau, b0 - tau * cross, exact, weights, scheme.observed_included
        )

    sd = float(np.std(b0)) or 1.0
    ci = inf._invert(pval, estimate, sd, alpha)
    res = inf.ri_result(estimate, b0, exact, ci, weights, scheme.observed_included)
    res.note = inf.interval_note(ci[0], ci[1], res.note or "")
    _dropped_note(res, scheme, dropped)
    return res, dropped


def _lead_columns(t: np.ndarray, g: np.ndarray, ref_period: int) -> tuple[np.ndarray, np.ndarray]:
    """Event-time dummies (excluding the reference) for first-treated ``g``, and their times."""
    rel = np.where(g > 0, t - g, ref_period)
    values = np.unique(rel[(g > 0) & (rel != ref_period)])
    return np.column_stack([(rel == e) for e in values]).astype(float), values


def _lead_statistics(
    resid: inf.Residualizer, yt: np.ndarray, designs: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Sum of squared lead coefficients of the event study, one per design.

    NaN where the design has no lead or its dummies are collinear with the fixed effects.
    All designs are residualised in a few batched calls.
    """
    out = np.full(len(designs), np.nan)
    chunk = 64
    for start in range(0, len(designs), chunk):
        block = designs[start : start + chunk]
        xt_all = resid(np.column_stack([x for x, _ in block]))
        col = 0
        for i, (x, values) in enumerate(block):
            xt = xt_all[:, col : col + x.shape[1]]
            col += x.shape[1]
            if not (values < 0).any():
                continue
            a = xt.T @ (resid.w[:, None] * xt)
            eig = np.linalg.eigvalsh(a)
            if eig.min() <= UNIDENTIFIED_TOL * max(eig.max(), 1e-300):
                continue
            beta = np.linalg.solve(a, xt.T @ (resid.w * yt))
            out[start + i] = float(np.sum(beta[values < 0] ** 2))
    return out


def ri_pretrend(panel: Panel, placebo: tuple, ref_period: int) -> tuple[float, int]:
    """RI p-value of the joint pre-trend statistic (sum of squared leads), same placebos.

    Returns the p-value and the number of placebo draws dropped as not identified.
    """
    g_rows, exact, scheme = placebo
    resid = residualizer(panel)
    yt = resid(panel.df["y"].to_numpy())
    t = panel.df["time"].to_numpy()
    designs = [_lead_columns(t, g, ref_period) for g in [panel.df["g"].to_numpy(), *g_rows]]
    stats_all = _lead_statistics(resid, yt, designs)
    observed, stat = stats_all[0], stats_all[1:]
    keep = np.isfinite(stat)
    if not np.isfinite(observed) or not keep.any():
        return float("nan"), int((~keep).sum())
    weights = None if scheme.weights is None else scheme.weights[keep]
    # the statistic is non-negative; large values speak against parallel trends
    p = inf.ri_pvalue(
        np.sqrt(observed), np.sqrt(stat[keep]), exact, weights, scheme.observed_included
    )
    return p, int((~keep).sum())


def ri_refit(
    panel: Panel,
    estimate: float,
    point: Callable[[Panel], float],
    draws: int,
    rng: np.random.Generator,
) -> tuple[InferenceResult, int]:
    """RI by re-estimating each placebo panel; unidentified draws (error, NaN) dropped."""
    g_rows, exact, scheme = placebo_panels(panel, draws, rng)
    t = panel.df["time"].to_numpy()
    placebo = []
    for row in g_rows:
        df = panel.df.assign(g=row, d=((row > 0) & (t >= row)).astype(float))
        try:
            with np.errstate(all="ignore"):
                placebo.append(point(replace(panel, df=df)))
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
            estimate, placebo_arr[keep], exact, None, weights, scheme.observed_included
        )
    _dropped_note(res, scheme, dropped)
    return res, dropped


# --- the inference methods -----------------------------------------------------------------


def ri_projection(fit: Fit, opts: RunOptions) -> InferenceResult:
    """RI for TWFE and the 2x2: one projection of all placebo columns; draws kept for the
    RI pre-trend test."""
    rng = method_rng(opts.seed, "ri")
    fit.cache["placebo"] = placebo_panels(fit.panel, opts.draws, rng)
    res, fit.cache["ri_dropped"] = ri_twfe(
        fit.panel, fit.estimate, opts.draws, rng, opts.alpha, fit.cache["placebo"]
    )
    return res


def ri_by_refit(fit: Fit, opts: RunOptions) -> InferenceResult:
    """RI by re-estimating every placebo panel (Callaway-Sant'Anna, imputation)."""
    assert fit.point is not None
    rng = method_rng(opts.seed, "ri")
    res, fit.cache["ri_dropped"] = ri_refit(fit.panel, fit.estimate, fit.point, opts.draws, rng)
    return res
