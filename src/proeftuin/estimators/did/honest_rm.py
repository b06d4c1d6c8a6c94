"""Relative-magnitudes restriction of HonestDiD (Rambachan & Roth 2023, REStud 90(5)):
the conditional-least-favourable hybrid (C-LF) robust interval of Andrews, Roth & Pakes
under Delta^RM(Mbar), a line-by-line port of R HonestDiD's
``computeConditionalCS_DeltaRM`` (asheshrambachan/HonestDiD 0.2.8, R/deltarm.R and
R/arp-nuisance.R), including R's random-number stream (set.seed(0), Mersenne-Twister,
inversion normals, ``mvtnorm::rmvnorm``'s eigen square root) for the least-favourable
critical value, so that its grid decisions coincide with R's. :mod:`honest` holds the
public functions (tables, smoothness intervals, breakdown values), :mod:`honest_lp` the
test's linear program.

Translated from R HonestDiD, Copyright (c) 2023 HonestDiD authors, MIT License:
Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software
without restriction, including without limitation the rights to use, copy, modify, merge,
publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
to whom the Software is furnished to do so, subject to the following conditions: The above
copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS
FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT
HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.special import ndtri
from scipy.stats import norm

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.honest_lp import _EtaLP

# --------------------------------------------------------------------------------------
# R's random-number stream (needed only for the least-favourable critical value)
# --------------------------------------------------------------------------------------

_U32 = 2.3283064365386963e-10  # 2^-32, R's MT_genrand scaling
ROUND_EPS = float(np.finfo(float).eps ** 0.75)  # R's roundeps
_BIG = 134217728.0  # 2^27, R's INVERSION normal generator


def _r_mersenne_twister(seed: int) -> np.random.MT19937:
    """numpy MT19937 in the state R's ``set.seed(seed)`` leaves (kind Mersenne-Twister)."""
    s = seed & 0xFFFFFFFF
    for _ in range(50):  # R's initial scrambling
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = []
    for _ in range(625):  # dummy[0] (mti, reset to 624) + the 624-word state
        s = (69069 * s + 1) & 0xFFFFFFFF
        words.append(s)
    bg = np.random.MT19937(0)
    bg.state = {
        "bit_generator": "MT19937",
        "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624},
    }
    return bg


def _r_rnorm(bg: np.random.MT19937, n: int) -> np.ndarray:
    """R's ``rnorm(n)`` with normal.kind = "Inversion" (two uniforms per draw)."""
    u = bg.random_raw(2 * n).astype(np.float64) * _U32
    u = np.where(u <= 0.0, 0.5 * _U32, u)  # R's fixup() (never hit in practice)
    return ndtri((np.floor(_BIG * u[0::2]) + u[1::2]) / _BIG)


def _r_rmvnorm(n: int, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)`` (method "eigen")."""
    w, v = np.linalg.eigh(sigma)
    root = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T  # symmetric root: sign-invariant
    return _r_normals(seed, n, sigma.shape[0]) @ root


@functools.lru_cache(maxsize=16)
def _r_normals(seed: int, n: int, dim: int) -> np.ndarray:
    """``set.seed(seed); matrix(rnorm(n * dim), n)`` by rows, as rmvnorm draws them (kept:
    every restriction of one event study draws the same)."""
    z = _r_rnorm(_r_mersenne_twister(seed), n * dim).reshape(n, dim)
    z.flags.writeable = False
    return z


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------


def _trunc_norm_quantile(p: float, lo: float, hi: float) -> float:
    """p-quantile of N(0,1) truncated to [lo, hi] (TruncatedNormal::norminvp)."""
    if lo > 0:  # right tail: upper-tail probabilities keep precision
        pa, pb = norm.sf(lo), norm.sf(hi)
        return float(norm.isf(pa - p * (pa - pb)))
    fa, fb = norm.cdf(lo), norm.cdf(hi)
    return float(norm.ppf(fa + p * (fb - fa)))


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """Invertible matrix with l' as first row, then unit vectors (R's RREF pivot trick)."""
    T = len(l_vec)
    cols = [l_vec]
    for j in range(T):
        e = np.zeros(T)
        e[j] = 1.0
        if np.linalg.matrix_rank(np.column_stack(cols + [e])) == len(cols) + 1:
            cols.append(e)
        if len(cols) == T:
            break
    return np.vstack(cols)


def _create_A_RM(
    num_pre: int, num_post: int, mbar: float, s: int, max_positive: bool
) -> np.ndarray:
    """R's .create_A_RM: Delta^RM_{s,+/-}(Mbar) = {delta : A delta <= 0} (t = 0 dropped)."""
    n = num_pre + num_post
    At = np.zeros((n, n + 1))
    for r in range(n):
        At[r, r : r + 2] = (-1.0, 1.0)
    v = np.zeros(n + 1)
    v[num_pre + s - 1 : num_pre + s + 1] = (-1.0, 1.0)
    if not max_positive:
        v = -v
    A_ub = np.vstack([np.tile(v, (num_pre, 1)), np.tile(mbar * v, (num_post, 1))])
    A = np.vstack([At - A_ub, -At - A_ub])
    A = A[(A * A).sum(axis=1) > 1e-10]
    return np.delete(A, num_pre, axis=1)


