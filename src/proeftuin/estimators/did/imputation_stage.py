"""The imputation estimator's first stage solved exactly: unit and period fixed effects
(and covariates) fitted on the untreated rows, for any set of untreated rows.

Randomization inference re-estimates the imputation estimator once per placebo assignment,
and each assignment changes which rows are untreated. pyfixest fits one formula on one
data frame at a time (999 placebo fits of a 34,000-unit panel: 83 minutes, extrapolated
from 20), and no library solves a fixed-effects regression for many row subsets, so the
normal equations are solved here (the same 999 draws: 13 s): the unit block is diagonal,
so units are eliminated (a Schur complement of the period dummies and covariates, a small
dense system) and recovered after. Per assignment that is a few weighted sums over the
rows: memory linear in rows, no refit. The solution is exact to rounding; pyfixest's
prediction recovers fixed effects iteratively (off by up to 2.5e-5 in the tests' panels).

A rank-deficient system (a covariate collinear with the fixed effects on the untreated
rows, judged with every column in units of its own scale, so a covariate's unit does not
matter) is left to pyfixest, which drops the collinear column (``None`` from
:meth:`FirstStage.fitted`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proeftuin.estimators.did.panel import Panel


def _sums(codes: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Column sums of ``values`` (rows x k) within ``codes``: n x k."""
    out = np.empty((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n)
    return out


@dataclass(frozen=True)
class FirstStage:
    """What the first stage's fits share: unit and period codes per row, weights, outcome
    and covariates."""

    uix: np.ndarray
    tix: np.ndarray
    n_units: int
    n_times: int
    w: np.ndarray
    y: np.ndarray
    x: np.ndarray  # covariates, rows x k

    @classmethod
    def from_panel(cls, panel: Panel) -> FirstStage:
        df = panel.df
        uix = np.unique(df["unit"].to_numpy(), return_inverse=True)[1]
        tix = np.unique(df["time"].to_numpy(), return_inverse=True)[1]
        return cls(
            uix,
            tix,
            int(uix.max()) + 1,
            int(tix.max()) + 1,
            df["w"].to_numpy(dtype=float),
            df["y"].to_numpy(dtype=float),
            df[panel.covariates].to_numpy(dtype=float).reshape(len(df), -1),
        )

    def fitted(self, untreated: np.ndarray) -> np.ndarray | None:
        """The first stage's prediction at every row (NaN for a unit without untreated
        rows), fitted on the rows where ``untreated`` is true; None when its system is
        rank deficient. Every period must have an untreated row (the caller checks)."""
        n_u, n_t, uix, tix, x = self.n_units, self.n_times, self.uix, self.tix, self.x
        w0 = np.where(untreated, self.w, 0.0)
        wy = w0 * self.y
        cell = np.bincount(uix * n_t + tix, weights=w0, minlength=n_u * n_t)
        d_u = cell.reshape(n_u, n_t).sum(axis=1)
        # non-unit columns: period dummies (the first period dropped), then covariates
        f = np.hstack([cell.reshape(n_u, n_t)[:, 1:], _sums(uix, n_u, w0[:, None] * x)])
        b_u = np.bincount(uix, weights=wy, minlength=n_u)
        per_t = np.bincount(tix, weights=w0, minlength=n_t)[1:]
        xt = _sums(tix, n_t, w0[:, None] * x)[1:]
        r = np.block([[np.diag(per_t), xt], [xt.T, x.T @ (w0[:, None] * x)]])
        b_r = np.concatenate([np.bincount(tix, weights=wy, minlength=n_t)[1:], x.T @ wy])
        seen = d_u > 0
        fs, ds = f[seen], d_u[seen]
        # in units of each column's own scale (its raw sum of squares): the rank does not
        # depend on a covariate's unit, and a column the unit effects absorb is near zero
        scale = np.sqrt(np.diag(r))
        scale[scale == 0] = 1.0
        schur = (r - fs.T @ (fs / ds[:, None])) / np.outer(scale, scale)
        if schur.size and np.linalg.matrix_rank(schur) < schur.shape[0]:
            return None
        rhs = (b_r - fs.T @ (b_u[seen] / ds)) / scale
        theta = np.linalg.solve(schur, rhs) / scale if schur.size else np.zeros(0)
        alpha = np.full(n_u, np.nan)
        alpha[seen] = (b_u[seen] - fs @ theta) / ds
        period = np.concatenate([[0.0], theta[: n_t - 1]])
        return alpha[uix] + period[tix] + x @ theta[n_t - 1 :]
