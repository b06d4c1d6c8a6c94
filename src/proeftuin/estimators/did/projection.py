"""Randomization inference for two-way fixed effects by projection, without refits and in
memory linear in units (Frisch-Waugh-Lovell).

With unit and period fixed effects (and covariates) the residual maker is
``M = M_U - M_U Z (Z' W M_U Z)^+ Z' W M_U``: ``M_U`` demeans within each unit (weighted),
``Z`` holds the period dummies and covariates, only ``P = T - 1 + K`` columns. A placebo
treatment gives each unit of a drawn slot (cluster or unit) the slot's start label ``s``,
so its column is a sum over treated units of the unit's post indicator ``1[t >= s]``.
Every quantity RI needs is then a sum over the k treated slots of per-slot tables built
once from one pass over the panel (per slot and start: ``D'WMy``, ``D'W M_U D``,
``Z'W M_U D``), plus a ``P x P`` quadratic form: the placebo coefficient, its
identification check and the cross term with the observed treatment (for the interval).
The RI pre-trend test works the same way on event-time dummies, with per-slot ``T x T``
blocks of ``W M_U`` shifted by the slot's start. The panel is held as a units x periods
grid with weight 0 where a row is missing, so unbalanced and weighted panels are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from proeftuin.estimators.inference.assignments import CHUNK_ELEMENTS, Draws

UNIDENTIFIED_TOL = 1e-8


def _slot_sum(unit_slot: np.ndarray, n_slots: int, values: np.ndarray) -> np.ndarray:
    """Sum per-unit rows of ``values`` into slots (every slot has a unit)."""
    if n_slots == len(unit_slot) and np.array_equal(unit_slot, np.arange(n_slots)):
        return values
    order = np.argsort(unit_slot, kind="stable")
    starts = np.searchsorted(unit_slot[order], np.arange(n_slots))
    return np.add.reduceat(values[order], starts, axis=0)


class Projector:
    """The panel as a units x periods grid, and the exact two-way FE residual maker."""

    def __init__(self, df: pd.DataFrame, unit_index: np.ndarray, covariates: list[str]) -> None:
        self.times, tix = np.unique(df["time"].to_numpy(), return_inverse=True)
        self.uix, self.tix = unit_index, tix
        self.n_units, n_t = int(unit_index.max()) + 1, len(self.times)
        self.w = self.grid(df["w"].to_numpy(dtype=float))
        self.wsum = self.w.sum(axis=1)
        parts = [np.broadcast_to(np.eye(n_t)[1:].T, (self.n_units, n_t, n_t - 1))]
        parts += [self.grid(df[c].to_numpy(dtype=float))[:, :, None] for c in covariates]
        z = np.concatenate(parts, axis=2)
        self.zu = z - np.einsum("it,itp->ip", self.w, z)[:, None, :] / self.wsum[:, None, None]
        flat = self.zu.reshape(-1, self.zu.shape[2])
        h = (flat * self.w.reshape(-1, 1)).T @ flat
        scale = 1.0 / np.sqrt(np.where(np.diag(h) > 0, np.diag(h), 1.0))
        self.hinv = (
            scale[:, None]
            * np.linalg.pinv(scale[:, None] * h * scale[None, :], rcond=1e-12, hermitian=True)
            * scale[None, :]
        )

    def grid(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n_units, len(self.times)))
        out[self.uix, self.tix] = values
        return out

    def resid(self, values: np.ndarray) -> np.ndarray:
        """``M v`` on the grid for a row vector ``v`` (values at missing cells are 0)."""
        v = self.grid(values)
        vu = v - (np.sum(self.w * v, axis=1) / self.wsum)[:, None]
        coef = self.hinv @ np.einsum("it,itp->p", self.w * vu, self.zu)
        return vu - self.zu @ coef

    def quad(self, v: np.ndarray) -> np.ndarray:
        """``v' H^+ v`` per leading index of ``v`` (..., P)."""
        return np.einsum("...p,pq,...q->...", v, self.hinv, v)