# --------------------------------------------------------------------------------------
# the ARP test with nuisance parameters (R/arp-nuisance.R)
# --------------------------------------------------------------------------------------


def _max_program(s_T, gamma, sigma, W_T, c, vertices=None):
    """R's .max_program: max f'x s.t. W_T' x = e1, x >= 0 (over the feasible set's
    ``vertices`` where they are known: the eta LP's dual feasible set)."""
    f = s_T + (sigma @ gamma) * (c / float(gamma @ sigma @ gamma))
    if vertices is not None:
        values = vertices @ f
        best = int(np.argmax(values))
        return float(values[best]), vertices[best]
    beq = np.zeros(W_T.shape[1])
    beq[0] = 1.0
    res = linprog(-f, A_eq=W_T.T, b_eq=beq, bounds=[(0, None)] * len(f), method="highs-ds")
    if res.status != 0:
        return np.nan, None
    return float(-res.fun), res.x


def _vlo_vup_dual(eta, s_T, gamma, sigma, W_T, vertices=None):
    """R's .vlo_vup_dual_fn (bisection of ARP 2021, appendix D, algorithm 1)."""
    tol_c = tol_eq = 1e-6
    sigma_B = float(np.sqrt(gamma @ sigma @ gamma))
    low0, high0 = min(-100.0, eta - 20 * sigma_B), max(100.0, eta + 20 * sigma_B)
    maxiters, switchiters = 10000, 10
    b = (sigma @ gamma) / float(gamma @ sigma @ gamma)

    def check(c):
        val, x = _max_program(s_T, gamma, sigma, W_T, c, vertices)
        return (not np.isnan(val)) and abs(c - val) <= tol_eq, x

    def roundeps(v, eps=ROUND_EPS):
        return 0.0 if abs(v) < eps else v

    ok, _ = check(eta)
    if not ok:
        return eta, np.inf

    def one_side(start, upper):
        ok, x = check(start)
        if ok:
            return np.inf if upper else -np.inf
        dif, iters = 0.0, 1
        mid = roundeps(float(x @ s_T)) / (1.0 - float(x @ b))
        while True:
            ok, x2 = check(mid)
            if ok or iters >= maxiters:
                break
            iters += 1
            if iters >= switchiters:
                dif = tol_c + 1
                break
            x = x2
            mid = roundeps(float(x @ s_T)) / (1.0 - float(x @ b))
        if upper:
            lo, hi = eta, mid
        else:
            lo, hi = mid, eta
        while dif > tol_c and iters < maxiters:
            iters += 1
            mid = (lo + hi) / 2
            ok, _ = check(mid)
            if upper:
                lo, hi = (mid, hi) if ok else (lo, mid)
            else:
                lo, hi = (lo, mid) if ok else (mid, hi)
            dif = hi - lo
        return mid

    vup = one_side(high0, True)
    vlo = one_side(low0, False)
    return vlo, vup


