"""Inference for synthetic DiD and synthetic control: synthdid's placebo variance and
fixed-weight jackknife, and randomization inference over placebo assignments.

One job: given the observed cohort fits, return an :class:`InferenceResult` per method.

- ``placebo`` (Arkhangelsky et al. 2021, Algorithm 4; synthdid ``vcov(method="placebo")``):
  draw, among the control units only, as many placebo-treated units as there are treated
  ones, refit with the observed penalties and stopping tolerance, starting from the
  observed weights (renormalised), and take sqrt((r-1)/r) x sd of the r estimates. Needs
  more controls than treated units. Normal-theory interval and p-value.
- ``jackknife`` (Algorithm 3; synthdid's ``jackknife_se``): leave each unit out, keep
  lambda and the renormalised omega fixed. synthdid returns NA with one treated unit or
  one control with nonzero weight; here a cohort needs two treated units and two
  controls with nonzero weight.
- ``ri``: the estimator refitted (weights and all) on placebo assignments of the observed
  adoption dates, drawn by the DiD's machinery (:func:`inference.placebo_assignments` over
  all units, or :func:`inference.grouped_placebo_assignments` for placebo sites within
  an area); the p-value compares absolute estimates (:func:`inference.ri_pvalue`). The
  interval inverts that test under a constant additive effect with the placebo estimates
  held fixed: {tau: p(estimate - tau) > alpha}. Exact when the treated units do not enter
  the placebo fits; here they stay among the donors with their observed outcomes, so the
  interval is approximate (the note says how it was made).

All refits go through the batched solver, ``CHUNK`` draws at a time.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference import methods as inf
from proeftuin.estimators.results import InferenceResult
from proeftuin.estimators.synth.panel import CohortFit, SynthPanel, fit_cohorts
from proeftuin.estimators.synth.weights import OPTIONS

CHUNK = 128


def normal_result(
    name: str, estimate: float, se: float, draws: int | None, note: str, alpha: float
) -> InferenceResult:
    """SE, a normal interval estimate +- z se and the two-sided normal p-value."""
    if not (se > 0 and math.isfinite(se)):
        return InferenceResult(name, float("nan"), se, None, None, draws, note)
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = float(2 * stats.norm.sf(abs(estimate) / se))
    return InferenceResult(name, p, se, estimate - z * se, estimate + z * se, draws, note)


def _chunked(y: np.ndarray, assign: np.ndarray, method: str, **kwargs) -> np.ndarray:
    out = [
        fit_cohorts(y, assign[s : s + CHUNK], method, **kwargs)[0]
        for s in range(0, len(assign), CHUNK)
    ]
    return np.concatenate(out) if out else np.array([])


def placebo_draws(
    panel: SynthPanel, method: str, fits: list[CohortFit], reps: int, rng: np.random.Generator
) -> np.ndarray:
    """The r placebo estimates of Algorithm 4 (controls only; observed penalties and
    starting weights, as synthdid's ``placebo_se`` passes them through ``opts``)."""
    controls = np.flatnonzero(panel.labels == 0)
    treated_labels = np.sort(panel.labels[panel.labels > 0])
    n0, n1 = len(controls), len(treated_labels)
    assign = np.zeros((reps, n0), dtype=panel.labels.dtype)
    for r in range(reps):
        perm = rng.permutation(n0)
        assign[r, perm[n0 - n1 :]] = treated_labels
    opts = OPTIONS[method]
    overrides = {}
    for f in fits:
        obs = f.fit
        omega_by_unit = np.zeros(len(panel.labels))
        omega_by_unit[f.control_idx[0]] = obs.omega[0]
        extra = {
            "zeta_omega": obs.zeta_omega[0],
            "zeta_lambda": obs.zeta_lambda[0],
            "min_decrease": obs.min_decrease[0],
        }
        if opts.fixed_omega is None:
            extra["omega_by_unit"] = omega_by_unit[controls]
        if opts.fixed_lambda is None:
            extra["lambda_init"] = obs.lam[0]
        overrides[f.label] = extra
    sizes = {f.label: f.size for f in fits}
    return _chunked(panel.y[controls], assign, method, overrides=overrides, sizes=sizes)


def placebo_result(
    panel: SynthPanel,
    method: str,
    fits: list[CohortFit],
    estimate: float,
    reps: int,
    rng: np.random.Generator,
    alpha: float,
) -> tuple[InferenceResult, np.ndarray | None]:
    n0, n1 = int((panel.labels == 0).sum()), int((panel.labels > 0).sum())
    if n0 <= n1:
        note = f"not defined: needs more controls ({n0}) than treated units ({n1})"
        return InferenceResult("placebo", float("nan"), None, None, None, 0, note), None
    draws = placebo_draws(panel, method, fits, reps, rng)
    se = float(np.std(draws))  # sqrt((r-1)/r) * sd, as synthdid
    note = "placebo variance (synthdid Algorithm 4), normal interval"
    return normal_result("placebo", estimate, se, reps, note, alpha), draws


def jackknife_result(
    panel: SynthPanel, fits: list[CohortFit], estimate: float, alpha: float
) -> InferenceResult:
    """Fixed-weight jackknife over units (controls and treated)."""
    for f in fits:
        n1, nonzero = f.treated_idx.shape[1], int((f.fit.omega[0] > 0).sum())
        if n1 < 2 or nonzero < 2:
            note = (
                f"not defined: the cohort starting {panel.times[f.t0]:g} has {n1} treated "
                f"unit(s) and {nonzero} control(s) with nonzero weight (needs 2 and 2)"
            )
            return InferenceResult("jackknife", float("nan"), None, None, None, None, note)
    n = len(panel.labels)
    values = np.empty(n)
    for i in range(n):
        taus, sizes = [], []
        for f in fits:
            ctrl, tr = f.control_idx[0], f.treated_idx[0]
            omega, lam = f.fit.omega[0], f.fit.lam[0]
            keep_c, keep_t = ctrl != i, tr != i
            om = omega[keep_c]
            om = om / om.sum() if om.sum() > 0 else np.full(len(om), 1.0 / len(om))
            gap = panel.y[tr[keep_t]].mean(axis=0) - om @ panel.y[ctrl[keep_c]]
            taus.append(gap[f.t0 :].mean() - gap[: f.t0] @ lam)
            sizes.append(keep_t.sum() * (f.n_periods - f.t0))
        values[i] = np.dot(taus, sizes) / np.sum(sizes)
    se = float(math.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))
    note = "fixed-weight jackknife (synthdid Algorithm 3), normal interval"
    if fits and not (fits[0].fit.lam[0] > 0).any():  # sc: no time weights
        note += "; not recommended for synthetic control (Arkhangelsky et al. 2021, sec. 5)"
    return normal_result("jackknife", estimate, se, n, note, alpha)


