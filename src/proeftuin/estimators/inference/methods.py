"""Inference for few treated clusters: CRV1 flags, the wild cluster bootstrap, and the
placebo assignments, p-values and intervals of randomization inference (``placebo.py``
applies them to the DiD estimators; ``streams.py`` gives each method its random stream).

Why hand-written: pyfixest's ``wildboottest`` delegates to the optional ``wildboottest``
package and its ``ritest`` re-draws treatment cluster by cluster as coin flips, one model
fit per draw. Pioneer designs need (a) the restricted and unrestricted wild cluster
bootstrap with Webb weights and its inversion into a confidence interval, cheap enough for
a Monte Carlo study, and (b) placebo assignments that keep the number of treated clusters
and their start years fixed, enumerated exactly when few enough. Both are written here in
vectorised form (Roodman et al. 2019 for the bootstrap; one projection of all placebo
treatment columns for RI) and tested against pyfixest refits of the same draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin.estimators import _pyfixest as pfx
from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference.assignments import count_assignments as count_assignments
from proeftuin.estimators.results import InferenceResult

FEW_TREATED_CLUSTERS = 10
# MacKinnon & Webb (2017, J. Applied Econometrics 32(2); 2018, Econometrics Journal 21(2)):
# with very few treated clusters the unrestricted wild cluster bootstrap over-rejects
# severely and the restricted one under-rejects (intervals too wide or unbounded). Our own
# Monte Carlo (benchmarks/monte_carlo.md) finds both close to nominal size with 4-9 treated
# sites, so the flag starts below four.
WILD_MIN_TREATED_CLUSTERS = 4
UNRELIABLE = "unreliable with"  # the start of every few-treated-clusters flag in a note
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


def treated_clusters_text(n: int) -> str:
    return f"{n} treated cluster" + ("" if n == 1 else "s")


def unreliable_note(n_treated_clusters: int) -> str:
    """The flag of a method that is not to be trusted with this few treated clusters."""
    return f"{UNRELIABLE} {treated_clusters_text(n_treated_clusters)}"


def is_unreliable(note: str | None) -> bool:
    return bool(note) and UNRELIABLE in str(note)


def flag_wild(res: InferenceResult, n_treated_clusters: int) -> InferenceResult:
    """Prefix a wild bootstrap's note with the flag when treated clusters are too few."""
    if n_treated_clusters < WILD_MIN_TREATED_CLUSTERS:
        flag = unreliable_note(n_treated_clusters)
        res.note = f"{flag}; {res.note}" if res.note else flag
    return res


def webb_weights(rng: np.random.Generator, draws: int, clusters: int) -> np.ndarray:
    """Webb's six-point weights, one per cluster and draw (draws x clusters)."""
    return WEBB[rng.integers(0, 6, size=(draws, clusters))]


class Residualizer:
    """The W-weighted residual maker of fixed effects plus covariates (FWL)."""

    def __init__(self, fe_codes: np.ndarray, weights: np.ndarray, covariates: np.ndarray | None):
        self.fe = np.ascontiguousarray(fe_codes, dtype=np.uint64)
        self.w = np.asarray(weights, dtype=float)
        self.x = None
        if covariates is not None and covariates.shape[1]:
            self.x = self._demean(covariates)
            xtwx = self.x.T @ (self.w[:, None] * self.x)
            self.xtwx_inv = np.linalg.pinv(xtwx)

    def _demean(self, a: np.ndarray) -> np.ndarray:
        a2 = np.ascontiguousarray(a.reshape(len(self.w), -1), dtype=float)
        return pfx.demean(a2, self.fe, self.w, tol=1e-10, maxiter=100_000)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """Residualise the columns of ``a`` (n or n x k)."""
        flat = a.ndim == 1
        out = self._demean(a)
        if self.x is not None:
            coef = self.xtwx_inv @ (self.x.T @ (self.w[:, None] * out))
            out = out - self.x @ coef
        return out[:, 0] if flat else out


def t_pvalue(estimate: float, se: float, df: int) -> float:
    return float(2 * stats.t.sf(abs(estimate / se), df)) if se > 0 else float("nan")


def crv1_result(
    estimate: float, se: float, n_clusters: int, n_treated_clusters: int, alpha: float = 0.05
) -> InferenceResult:
    """CRV1 with t(G-1) reference; flagged when treated clusters are few."""
    df = max(n_clusters - 1, 1)
    crit = stats.t.ppf(1 - alpha / 2, df)
    note = None
    if n_treated_clusters < FEW_TREATED_CLUSTERS:
        note = unreliable_note(n_treated_clusters)
    return InferenceResult(
        "crv1",
        t_pvalue(estimate, se, df),
        se,
        estimate - crit * se,
        estimate + crit * se,
        None,
        note,
    )