def _lf_critical_value(X, sigma, kappa, sims=1000, seed=0, lp: _EtaLP | None = None):
    """R's .compute_least_favorable_cv (nuisance case), same random draws as R; the eta of
    each draw from the dual vertices (:func:`_dual_vertices`), else one LP per draw."""
    lp = lp or _EtaLP(X, np.sqrt(np.diag(sigma)))
    xi = _r_rmvnorm(sims, sigma, seed)
    if lp.vertices is not None:
        etas = (xi @ lp.vertices.T).max(axis=1)
    else:
        etas = np.array([lp.solve(draw, warm=True)[0] for draw in xi])
    return float(np.nanquantile(etas, 1 - kappa))  # R quantile type 7 == numpy "linear"


def _arp_lf_test(y, X, sigma, alpha, kappa, lf_cv, lp: _EtaLP | None = None) -> bool:
    """R's .lp_conditional_test_fn with hybrid_flag = "LF": True when H0 is rejected."""
    M, k = X.shape
    sd = np.sqrt(np.diag(sigma))
    lp = lp or _EtaLP(X, sd)
    eta, lam, ok = lp.solve(y)
    if not ok:
        warnings.warn("LP for eta did not converge; not rejecting", RuntimeWarning, stacklevel=2)
        return False
    if eta > lf_cv:
        return True
    mod_size = (alpha - kappa) / (1 - kappa)
    B = lam > 1e-6
    degenerate = B.sum() != k + 1
    X_B = X[B]
    full_rank = min(X_B.shape) > 0 and np.linalg.matrix_rank(X_B) == min(X_B.shape)
    if degenerate or not full_rank:  # dual approach
        W_T = np.column_stack([sd, X])
        g = lam
        gsg = float(g @ sigma @ g)
        s_T = y - (sigma @ g) * (float(g @ y) / gsg)
        if abs(gsg) < np.finfo(float).eps:
            return eta > 0
        vlo, vup = _vlo_vup_dual(eta, s_T, g, sigma, W_T, lp.vertices)
        sB = np.sqrt(gsg)
        maxstat, zlo, zup = eta / sB, vlo / sB, min(vup, lf_cv) / sB
    else:  # primal approach
        Bc = ~B
        SB = np.eye(M)[B]
        SBc = np.eye(M)[Bc]
        WB_inv = np.linalg.inv(np.column_stack([sd[B], X_B]))
        Gamma_B = np.column_stack([sd[Bc], X[Bc]]) @ WB_inv @ SB - SBc
        v_B = (WB_inv @ SB)[0]
        s2 = float(v_B @ sigma @ v_B)
        sB = np.sqrt(s2)
        rho = Gamma_B @ sigma @ v_B / s2
        mm = (-Gamma_B @ y) / rho + float(v_B @ y)
        vlo = mm[rho > 0].max() if (rho > 0).any() else -np.inf
        vup = mm[rho < 0].min() if (rho < 0).any() else np.inf
        maxstat, zlo, zup = eta / sB, vlo / sB, min(vup, lf_cv) / sB
    if not (zlo <= maxstat <= zup):
        return False
    cval = max(0.0, _trunc_norm_quantile(1 - mod_size, zlo, zup))
    return maxstat > cval