def draw_sums(tables: np.ndarray, slots: np.ndarray, start_index: np.ndarray) -> np.ndarray:
    """Per draw, the sum over its slots j of ``tables[slot_j, start_index_j]`` (index -1:
    left out): a sparse draws x slots incidence matrix per start times the slots x m table
    (slots ascending within a draw, so a draw's sum does not depend on the draws around
    it). ``tables`` is slots x S x m; returns draws x m."""
    n, k = slots.shape
    out = np.zeros((n, tables.shape[2]))
    indptr = np.arange(0, n * k + 1, k)
    for s_idx in range(tables.shape[1]):
        hit = (start_index == s_idx).ravel()
        if hit.any():
            inc = sparse.csr_matrix((hit.astype(float), slots.ravel(), indptr), (n, len(tables)))
            if hit.all():
                return np.asarray(inc @ tables[:, s_idx])
            out += inc @ tables[:, s_idx]
    return out


def coefficient_tables(
    proj: Projector,
    unit_slot: np.ndarray,
    n_slots: int,
    starts: np.ndarray,
    y: np.ndarray,
    d: np.ndarray,
) -> np.ndarray:
    """Per slot and start (slots x S x (4 + P)): sum w D, D'W M_U D, D'W M y, D'W M d_obs
    and Z'W M_U D, D the post indicator of the slot's units from that start."""
    yt, dt = proj.resid(y), proj.resid(d)
    per_start = []
    for s in starts:
        wp = proj.w * (proj.times >= s)[None, :]
        raw = wp.sum(axis=1)
        cols = [raw, raw - raw**2 / proj.wsum, np.sum(wp * yt, axis=1), np.sum(wp * dt, axis=1)]
        per_start.append(np.column_stack([*cols, np.einsum("it,itp->ip", wp, proj.zu)]))
    return _slot_sum(unit_slot, n_slots, np.stack(per_start, axis=1))