@dataclass
class WildSetup:
    """Pre-computed pieces of the wild cluster bootstrap for one coefficient."""

    beta: float
    dd: float
    a0: np.ndarray  # per-cluster sum of w * D~ * u~ (restricted at beta0 = 0)
    a1: np.ndarray  # per-cluster sum of w * D~ * D~
    c0: np.ndarray  # G x G: sum_g w D~ M(u~ 1_h)
    c1: np.ndarray  # G x G: sum_g w D~ M(D~ 1_h)
    scale: float  # small-sample factor matching the library's CRV1


def _cluster_sum(codes: np.ndarray, n_clusters: int, values: np.ndarray) -> np.ndarray:
    out = np.zeros((n_clusters,) + values.shape[1:])
    np.add.at(out, codes, values)
    return out


def wild_setup(
    y: np.ndarray, d: np.ndarray, resid: Residualizer, clusters: np.ndarray, crv1_se: float
) -> WildSetup:
    """Project once; afterwards each null value and draw costs O(G^2)."""
    codes, uniques = pd.factorize(clusters)
    g = len(uniques)
    w = resid.w
    yt, dt = resid(y), resid(d)
    dd = float(np.sum(w * dt * dt))
    beta = float(np.sum(w * dt * yt) / dd)
    indicator = np.zeros((len(y), g))
    indicator[np.arange(len(y)), codes] = 1.0
    wd = (w * dt)[:, None]
    c0 = _cluster_sum(codes, g, wd * resid(yt[:, None] * indicator))
    c1 = _cluster_sum(codes, g, wd * resid(dt[:, None] * indicator))
    a0 = _cluster_sum(codes, g, w * dt * yt)
    a1 = _cluster_sum(codes, g, w * dt * dt)
    raw_var = np.sum((a0 - beta * a1) ** 2) / dd**2
    scale = crv1_se**2 / raw_var if raw_var > 0 else 1.0
    return WildSetup(beta, dd, a0, a1, c0, c1, scale)


@dataclass
class WildDraws:
    """Per-draw terms of the bootstrap t as polynomials in the null value beta0.

    beta*_b - beta0 = n0 - beta0 n1 and the draw's scores are P - beta0 Q, so their sum of
    squares is s00 - 2 beta0 s01 + beta0^2 s11: one O(draws x G^2) pass, then O(draws) for
    every null value (the interval's bisection evaluates dozens).
    """

    n0: np.ndarray
    n1: np.ndarray
    s00: np.ndarray
    s01: np.ndarray
    s11: np.ndarray


def wild_draws(ws: WildSetup, v: np.ndarray) -> WildDraws:
    n0, n1 = v @ ws.a0 / ws.dd, v @ ws.a1 / ws.dd
    p = v @ ws.c0.T - np.outer(n0, ws.a1)
    q = v @ ws.c1.T - np.outer(n1, ws.a1)
    return WildDraws(n0, n1, np.sum(p * p, axis=1), np.sum(p * q, axis=1), np.sum(q * q, axis=1))


def _observed_t(ws: WildSetup, beta0: float) -> float:
    se_obs = math.sqrt(ws.scale * np.sum((ws.a0 - ws.beta * ws.a1) ** 2)) / ws.dd
    return (ws.beta - beta0) / se_obs


def _boot_t(ws: WildSetup, v: np.ndarray | WildDraws, beta0: float) -> tuple[np.ndarray, float]:
    """Bootstrap t-statistics under y* = beta0 D + u~(beta0) * v, and the observed t."""
    dr = v if isinstance(v, WildDraws) else wild_draws(ws, v)
    delta = dr.n0 - beta0 * dr.n1  # beta*_b - beta0
    squares = dr.s00 - 2 * beta0 * dr.s01 + beta0**2 * dr.s11
    se_b = np.sqrt(ws.scale * np.maximum(squares, 0.0)) / ws.dd
    return delta / se_b, _observed_t(ws, beta0)


def wild_pvalue(ws: WildSetup, v: np.ndarray | WildDraws, beta0: float, restricted: bool) -> float:
    """Symmetric bootstrap p-value for H0: beta = beta0."""
    if restricted:
        t_b, t_obs = _boot_t(ws, v, beta0)
    else:
        t_b, _ = _boot_t(ws, v, ws.beta)
        t_obs = _observed_t(ws, beta0)
    return float(np.mean(np.abs(t_b) >= abs(t_obs) - 1e-12))