def ri_result(
    panel: SynthPanel,
    method: str,
    estimate: float,
    draws: int,
    rng: np.random.Generator,
    aggregate: bool,
    sizes: dict[int, float],
    alpha: float = 0.05,
) -> tuple[InferenceResult, np.ndarray]:
    """Randomization inference: refit on placebo assignments of the adoption dates; the
    interval inverts the test with the placebo estimates held fixed."""
    labels = panel.labels
    n_areas = None
    if panel.groups is not None:
        grouped = asg.grouped_draws(labels, panel.groups, draws, rng)
        assign, exact, weights, n_areas = (
            grouped.dense(),
            grouped.exact,
            grouped.weights,
            grouped.n_areas,
        )
        included, scheme = False, f"placebo sites within {panel.names.get('placebo_group')}"
    else:
        assign, exact = inf.placebo_assignments(labels, draws, rng)
        weights, included, scheme = None, True, "placebo units over all units"
    placebo = _chunked(panel.y, assign, method, unit_weights=panel.weights, aggregate=aggregate)
    finite = np.isfinite(placebo)
    if not finite.any():
        res = inf.ri_result(estimate, placebo, exact, None, weights, included, n_areas)
        res.note = f"{res.note}; {scheme}; no finite placebo estimate"
        return res, placebo

    def pval(tau: float) -> float:
        return inf.ri_pvalue(estimate - tau, placebo, exact, weights, included)

    ci = inf._invert(pval, estimate, float(np.std(placebo[finite])) or 1.0, alpha)
    res = inf.ri_result(estimate, placebo, exact, ci, weights, included, n_areas)
    note = f"{res.note}; {scheme}; statistic |estimate|; interval inverts the test with the "
    res.note = inf.interval_note(ci[0], ci[1], note + "placebo estimates held fixed")
    return res, placebo
