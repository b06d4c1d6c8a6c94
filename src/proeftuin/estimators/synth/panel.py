"""The panel behind synthetic control and synthetic DiD, and point estimates for many
treatment assignments at once.

One job: turn a long unit x period frame with a 0/1 treatment indicator into a validated
balanced wide panel (:class:`SynthPanel`), and compute the estimate for a batch of
assignments of adoption dates to units (:func:`fit_cohorts`): the observed one, placebo
replications, randomization draws. Staggered adoption is fitted cohort by cohort (never
treated units as controls, all periods) and averaged with weights treated units x
post-periods. Pure: no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from proeftuin.estimators.checks import (
    DesignError,
    InsufficientPrePeriod,
    require_columns,
    require_numeric,
    require_unique_rows,
    require_varying,
)
from proeftuin.estimators.synth.weights import OPTIONS, BatchFit, estimate_batch


@dataclass
class SynthPanel:
    """A validated balanced panel in wide form.

    ``labels`` per unit: 0 = never treated, else 1 + the index of its first treated
    period (so a cohort's pre-period has ``label - 1`` periods). ``weights`` are the
    units' aggregation weights (ones unless given); ``groups`` placebo-area codes (-1 none).
    """

    y: np.ndarray  # (N, T)
    units: np.ndarray
    times: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    groups: np.ndarray | None = None
    names: dict[str, str | None] = field(default_factory=dict)

    @property
    def cohorts(self) -> np.ndarray:
        return np.unique(self.labels[self.labels > 0])


def _adoption(d: pd.DataFrame, treated: str) -> pd.Series:
    """First treated period index per unit (-1 never); absorbing treatment only."""
    values = d.to_numpy()
    bad = ~np.isin(values, [0.0, 1.0])
    if bad.any():
        raise DesignError(f"treatment column '{treated}' must be 0/1 (found {values[bad][0]:g})")
    first = np.where(values.any(axis=1), values.argmax(axis=1), -1)
    expected = (np.arange(values.shape[1])[None, :] >= first[:, None]) & (first[:, None] >= 0)
    wrong = ((values == 1) != expected).any(axis=1)
    if wrong.any():
        unit = d.index[np.flatnonzero(wrong)[0]]
        raise DesignError(
            f"treatment column '{treated}' switches off again (unit {unit!r}); only absorbing "
            "treatment is supported"
        )
    return pd.Series(first, index=d.index)


def _missing_cell(wide: pd.DataFrame) -> str:
    row, col = np.argwhere(wide.isna().to_numpy())[0]
    return f"unit {wide.index[row]!r}, period {wide.columns[col]:g}"


def prepare_synth_panel(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str,
    weights: str | None = None,
    placebo_group: str | None = None,
) -> SynthPanel:
    """Check the input and return it in wide form (see :class:`SynthPanel`)."""
    require_columns(data, [unit, time, outcome, treated, weights, placebo_group])
    require_unique_rows(data, [unit, time])
    df = pd.DataFrame(
        {
            "unit": data[unit].to_numpy(),
            "time": require_numeric(data, time, "time").to_numpy(),
            "y": require_numeric(data, outcome, "outcome").to_numpy(),
            "d": require_numeric(data, treated, "treatment").to_numpy(),
        }
    )
    if df["unit"].isna().any() or df["time"].isna().any():
        raise DesignError(f"unit column '{unit}' or time column '{time}' has missing values")
    require_varying(df["y"], outcome)
    wide = df.pivot(index="unit", columns="time", values="y").sort_index(axis=1)
    if wide.isna().any().any():
        present = df.groupby("unit")["time"].nunique()
        short = present[present < wide.shape[1]]
        if len(short):
            raise DesignError(
                f"unbalanced panel: {len(short)} of {len(wide)} units lack some of the "
                f"{wide.shape[1]} periods (first: unit {short.index[0]!r} has {short.iloc[0]})"
            )
        raise DesignError(f"outcome '{outcome}' is missing for {_missing_cell(wide)}")
    d = df.pivot(index="unit", columns="time", values="d").reindex_like(wide)
    if d.isna().any().any():
        raise DesignError(f"treatment '{treated}' is missing for {_missing_cell(d)}")
    first = _adoption(d, treated)
    if not (first >= 0).any():
        raise DesignError(f"no treated units: column '{treated}' is 0 in every row")
    if (first == 0).any():
        raise InsufficientPrePeriod(
            f"no pre-period: {int((first == 0).sum())} treated unit(s) are treated from the "
            f"first period ({wide.columns[0]:g}), e.g. {first.index[first == 0][0]!r}"
        )
    if not (first < 0).any():
        raise DesignError("no control units: every unit is treated at some point")
    w = np.ones(len(wide))
    if weights:
        wcol = require_numeric(data, weights, "weights").groupby(df["unit"].to_numpy()).mean()
        w = wcol.reindex(wide.index).to_numpy()
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DesignError(f"weights column '{weights}' must be finite and non-negative")
    groups = None
    if placebo_group:
        codes = pd.Series(pd.factorize(data[placebo_group])[0], index=data.index)
        per_unit = codes.groupby(df["unit"].to_numpy()).agg(["min", "max"])
        if (per_unit["min"] != per_unit["max"]).any():
            raise DesignError(f"placebo group column '{placebo_group}' varies within a unit")
        groups = per_unit["min"].reindex(wide.index).to_numpy()
    names = {"unit": unit, "time": time, "outcome": outcome, "treated": treated}
    return SynthPanel(
        wide.to_numpy(dtype=float),
        wide.index.to_numpy(),
        wide.columns.to_numpy(dtype=float),
        np.where(first.to_numpy() >= 0, first.to_numpy() + 1, 0),
        w,
        groups,
        names | {"weights": weights, "placebo_group": placebo_group},
    )


def aggregate_treated(panel: SynthPanel) -> SynthPanel:
    """Each cohort's treated units replaced by one unit, their weighted mean path."""
    keep = panel.labels == 0
    rows, units, labels = [panel.y[keep]], list(panel.units[keep]), [panel.labels[keep]]
    for c in panel.cohorts:
        members = panel.labels == c
        w = panel.weights[members]
        if w.sum() <= 0:
            raise DesignError("aggregation weights are zero for every treated unit of a cohort")
        rows.append((w @ panel.y[members] / w.sum())[None, :])
        units.append(f"treated (aggregate of {int(members.sum())}, start {panel.times[c - 1]:g})")
        labels.append(np.array([c]))
    return SynthPanel(
        np.vstack(rows),
        np.array(units, dtype=object),
        panel.times,
        np.concatenate(labels),
        np.ones(len(units)),
        None,
        panel.names,
    )


# --- point estimates for a batch of assignments ---------------------------------------------


@dataclass
class CohortFit:
    """One cohort's batched fit: which rows were controls and treated, and the weights."""

    label: int
    t0: int
    control_idx: np.ndarray  # (B, N0) row indices into the panel
    treated_idx: np.ndarray  # (B, N1)
    fit: BatchFit
    n_periods: int
    size: float  # treated units x post-periods: the cohort's weight in the average


def cohort_sizes(panel: SynthPanel) -> dict[int, float]:
    """Treated units x post-periods per cohort label, counted on the unaggregated panel, so
    that an aggregated site's cohorts keep the weights of the units they stand for."""
    n_periods = len(panel.times)
    return {int(c): float((panel.labels == c).sum() * (n_periods - c + 1)) for c in panel.cohorts}


def _rows_with(assign: np.ndarray, value: int, count: int) -> np.ndarray:
    """Per draw, the (ordered) positions whose label equals ``value``; all draws have ``count``."""
    return np.argsort(assign != value, axis=1, kind="stable")[:, :count]


def fit_cohorts(
    y: np.ndarray,
    assign: np.ndarray,
    method: str,
    *,
    unit_weights: np.ndarray | None = None,
    aggregate: bool = False,
    overrides: dict[int, dict] | None = None,
    sizes: dict[int, float] | None = None,
) -> tuple[np.ndarray, list[CohortFit]]:
    """The estimate for each row of ``assign`` (B x N labels, same label counts per row).

    ``unit_weights`` weight the treated units' mean path when ``aggregate`` (then each
    cohort counts as one treated unit in the ridge). ``overrides[label]`` passes fixed
    penalties and initial weights to a cohort's fit (placebo refits). ``sizes[label]``
    fixes a cohort's weight in the average (default: its treated units x post-periods).
    """
    opts = OPTIONS[method]
    first = assign[0]
    n_controls = int((first == 0).sum())
    control_idx = _rows_with(assign, 0, n_controls)
    y_control = y[control_idx]  # (B, N0, T)
    fits: list[CohortFit] = []
    for label in np.unique(first[first > 0]):
        n1 = int((first == label).sum())
        treated_idx = _rows_with(assign, label, n1)
        y_tr = y[treated_idx]  # (B, N1, T)
        if aggregate and unit_weights is not None:
            w = unit_weights[treated_idx]
            mean = np.einsum("bk,bkt->bt", w, y_tr) / w.sum(axis=1, keepdims=True)
        else:
            mean = y_tr.mean(axis=1)
        t0 = int(label) - 1
        extra = (overrides or {}).get(int(label), {})
        fit = estimate_batch(
            y_control, mean, t0, 1 if aggregate else n1, opts, **_initial(extra, control_idx)
        )
        size = (sizes or {}).get(int(label), float(n1 * (y.shape[1] - t0)))
        fits.append(CohortFit(int(label), t0, control_idx, treated_idx, fit, y.shape[1], size))
    sizes = np.array([f.size for f in fits], dtype=float)
    tau = sum(f.fit.tau * s for f, s in zip(fits, sizes, strict=True)) / sizes.sum()
    return np.asarray(tau), fits


def _initial(extra: dict, control_idx: np.ndarray) -> dict:
    """Penalties as given; initial time weights repeated per draw; initial unit weights from
    a per-unit vector, renormalised per draw (synthdid's ``sum_normalize``: uniform when
    they sum to zero)."""
    out = {k: v for k, v in extra.items() if k != "omega_by_unit"}
    if "lambda_init" in extra:
        lam = np.asarray(extra["lambda_init"], dtype=float)
        out["lambda_init"] = np.broadcast_to(lam, (len(control_idx), lam.shape[-1]))
    if "omega_by_unit" in extra:
        om = extra["omega_by_unit"][control_idx]
        total = om.sum(axis=1, keepdims=True)
        uniform = np.full_like(om, 1.0 / om.shape[1])
        out["omega_init"] = np.where(total > 0, om / np.where(total > 0, total, 1.0), uniform)
    return out


def check_design(panel: SynthPanel, method: str) -> None:
    """Enough pre-periods for every cohort: two for the noise level of sdid and sc."""
    need = 1 if method == "did" else 2
    short = [c for c in panel.cohorts if c - 1 < need]
    if short:
        raise InsufficientPrePeriod(
            f"too short a pre-period: the cohort starting {panel.times[short[0] - 1]:g} has "
            f"{short[0] - 1} pre-period(s); {method} needs at least {need}"
        )