def _invert(pfun: Callable[[float], float], est: float, step: float, alpha: float) -> tuple:
    """Confidence set {b: p(b) > alpha} by bracketing and bisection on each side."""
    bounds = []
    for sign in (-1.0, 1.0):
        inner, outer = est, est + sign * step
        for _ in range(60):
            if pfun(outer) <= alpha:
                break
            inner, outer = outer, outer + sign * step * 2
        else:
            bounds.append(sign * math.inf)  # the test never rejects on this side
            continue
        for _ in range(40):
            mid = 0.5 * (inner + outer)
            inner, outer = (mid, outer) if pfun(mid) > alpha else (inner, mid)
        bounds.append(0.5 * (inner + outer))
    return bounds[0], bounds[1]


UNBOUNDED_NOTE = "interval unbounded: too few treated clusters"


def floor_pvalue(p: float, draws: int, note: str) -> tuple[float, str]:
    """A bootstrap p-value of 0 becomes 1/(B+1), the smallest RI can report, with a note."""
    if p == 0.0:
        return 1.0 / (draws + 1), f"{note}; no draw as extreme: p < 1/(B+1), reported as 1/(B+1)"
    return p, note


def interval_note(lo: float, hi: float, note: str) -> str:
    """Say so when a bound is infinite (JSON writes it as null)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{note}; {UNBOUNDED_NOTE}"
    return note


def wild_result(
    ws: WildSetup, v: np.ndarray, restricted: bool, crv1_se: float, alpha: float = 0.05
) -> InferenceResult:
    """WCR (null imposed, CI by test inversion) or WCU (percentile-t CI).

    The bootstrap yields a p-value and an interval, not a standard error: ``se`` is None
    (the CRV1 SE, which studentizes the bootstrap, is on the CRV1 row). A WCR interval
    whose test never rejects on one side has an infinite bound, said so in the note.
    """
    name = "wild_restricted" if restricted else "wild_unrestricted"
    dr = wild_draws(ws, v)  # the one O(draws x G^2) pass
    p = wild_pvalue(ws, dr, 0.0, restricted)
    if restricted:
        lo, hi = _invert(lambda b: wild_pvalue(ws, dr, b, True), ws.beta, crv1_se, alpha)
    else:
        t_b, _ = _boot_t(ws, dr, ws.beta)
        q = float(np.quantile(np.abs(t_b), 1 - alpha))
        lo, hi = ws.beta - q * crv1_se, ws.beta + q * crv1_se
    p, note = floor_pvalue(p, len(v), "Webb weights")
    return InferenceResult(name, p, None, lo, hi, len(v), interval_note(lo, hi, note))


# --- randomization inference -------------------------------------------------------------


def placebo_assignments(
    labels: np.ndarray, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """Cluster-level start labels for each placebo draw, and whether the set is exact.

    Exact (every distinct arrangement, the observed one included) when there are at most
    ``draws`` of them; otherwise ``draws`` uniform random permutations (dense form of
    :func:`assignments.uniform_draws`).
    """
    out = asg.uniform_draws(labels, draws, rng)
    return out.dense(), out.exact


def grouped_placebo_assignments(
    labels: np.ndarray, groups: np.ndarray, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool, np.ndarray]:
    """Placebo sites inside one larger area, dense: start labels per draw, exactness,
    weights (see :func:`assignments.grouped_draws`)."""
    out = asg.grouped_draws(labels, groups, draws, rng)
    assert out.weights is not None
    return out.dense(), out.exact, out.weights


def _wmean(x: np.ndarray, weights: np.ndarray | None) -> float:
    return float(np.mean(x)) if weights is None else float(np.sum(weights * x) / np.sum(weights))


def ri_pvalue(
    observed: float,
    placebo: np.ndarray,
    exact: bool,
    weights: np.ndarray | None = None,
    observed_included: bool = True,
) -> float:
    """Two-sided RI p-value.

    With ``observed_included`` (the uniform scheme) an exact enumeration contains the
    observed assignment and the p-value is the share of hits; a sample counts the observed
    assignment once, (1 + hits) / (1 + B). When the placebo sets exclude the observed one
    (placebo sites within an area) it is counted once in both cases, with the share of
    hits weighted by ``weights``. Non-finite placebo values are ignored.
    """
    placebo = np.asarray(placebo, dtype=float)
    ok = np.isfinite(placebo)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)[ok]
    placebo = placebo[ok]
    if not len(placebo):
        return float("nan")
    hit = (np.abs(placebo) >= abs(observed) - 1e-12).astype(float)
    share = _wmean(hit, weights)
    if exact and observed_included:
        return share
    b = len(placebo)
    return float((1 + b * share) / (1 + b))


def ri_coefficients(
    resid: Residualizer, y: np.ndarray, d_matrix: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """TWFE coefficients for many treatment columns at once; also D_b'W M D_obs terms.

    Returns (beta_b, denominators) where beta_b = D_b' W M y / D_b' W M D_b.
    """
    yt = resid(y)
    w = resid.w
    betas, dens = [], []
    for start in range(0, d_matrix.shape[1], chunk):
        block = d_matrix[:, start : start + chunk]
        bt = resid(block)
        dens.append(np.sum(w[:, None] * bt * bt, axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            betas.append((w * yt) @ block / dens[-1])
    return np.concatenate(betas), np.concatenate(dens)


def ri_result(
    observed: float,
    placebo: np.ndarray,
    exact: bool,
    ci: tuple[float, float] | None = None,
    weights: np.ndarray | None = None,
    observed_included: bool = True,
    n_areas: int | None = None,
) -> InferenceResult:
    """Package placebo estimates: p-value, their spread as SE, optional inverted CI, and how
    sure the p-value is (:func:`mark_precision`)."""
    lo, hi = ci if ci is not None else (None, None)
    kind = "exact enumeration" if exact else "sampled placebo assignments"
    placebo = np.asarray(placebo, dtype=float)
    ok = np.isfinite(placebo)
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    centre = _wmean(placebo[ok], w) if ok.any() else float("nan")
    sd = math.sqrt(_wmean((placebo[ok] - centre) ** 2, w)) if ok.any() else float("nan")
    res = InferenceResult(
        "ri",
        ri_pvalue(observed, placebo, exact, weights, observed_included),
        sd,
        lo,
        hi,
        int(ok.sum()),
        kind,
    )
    return mark_precision(res, exact, int(ok.sum()), n_areas)


# --- how sure a randomization p-value is ---------------------------------------------------

#: Level of the Monte Carlo interval printed beside a sampled p-value.
MC_LEVEL = 0.99
#: The Monte Carlo standard error a leading (headline) row may have at p = 0.05.
HEADLINE_MCSE = 0.0025
#: "finer than the areas" starts the resolution note (the report and synthesis match it).
RESOLUTION = "finer than the areas support"


def headline_draws(p: float = 0.05, mcse: float = HEADLINE_MCSE) -> int:
    """Draws that bring the Monte Carlo SE of a p-value near ``p`` to ``mcse``: 7,600 for
    0.0025 at 0.05 (sqrt(p (1 - p) / B) <= mcse)."""
    return math.ceil(round(p * (1 - p) / mcse**2, 9))


def monte_carlo_error(p: float, draws: int, level: float = MC_LEVEL) -> tuple[float, float, float]:
    """A sampled p-value's Monte Carlo standard error and ``level`` interval.

    ``p`` = (1 + x) / (1 + B) with x of B placebo draws at least as extreme: the SE is
    sqrt(p (1 - p) / B), the interval Clopper-Pearson's for x of B (the p-value full
    enumeration would give lies in it with probability ``level``).
    """
    if not (draws > 0 and math.isfinite(p)):
        return float("nan"), float("nan"), float("nan")
    x = min(max(round(p * (draws + 1) - 1), 0), draws)
    tail = (1 - level) / 2
    lo = float(stats.beta.ppf(tail, x, draws - x + 1)) if x > 0 else 0.0
    hi = float(stats.beta.ppf(1 - tail, x + 1, draws - x)) if x < draws else 1.0
    return math.sqrt(p * (1 - p) / draws), lo, hi


def resolution(n_areas: int | None) -> float | None:
    """The coarsest honest p of placebo sites drawn within ``n_areas`` areas: 1/(A + 1).

    When shocks are shared within an area, the site is one area among A + 1 and the test
    can rank it only among areas: no p-value below 1/(A + 1) is earned by the data.
    """
    return None if not n_areas else 1.0 / (n_areas + 1)


def resolution_note(p: float, n_areas: int | None) -> str | None:
    """Says so when ``p`` is finer than the areas support (see :func:`resolution`)."""
    floor = resolution(n_areas)
    if floor is None or not (math.isfinite(p) and p < floor):
        return None
    return (
        f"p {RESOLUTION}: placebo sites drawn within {n_areas} areas resolve p only to "
        f"about 1/{n_areas + 1} = {floor:.3f} when shocks are shared within an area"
    )


def mark_precision(
    res: InferenceResult, exact: bool, draws: int, n_areas: int | None = None
) -> InferenceResult:
    """Set ``p_kind`` (exact or sampled), the Monte Carlo SE and 99% interval of a sampled p
    (0 and p itself when exact), the number of areas and the resolution, and add the
    resolution note when p is finer than the areas support."""
    res.p_kind = "exact" if exact else "sampled"
    if exact:
        res.p_mcse, res.p_mc_low, res.p_mc_high = 0.0, res.p_value, res.p_value
    else:
        res.p_mcse, res.p_mc_low, res.p_mc_high = monte_carlo_error(res.p_value, draws)
    res.n_areas, res.p_resolution = n_areas, resolution(n_areas)
    note = resolution_note(res.p_value, n_areas)
    if note:
        res.note = f"{res.note}; {note}" if res.note else note
    return res
