"""synthdid's Frank–Wolfe solver (``sc.weight.fw``), compiled: B simplex problems, one at a time.

One job: minimise ``zeta^2 ||x||^2 + ||A x - b||^2 / M`` over the simplex for each of B
problems, by exact line-search Frank–Wolfe steps, stopping as synthdid stops
(:func:`proeftuin.estimators.synth.weights.frank_wolfe` documents the rule).

Why hand-written and compiled: no locked library has synthdid's solver, and synthetic
DiD's unit weights on a short pre-period rarely meet the stopping rule, so a fit runs the
full 10,000 steps; the randomization inference and the placebo variance refit it for
every draw. As numpy array operations over the batch, each step made about sixteen passes
over B x N arrays, and a site's synthetic-control notebook spent some 20 s there. Compiled
with numba (the scientific-Python JIT compiler; ``cache=True`` keeps the machine code
between processes), a step is one pass over A's N columns:

- ``x`` is held as ``c * u``, so a step ``x <- (1 - s) x + s e_i`` changes the scalar ``c``
  and one entry of ``u``;
- ``A x`` (M values) and ``||x||^2`` follow the step in closed form and are recomputed
  exactly every :data:`RESYNC` steps;
- the gradient's inner product with x is ``r'(A x) + eta ||x||^2`` (r = A x - b), not a sum
  over N.

The arithmetic is the same algorithm in another order, so weights agree with the array
version to rounding (about 1e-15) and the steps taken are the same (tests).
"""

from __future__ import annotations

import numpy as np
from numba import njit

RESYNC = 256  # steps between exact recomputations of A x and ||x||^2


@njit(cache=True)
def _resync(a: np.ndarray, x_scale: float, u: np.ndarray, ax: np.ndarray) -> float:
    """Set ``ax`` to A x exactly; return ||x||^2 (x = x_scale * u)."""
    m, n = a.shape
    for k in range(m):
        total = 0.0
        for j in range(n):
            total += a[k, j] * u[j]
        ax[k] = x_scale * total
    xx = 0.0
    for j in range(n):
        xx += u[j] * u[j]
    return x_scale * x_scale * xx


@njit(cache=True)
def _solve_one(
    a: np.ndarray,
    b: np.ndarray,
    zeta2: float,
    eta: float,
    tol: float,
    x: np.ndarray,
    max_iter: int,
) -> int:
    """One problem, in place on ``x``; returns the steps taken."""
    m, n = a.shape
    u = x.copy()
    c = 1.0
    ax = np.empty(m)
    r = np.empty(m)
    g = np.empty(n)
    xx = _resync(a, c, u, ax)
    prev = np.inf
    t = 0
    while t < max_iter:
        t += 1
        rax = 0.0
        for k in range(m):
            r[k] = ax[k] - b[k]
            rax += r[k] * ax[k]
        ec = eta * c
        for j in range(n):
            g[j] = ec * u[j]
        for k in range(m):
            rk = r[k]
            for j in range(n):
                g[j] += a[k, j] * rk
        i = np.argmin(g)
        num = rax + eta * xx - g[i]  # -(gradient' (e_i - x)) / 2
        d_err = 0.0
        for k in range(m):
            d = a[k, i] - ax[k]
            d_err += d * d
        xi = c * u[i]
        den = d_err + eta * (xx - 2.0 * xi + 1.0)
        step = min(max(num / den, 0.0), 1.0) if den > 0.0 else 0.0  # den 0: x is e_i
        keep = 1.0 - step
        if keep > 0.0:
            c *= keep
            u[i] += step / c
        else:
            u[:] = 0.0
            u[i] = 1.0
            c = 1.0
        for k in range(m):
            ax[k] += step * (a[k, i] - ax[k])
        xi_new = keep * xi + step
        xx = keep * keep * (xx - xi * xi) + xi_new * xi_new
        if c < 1e-100 or t % RESYNC == 0:
            u *= c
            c = 1.0
            xx = _resync(a, c, u, ax)
        err = 0.0
        for k in range(m):
            e = ax[k] - b[k]
            err += e * e
        val = zeta2 * xx + err / m
        if t >= 2 and not (prev - val > tol):  # a NaN stops too
            break
        prev = val
    for j in range(n):
        x[j] = c * u[j]
    return t


@njit(cache=True)
def solve(
    a: np.ndarray,
    b: np.ndarray,
    zeta2: np.ndarray,
    eta: np.ndarray,
    tol: np.ndarray,
    x: np.ndarray,
    max_iter: int,
    iters: np.ndarray,
) -> None:
    """Every problem of the batch, in place on ``x`` (B, N) and ``iters`` (B,);
    ``a`` (B, M, N), ``b`` (B, M), C-contiguous."""
    for p in range(a.shape[0]):
        iters[p] = _solve_one(a[p], b[p], zeta2[p], eta[p], tol[p], x[p], max_iter)
