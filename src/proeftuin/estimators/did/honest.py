"""Sensitivity of event-study conclusions to violations of parallel trends
(Rambachan & Roth 2023, "A More Credible Approach to Parallel Trends", REStud 90(5)).

One job: robust intervals and breakdown values for a target of an event study from its
coefficients and their covariance (no data, no fitting). Two restriction classes, each
giving a robust confidence interval for a target theta = l' tau_post (default: the first
post-period effect, as in R HonestDiD):

* relative magnitudes Delta^RM(Mbar): every post-period first difference of the
  trend violation is at most Mbar times the largest pre-period first difference.
  Inference: conditional-least-favourable hybrid (C-LF) of Andrews, Roth & Pakes,
  a line-by-line port of R HonestDiD's ``computeConditionalCS_DeltaRM``
  (asheshrambachan/HonestDiD 0.2.8, R/deltarm.R + R/arp-nuisance.R), including R's
  random-number stream (set.seed(0), Mersenne-Twister, inversion normals,
  ``mvtnorm::rmvnorm`` eigen square root) for the least-favourable critical value,
  so that grid decisions coincide with R's (in :mod:`honest_rm`). Its linear programs use
  ``highspy`` (pinned; warm starts, ~7x faster) and fall back to scipy's HiGHS.
* smoothness Delta^SD(M): second differences of the violation bounded by M.
  Inference: optimal fixed-length CI (FLCI), R's default for Delta^SD, computed by
  ``diff_diff`` (MIT; pinned 3.13.0; numpy/pandas/scipy only), whose ``honest_did`` is
  benchmarked against R HonestDiD.

Checked against R HonestDiD's output (tests/test_honest.py; reference values in
tests/data/honest/ with their source): the Benzarti-Carloni example's relative-magnitudes
intervals and every one of R's 1000 grid decisions identically, the smoothness FLCI to 1e-3.
The Delta^RM code is a translation of R HonestDiD (MIT; the notice is in :mod:`honest_rm`).

Conventions (same as R HonestDiD): ``betahat`` holds the event-study coefficients in
time order, pre-periods first (reference period excluded, normalised to 0), then
post-periods; ``sigma`` is their covariance matrix.  Normal critical values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.did.honest_rm import _check, rm_accepts, rm_interval

__all__ = [
    "original_ci", "rm_interval", "rm_accepts", "sd_interval", "robust_intervals",
    "breakdown_value",
]  # fmt: skip


def original_ci(betahat, sigma, num_pre, num_post, l_vec=None, alpha=0.05):
    """Conventional CI for l' tau_post under exact parallel trends (constructOriginalCS)."""
    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    est = float(lv @ b[num_pre:])
    se = float(np.sqrt(lv @ S[num_pre:, num_pre:] @ lv))
    z = norm.ppf(1 - alpha / 2)
    return est - z * se, est + z * se


