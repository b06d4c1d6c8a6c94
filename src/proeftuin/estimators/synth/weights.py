"""Unit and time weights of synthetic DiD and synthetic control: synthdid's Frank–Wolfe solver.

One job: given control outcomes, the treated units' mean path and a pre-period length,
return the unit weights omega, the time weights lambda and the estimate, exactly as the R
package ``synthdid`` (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021) computes them:
``sc.weight.fw`` (Frank–Wolfe with exact line search on the simplex, ridge penalty
``zeta^2 ||w||^2``, optional intercept by centring), run ``max.iter.pre.sparsify`` = 100
steps, then sparsified (weights at most a quarter of the largest set to zero, renormalised)
and run again up to ``max.iter`` = 10,000 steps; a run stops once an iteration lowers the
penalised objective by less than ``min.decrease^2`` (``min.decrease`` = 1e-5 x noise level).

Why hand-written: none of the locked libraries has these weights, and the reference
implementation is R. Python ports exist on PyPI (``synthdid``, ``synthdid-py``,
``pysyncon`` for classic SC); they are compared in ``benchmarks/`` rather than made a
runtime dependency. The solver takes a *batch*: B problems of the same shape (the
observed fit, or every placebo or randomization draw), each stopping by its own rule; its
steps run compiled (:mod:`proeftuin.estimators.synth.solver`, where the reason is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ITER = 10_000
MAX_ITER_PRE_SPARSIFY = 100
MIN_DECREASE_FACTOR = 1e-5  # min.decrease = 1e-5 * noise level
ETA_LAMBDA = 1e-6  # the 'infinitesimal' ridge of the time weights
ETA_OMEGA_SC = 1e-6  # sc_estimate's ridge of the unit weights


@dataclass(frozen=True)
class WeightOptions:
    """How one estimator builds its weights (synthdid's ``synthdid_estimate`` arguments).

    ``eta_omega`` None means synthdid's default (N_tr x T_post)^(1/4). ``fixed_lambda`` /
    ``fixed_omega`` (``"zero"`` or ``"uniform"``) switch a weight off: it is then used as
    given, never solved for (``sc_estimate`` has lambda = 0, ``did_estimate`` uniform both).
    """

    eta_omega: float | None = None
    eta_lambda: float = ETA_LAMBDA
    omega_intercept: bool = True
    lambda_intercept: bool = True
    fixed_omega: str | None = None
    fixed_lambda: str | None = None
    sparsify: bool = True
    max_iter: int = MAX_ITER
    max_iter_pre_sparsify: int = MAX_ITER_PRE_SPARSIFY


OPTIONS = {
    "sdid": WeightOptions(),
    "sc": WeightOptions(eta_omega=ETA_OMEGA_SC, omega_intercept=False, fixed_lambda="zero"),
    "did": WeightOptions(fixed_omega="uniform", fixed_lambda="uniform"),
}


def noise_level(y_control_pre: np.ndarray) -> np.ndarray:
    """synthdid's sigma-hat: sd (n-1) of all first differences of the control units'
    pre-period outcomes, one per problem. ``y_control_pre``: (B, N0, T0)."""
    diffs = np.diff(y_control_pre, axis=2).reshape(len(y_control_pre), -1)
    if diffs.shape[1] < 2:
        return np.zeros(len(y_control_pre))
    return np.std(diffs, axis=1, ddof=1)


def sparsify(x: np.ndarray) -> np.ndarray:
    """synthdid's ``sparsify_function``: zero weights <= max/4, renormalise (rows of x)."""
    out = np.where(x <= x.max(axis=1, keepdims=True) / 4, 0.0, x)
    return out / out.sum(axis=1, keepdims=True)


def frank_wolfe(
    y: np.ndarray,
    zeta: np.ndarray,
    intercept: bool,
    x0: np.ndarray,
    min_decrease: np.ndarray,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """synthdid's ``sc.weight.fw`` for B problems at once.

    Minimises ``zeta^2 ||x||^2 + ||A x - b||^2 / M`` over the simplex, A = y[:, :, :-1],
    b = y[:, :, -1] (columns centred over the M rows first when ``intercept``), by exact
    line-search Frank–Wolfe steps from ``x0``; problem b stops after the first iteration
    t >= 2 whose decrease of the objective is at most ``min_decrease[b]^2``, or after
    ``max_iter``. Returns the weights (B, N) and the iterations each problem ran.

    The steps run compiled, one problem at a time (:mod:`proeftuin.estimators.synth.solver`).
    """
    from proeftuin.estimators.synth import (
        solver as synth_solver,  # numba, imported on the first fit
    )

    y = np.asarray(y, dtype=float)
    if intercept:
        y = y - y.mean(axis=1, keepdims=True)
    zeta2 = np.asarray(zeta, dtype=float) ** 2 * np.ones(len(y))
    tol = np.asarray(min_decrease, dtype=float) ** 2 * np.ones(len(y))
    x = np.array(x0, dtype=float, copy=True)
    iters = np.zeros(len(y), dtype=np.int64)
    if max_iter > 0:
        a, b = np.ascontiguousarray(y[:, :, :-1]), np.ascontiguousarray(y[:, :, -1])
        synth_solver.solve(a, b, zeta2, y.shape[1] * zeta2, tol, x, int(max_iter), iters)
    return x, iters


def _solve(
    y: np.ndarray,
    zeta: np.ndarray,
    intercept: bool,
    x0: np.ndarray,
    min_decrease: np.ndarray,
    opts: WeightOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """A first round of at most ``max_iter_pre_sparsify`` steps, then sparsify and rerun."""
    first = opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter
    x, n1 = frank_wolfe(y, zeta, intercept, x0, min_decrease, first)
    if not opts.sparsify:
        return x, n1
    x, n2 = frank_wolfe(y, zeta, intercept, sparsify(x), min_decrease, opts.max_iter)
    return x, n1 + n2


@dataclass
class BatchFit:
    """Weights and estimates of B problems of one shape (index 0 is usually the observed)."""

    tau: np.ndarray  # (B,)
    omega: np.ndarray  # (B, N0)
    lam: np.ndarray  # (B, T0)
    noise: np.ndarray  # (B,)
    zeta_omega: np.ndarray  # (B,)
    zeta_lambda: np.ndarray  # (B,)
    min_decrease: np.ndarray  # (B,)
    iterations: dict[str, np.ndarray]


def _fixed(kind: str, batch: int, n: int) -> np.ndarray:
    return np.full((batch, n), 0.0 if kind == "zero" else 1.0 / n)


def estimate_batch(
    y_control: np.ndarray,
    y_treated: np.ndarray,
    t0: int,
    n_treated: int,
    opts: WeightOptions,
    *,
    zeta_omega: np.ndarray | None = None,
    zeta_lambda: np.ndarray | None = None,
    min_decrease: np.ndarray | None = None,
    omega_init: np.ndarray | None = None,
    lambda_init: np.ndarray | None = None,
) -> BatchFit:
    """synthdid's ``synthdid_estimate`` (no covariates) for B panels of one shape.

    ``y_control`` (B, N0, T): control outcomes; ``y_treated`` (B, T): the treated units'
    mean path (synthdid averages treated rows uniformly; an aggregated site passes its
    weighted mean); the first ``t0`` periods are the pre-period. ``n_treated`` enters only
    the default ridge (N_tr T_post)^(1/4) sigma-hat. Penalties and the stopping tolerance
    default to their values from each panel's own noise level; placebo refits pass the
    observed fit's values, as synthdid's ``vcov`` does through ``opts``.
    """
    y_control = np.asarray(y_control, dtype=float)
    y_treated = np.asarray(y_treated, dtype=float)
    batch, n0, n_periods = y_control.shape
    t1 = n_periods - t0
    noise = noise_level(y_control[:, :, :t0])
    eta_omega = opts.eta_omega if opts.eta_omega is not None else (n_treated * t1) ** 0.25
    zo = eta_omega * noise if zeta_omega is None else np.broadcast_to(zeta_omega, (batch,))
    zl = opts.eta_lambda * noise if zeta_lambda is None else np.broadcast_to(zeta_lambda, (batch,))
    md = MIN_DECREASE_FACTOR * noise if min_decrease is None else min_decrease
    md = np.broadcast_to(md, (batch,))
    # synthdid's collapsed form: controls x (pre-periods, post mean), and the treated mean
    # row; lambda is fitted on the control rows, omega on the pre-period columns
    post_c = y_control[:, :, t0:].mean(axis=2)
    iterations: dict[str, np.ndarray] = {}
    if opts.fixed_lambda:
        lam = _fixed(opts.fixed_lambda, batch, t0)
    else:
        yl = np.concatenate([y_control[:, :, :t0], post_c[:, :, None]], axis=2)  # (B, N0, T0+1)
        x0 = _fixed("uniform", batch, t0) if lambda_init is None else lambda_init
        lam, iterations["lambda"] = _solve(yl, zl, opts.lambda_intercept, x0, md, opts)
    if opts.fixed_omega:
        omega = _fixed(opts.fixed_omega, batch, n0)
    else:
        yo = np.concatenate(
            [np.swapaxes(y_control[:, :, :t0], 1, 2), y_treated[:, :t0, None]], axis=2
        )  # (B, T0, N0+1): pre-periods x (controls, treated mean)
        x0 = _fixed("uniform", batch, n0) if omega_init is None else omega_init
        omega, iterations["omega"] = _solve(yo, zo, opts.omega_intercept, x0, md, opts)
    tau = treatment_effect(y_control, y_treated, t0, omega, lam)
    return BatchFit(tau, omega, lam, noise, np.asarray(zo), np.asarray(zl), md, iterations)


def treatment_effect(
    y_control: np.ndarray, y_treated: np.ndarray, t0: int, omega: np.ndarray, lam: np.ndarray
) -> np.ndarray:
    """(-omega, 1/N1)' Y (-lambda, 1/T1): the weighted double difference, per problem."""
    gap = y_treated - np.einsum("bn,bnt->bt", omega, y_control)  # treated minus synthetic
    return gap[:, t0:].mean(axis=1) - np.einsum("bt,bt->b", gap[:, :t0], lam)