def _check(betahat, sigma, num_pre, num_post, l_vec):
    b = np.asarray(betahat, dtype=float).ravel()
    S = np.asarray(sigma, dtype=float)
    if b.size != num_pre + num_post or S.shape != (b.size, b.size):
        raise DesignError("betahat/sigma do not conform to num_pre + num_post")
    if not np.allclose(S, S.T, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise DesignError("sigma is not symmetric")
    lv = np.zeros(num_post) if l_vec is None else np.asarray(l_vec, dtype=float).ravel()
    if l_vec is None:
        lv[0] = 1.0
    if lv.size != num_post:
        raise DesignError("l_vec must have num_post entries")
    return b, S, lv


@dataclass
class _RMSetup:
    A: np.ndarray
    X: np.ndarray
    a1: np.ndarray
    Y: np.ndarray
    SY: np.ndarray
    lf_cv: float
    lp: _EtaLP


def _rm_setups(b, S, num_pre, num_post, lv, mbar, kappa, sims, seed):
    post = slice(num_pre, num_pre + num_post)
    Ginv = np.linalg.inv(_construct_gamma(lv))
    out = []
    for s in range(-(num_pre - 1), 1):
        for pos in (True, False):
            A = _create_A_RM(num_pre, num_post, mbar, s, pos)
            rows = np.flatnonzero((A[:, post] != 0).any(axis=1))  # postPeriodMomentsOnly
            AG = A[:, post] @ Ginv
            Y = A @ b
            SY = A @ S @ A.T
            X, a1 = AG[rows, 1:], AG[rows, 0]
            Yr, SYr = Y[rows], SY[np.ix_(rows, rows)]
            lp = _EtaLP(X, np.sqrt(np.diag(SYr)))
            lf = _lf_critical_value(X, SYr, kappa, sims, seed, lp)
            out.append(_RMSetup(A, X, a1, Yr, SYr, lf, lp))
    return out


def rm_interval(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    mbar: float,
    l_vec=None,
    alpha: float = 0.05,
    grid_points: int = 1000,
    grid_lb: float | None = None,
    grid_ub: float | None = None,
    exhaustive: bool = False,
    sims: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """C-LF robust CI under Delta^RM(mbar) (R: createSensitivityResults_relativeMagnitudes).

    The test is inverted on R's grid (default 1000 points on +/- 20 sd(theta_hat)
    around 0).  ``exhaustive=True`` tests every grid point, exactly as R does;
    the default first tests every 10th point, then only the points next to the
    accepted region (a union of intervals is found exactly unless an accepted
    stretch is narrower than 10 grid steps and isolated).  Returns (lb, ub); NaN when
    no grid point is accepted.  A bound equal to the grid end means the CI is open there.
    """
    if num_post < 2:
        raise NotImplementedError("Delta^RM with one post period (no nuisance) is not ported")
    if num_pre < 1:
        raise DesignError("Delta^RM needs at least one pre-period coefficient")
    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    kappa = alpha / 10
    sd_theta = float(np.sqrt(lv @ S[num_pre:, num_pre:] @ lv))
    lo = -20 * sd_theta if grid_lb is None else grid_lb
    hi = 20 * sd_theta if grid_ub is None else grid_ub
    grid = np.linspace(lo, hi, grid_points)
    setups = _rm_setups(b, S, num_pre, num_post, lv, mbar, kappa, sims, seed)
    cache: dict[int, bool] = {}

    def accept(i: int) -> bool:
        if i not in cache:
            th = grid[i]
            cache[i] = any(
                not _arp_lf_test(st.Y - st.a1 * th, st.X, st.SY, alpha, kappa, st.lf_cv, st.lp)
                for st in setups
            )
        return cache[i]

    if exhaustive:
        acc = [i for i in range(grid_points) if accept(i)]
    else:
        step = 10
        coarse = sorted(set(range(0, grid_points, step)) | {grid_points - 1})
        hits = [i for i in coarse if accept(i)]
        if not hits:  # fall back to the full grid rather than miss a narrow set
            acc = [i for i in range(grid_points) if accept(i)]
        else:
            # scan outward from each accepted coarse point's neighbourhood edges
            lo_i, hi_i = min(hits), max(hits)
            i = lo_i - 1
            while i >= 0 and accept(i):
                i -= 1
            lo_i = i + 1
            i = hi_i + 1
            while i < grid_points and accept(i):
                i += 1
            hi_i = i - 1
            # points just outside coarse hits inside the span may be rejected; R takes min/max
            acc = [lo_i, hi_i]
    if not acc:
        return np.nan, np.nan
    return float(grid[min(acc)]), float(grid[max(acc)])


def rm_accepts(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    mbar: float,
    theta: float = 0.0,
    l_vec=None,
    alpha: float = 0.05,
    sims: int = 1000,
    seed: int = 0,
) -> bool:
    """Whether ``theta`` is in the C-LF robust confidence set under Delta^RM(mbar): the test
    of :func:`rm_interval` at one point (its grid decisions at ``theta``), without the grid."""
    if num_post < 2:
        raise NotImplementedError("Delta^RM with one post period (no nuisance) is not ported")
    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    kappa = alpha / 10
    setups = _rm_setups(b, S, num_pre, num_post, lv, mbar, kappa, sims, seed)
    return any(
        not _arp_lf_test(st.Y - st.a1 * theta, st.X, st.SY, alpha, kappa, st.lf_cv, st.lp)
        for st in setups
    )