def sd_interval(betahat, sigma, num_pre, num_post, m: float, l_vec=None, alpha=0.05):
    """Optimal FLCI under Delta^SD(m) (R: createSensitivityResults, "FLCI"), via diff_diff."""
    from diff_diff.honest_did import HonestDiD
    from diff_diff.results import MultiPeriodDiDResults, PeriodEffect

    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    pre = list(range(num_pre))
    post = list(range(num_pre + 1, num_pre + 1 + num_post))  # reference = num_pre
    periods = pre + post
    effects = {
        p: PeriodEffect(
            period=p, effect=float(b[i]), se=float(np.sqrt(S[i, i])), t_stat=np.nan,
            p_value=np.nan, conf_int=(np.nan, np.nan),
        )
        for i, p in enumerate(periods)
    }  # fmt: skip
    res = MultiPeriodDiDResults(
        period_effects=effects, avg_att=np.nan, avg_se=np.nan, avg_t_stat=np.nan,
        avg_p_value=np.nan, avg_conf_int=(np.nan, np.nan), n_obs=0, n_treated=0,
        n_control=0, pre_periods=pre + [num_pre], post_periods=post, vcov=S,
        reference_period=num_pre, interaction_indices={p: i for i, p in enumerate(periods)},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = HonestDiD(method="smoothness", M=m, alpha=alpha, l_vec=lv).fit(res)
    return float(out.ci_lb), float(out.ci_ub)


def robust_intervals(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    mbar_grid: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
    m_grid: Sequence[float] = (),
    alpha: float = 0.05,
    l_vec=None,
    **rm_kwargs,
) -> pd.DataFrame:
    """Tidy table: restriction ("original", "RM", "SD"), M, lower, upper, method, open.

    ``open`` is True when an RM bound sits on the end of the test-inversion grid
    (R warns "CI is open at one of the endpoints"): the interval is at least that wide.
    """
    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    sd_theta = float(np.sqrt(lv @ S[num_pre:, num_pre:] @ lv))
    g_lo = rm_kwargs.get("grid_lb") if rm_kwargs.get("grid_lb") is not None else -20 * sd_theta
    g_hi = rm_kwargs.get("grid_ub") if rm_kwargs.get("grid_ub") is not None else 20 * sd_theta
    rows = []
    lo, hi = original_ci(b, S, num_pre, num_post, lv, alpha)
    rows.append(("original", np.nan, lo, hi, "normal", False))
    for mb in mbar_grid:
        lo, hi = rm_interval(b, S, num_pre, num_post, mb, lv, alpha, **rm_kwargs)
        is_open = bool(np.isclose(lo, g_lo) or np.isclose(hi, g_hi))
        rows.append(("RM", float(mb), lo, hi, "C-LF", is_open))
    for m in m_grid:
        lo, hi = sd_interval(b, S, num_pre, num_post, m, lv, alpha)
        rows.append(("SD", float(m), lo, hi, "FLCI", False))
    return pd.DataFrame(rows, columns=["restriction", "M", "lower", "upper", "method", "open"])


def breakdown_value(
    betahat,
    sigma,
    num_pre: int,
    num_post: int,
    restriction: str = "RM",
    l_vec=None,
    alpha: float = 0.05,
    upper: float | None = None,
    tol: float | None = None,
    point: bool = False,
    **rm_kwargs,
) -> float:
    """Smallest M (Mbar for "RM", M for "SD") whose robust CI contains 0, by bisection.

    Target: l' tau_post, by default the FIRST post-period effect (R's default l_vec);
    pass ``l_vec=np.full(num_post, 1/num_post)`` for the average post effect.
    Returns 0.0 when the conventional CI already contains 0 and ``inf`` when the CI
    still excludes 0 at ``upper``.  Assumes the CI widens monotonically in M (true
    for the identified set; checked by the R package's users on grids, not proven
    for the C-LF interval).  ``tol`` defaults to 0.01 (RM) or 1e-3 * sd(theta) (SD).
    ``point=True`` (RM only) asks whether 0 itself is accepted (:func:`rm_accepts`, no
    grid): the smallest Mbar whose robust confidence set contains 0, some 3x faster.
    """
    b, S, lv = _check(betahat, sigma, num_pre, num_post, l_vec)
    lo0, hi0 = original_ci(b, S, num_pre, num_post, lv, alpha)
    if lo0 <= 0 <= hi0:
        return 0.0
    sd_theta = float(np.sqrt(lv @ S[num_pre:, num_pre:] @ lv))
    if restriction == "RM" and point:
        fn = None
        upper = 5.0 if upper is None else upper
        tol = 0.01 if tol is None else tol
    elif restriction == "RM":
        fn = lambda m: rm_interval(b, S, num_pre, num_post, m, lv, alpha, **rm_kwargs)  # noqa: E731
        upper = 5.0 if upper is None else upper
        tol = 0.01 if tol is None else tol
    elif restriction == "SD":
        fn = lambda m: sd_interval(b, S, num_pre, num_post, m, lv, alpha)  # noqa: E731
        upper = 5.0 * sd_theta if upper is None else upper
        tol = 1e-3 * sd_theta if tol is None else tol
    else:
        raise DesignError("restriction must be 'RM' or 'SD'")

    def covers(m):
        if fn is None:
            return rm_accepts(b, S, num_pre, num_post, m, 0.0, lv, alpha)
        lo, hi = fn(m)
        return not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 <= hi

    if not covers(upper):
        return np.inf
    a, z = 0.0, upper
    while z - a > tol:
        mid = (a + z) / 2
        a, z = (a, mid) if covers(mid) else (mid, z)
    return z