def placebo_coefficients(
    proj: Projector, tables: np.ndarray, starts: np.ndarray, draws: Draws
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per draw: the placebo coefficient, D_b'W M D_b, sum w D_b and D_b'W M d_obs."""
    n = len(draws)
    out = np.empty((n, 4))
    chunk = max(1, CHUNK_ELEMENTS // tables.shape[2])
    for a in range(0, n, chunk):
        si = np.searchsorted(starts, draws.labels[a : a + chunk])
        sums = draw_sums(tables, draws.slots[a : a + chunk], si)
        out[a : a + chunk] = sums[:, :4]
        out[a : a + chunk, 1] -= proj.quad(sums[:, 4:])
    raw, den, num, cross = out.T
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = num / den
    return beta, den, raw, cross


# --- the RI pre-trend test ---------------------------------------------------------------


@dataclass
class LeadTables:
    """Per slot (flat, slots x 1 x m): W M_U blocks (T x T), Z'W M_U rows (T x P), W M y and
    weight totals (T); and the event-time axis: the column of (start, period), -1 for the
    reference period."""

    starts: np.ndarray
    values: np.ndarray  # event times, ascending, reference excluded
    col: np.ndarray  # S x T
    flat: np.ndarray  # slots x 1 x (T*T + T*P + 2T)
    n_t: int
    n_p: int


def lead_tables(
    proj: Projector,
    unit_slot: np.ndarray,
    n_slots: int,
    starts: np.ndarray,
    y: np.ndarray,
    ref_period: float,
) -> LeadTables:
    w = proj.w
    n, n_t, n_p = w.shape[0], w.shape[1], proj.zu.shape[2]
    block = np.einsum("it,tu->itu", w, np.eye(n_t))
    block -= w[:, :, None] * w[:, None, :] / proj.wsum[:, None, None]
    parts = [block.reshape(n, -1), (w[:, :, None] * proj.zu).reshape(n, -1), w * proj.resid(y), w]
    rel = proj.times[None, :] - starts[:, None]
    values = np.unique(rel[rel != ref_period])
    col = np.where(rel != ref_period, np.searchsorted(values, rel), -1)
    flat = _slot_sum(unit_slot, n_slots, np.concatenate(parts, axis=1))[:, None, :]
    return LeadTables(starts, values, col, flat, n_t, n_p)


def _event_time_system(
    proj: Projector, tab: LeadTables, slots: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per draw: X'W M X and X'W M y over the event-time axis, and which columns exist."""
    n, n_e, n_t, n_p = len(slots), len(tab.values), tab.n_t, tab.n_p
    gram = np.zeros((n, n_e, n_e))
    zx = np.zeros((n, n_e, n_p))
    xy = np.zeros((n, n_e))
    wx = np.zeros((n, n_e))
    si = np.searchsorted(tab.starts, labels)
    for s_idx in range(len(tab.starts)):
        hit = si == s_idx
        if not hit.any():
            continue
        sums = draw_sums(tab.flat, slots, np.where(hit, 0, -1))
        ok = tab.col[s_idx] >= 0
        c = tab.col[s_idx][ok]
        block = sums[:, : n_t * n_t].reshape(n, n_t, n_t)
        if len(c) == n_e:  # the event-time axis is this start's: no scattering needed
            gram += block[:, ok][:, :, ok]
        else:
            gram[:, c[:, None], c[None, :]] += block[:, ok][:, :, ok]
        z = sums[:, n_t * n_t : n_t * (n_t + n_p)].reshape(n, n_t, n_p)
        zx[:, c] += z[:, ok]
        xy[:, c] += sums[:, n_t * (n_t + n_p) : n_t * (n_t + n_p + 1)][:, ok]
        wx[:, c] += sums[:, n_t * (n_t + n_p + 1) :][:, ok]
    gram -= np.matmul(np.matmul(zx, proj.hinv), zx.transpose(0, 2, 1))
    return gram, xy, wx > 0


def _identified(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which Gram matrices pass the eigenvalue check (smallest > 1e-8 x largest), and their
    inverses. Bounds first, tr(G)/E <= max <= tr(G) and 1/tr(G^-1) <= min <= E/tr(G^-1);
    the eigenvalues themselves only where the bounds cannot decide."""
    n_e = gram.shape[1]
    try:
        inv = np.linalg.inv(gram)
    except np.linalg.LinAlgError:
        inv = np.full_like(gram, np.nan)
    tr, tr_inv = np.trace(gram, axis1=1, axis2=2), np.trace(inv, axis1=1, axis2=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sure = np.isfinite(tr_inv) & (tr_inv > 0) & (1.0 / tr_inv > UNIDENTIFIED_TOL * tr)
        never = np.isfinite(tr_inv) & (tr_inv > 0) & (n_e / tr_inv <= UNIDENTIFIED_TOL * tr / n_e)
    ok = sure.copy()
    unsure = np.flatnonzero(~sure & ~never)
    if len(unsure):
        eig = np.linalg.eigvalsh(gram[unsure])
        ok[unsure] = eig[:, 0] > UNIDENTIFIED_TOL * np.maximum(eig[:, -1], 1e-300)
        good = unsure[ok[unsure]]
        if len(good):
            inv[good] = np.linalg.inv(gram[good])
    return ok, inv


def lead_statistics(proj: Projector, tab: LeadTables, draws: Draws) -> np.ndarray:
    """Sum of squared lead coefficients of the event study, one per draw.

    NaN where the draw's design has no lead or its dummies are collinear with the fixed
    effects (smallest eigenvalue at most 1e-8 of the largest).
    """
    n = len(draws)
    out = np.full(n, np.nan)
    chunk = max(1, CHUNK_ELEMENTS // tab.flat.shape[2])
    for a in range(0, n, chunk):
        gram, xy, present = _event_time_system(
            proj, tab, draws.slots[a : a + chunk], draws.labels[a : a + chunk]
        )
        if (present == present[:1]).all():
            patterns, which = present[:1], np.zeros(len(present), dtype=np.int64)
        else:
            patterns, which = np.unique(present, axis=0, return_inverse=True)
        for p_idx, pattern in enumerate(patterns):
            lead = tab.values[pattern] < 0
            if not lead.any():
                continue
            rows = np.flatnonzero(which.ravel() == p_idx)
            ok, inv = _identified(gram[np.ix_(rows, pattern, pattern)])
            if not ok.any():
                continue
            beta = np.matmul(inv[ok], xy[rows[ok]][:, pattern, None])[:, :, 0]
            out[a + rows[ok]] = np.sum(beta[:, lead] ** 2, axis=1)
    return out
