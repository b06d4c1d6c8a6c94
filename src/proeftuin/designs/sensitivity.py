"""How large a violation of parallel trends would overturn a site's DiD finding: HonestDiD
(Rambachan & Roth 2023, *Review of Economic Studies* 90(5)) on the site's event studies.

One job: from each outcome's TWFE event study (its coefficients and their CRV1 covariance,
``DidResult.event_vcov``) the robust 95% intervals over a small grid of restrictions and the
breakdown value, as the tidy table ``did_sensitivity.csv`` (:data:`SENSITIVITY_COLUMNS`);
the estimators (``estimators.did.honest``) do the statistics.

* **Which event studies.** Only the outcomes the site page shows (:func:`shown_outcomes`:
  the headline outcome of each Triple Aim dimension and the mortality outcomes), and of those
  only event studies with consecutive event times, at least :data:`MIN_PRE` pre-period
  coefficients (the reference year excluded) and two post-period ones. Every other outcome
  gets one row whose ``note`` says why nothing was computed.
* **Target** (:data:`TARGET`): the first post-period event-study coefficient (the start
  year), R HonestDiD's default. The average over the post-period years would match the
  pooled DiD estimate better, but relative magnitudes let the violation drift further each
  year: over the six or seven post years of the mortality series its robust interval reached
  the end of the test grid (±20 SE) from Mbar = 0.5 on, saying nothing.
* **Relative magnitudes** (Delta^RM, C-LF interval): each post-period year-on-year change
  of the violation is at most Mbar times the largest pre-period one; Mbar over
  :data:`MBAR_GRID`.
* **Smoothness** (Delta^SD, FLCI): the violation's slope changes by at most M a year; M in
  multiples (:data:`M_MULTIPLES`) of its unit ``m_unit``, the mean standard error of the
  pre-period year-on-year changes of the coefficients (M = 0 allows a linear trend).
* **Breakdown value** (``breakdown_mbar``): the smallest Mbar whose robust confidence set
  contains 0 (the C-LF test at 0, bisected to :data:`BREAKDOWN_TOL` on [0, the grid's
  largest Mbar]); 0 when the conventional interval already contains 0, ``inf`` when 0 stays
  outside at the grid's largest Mbar.

The covariance is CRV1 clustered by municipality: with few treated municipalities it is too
small, so every interval here is narrower, and every breakdown value larger, than honest
inference would give (a caveat the site page states once).

Schema of ``did_sensitivity.csv`` (one row per outcome and restriction value, or one row
per outcome with its ``note``): site, design ("did"), outcome, target, n_pre, n_post,
restriction ("conventional", "relative_magnitudes", "smoothness"), m (Mbar, or M in the
outcome's unit), m_unit (the smoothness unit), ci_low, ci_high, open (the robust interval
reaches the end of its test grid: at least this wide), breakdown_mbar, mbar_max (the grid's
largest Mbar), breakdown_tol, min_pre (the settings above, so that a reader of the results
needs no code), covariance ("CRV1"), note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from proeftuin.designs.comparison import SiteDesign
from proeftuin.designs.results import OutcomeResult

#: Relative-magnitudes bounds Mbar at which the robust interval is computed.
MBAR_GRID = (0.5, 1.0, 1.5, 2.0)
#: Smoothness bounds M, in multiples of the outcome's ``m_unit``.
M_MULTIPLES = (0.0, 1.0)
#: The effect whose robust interval is computed: "average" (of the post-period event-study
#: coefficients) or "first" (the first post-period one, R HonestDiD's default).
TARGET = "first"
TARGETS = {"average": "average of the post-period effects", "first": "first post-period effect"}
#: Bisection tolerance of the breakdown value, on the Mbar scale.
BREAKDOWN_TOL = 0.0625
#: Fewest pre-period event-study coefficients (reference year excluded) to compute it.
MIN_PRE = 3
ALPHA = 0.05
COVARIANCE = "CRV1"

SENSITIVITY_COLUMNS = [
    "site", "design", "outcome", "target", "n_pre", "n_post", "restriction", "m", "m_unit",
    "ci_low", "ci_high", "open", "breakdown_mbar", "mbar_max", "breakdown_tol", "min_pre",
    "covariance", "note",
]  # fmt: skip


def shown_outcomes(outcomes: Sequence[str]) -> list[str]:
    """The outcomes the site page shows: the headline outcome of each Triple Aim dimension
    (``data.outcomes.headline_outcomes``) and every mortality outcome, in plan order."""
    from proeftuin.data.outcomes import CBS_MORT, CBS_SMR, get_outcome, headline_outcomes

    firsts = set(headline_outcomes(outcomes))
    return [o for o in outcomes if o in firsts or get_outcome(o).source in (CBS_MORT, CBS_SMR)]


def event_study_inputs(result: Any) -> tuple[np.ndarray, np.ndarray, int, int] | str:
    """(betahat, sigma, n_pre, n_post) of a fit's event study in HonestDiD's order, or why
    it does not qualify."""
    vcov = getattr(result, "event_vcov", None)
    study = getattr(result, "event_study", None)
    if vcov is None or study is None or vcov.empty:
        return "no two-way fixed-effects event study with a covariance for this outcome"
    times = np.asarray(vcov.index, dtype=int)
    ref = study.loc[study["se"] == 0, "event_time"]
    every = np.sort(np.r_[times, ref.to_numpy(int)])
    if len(every) < 2 or not np.all(np.diff(every) == 1):
        return "event times are not consecutive years (survey waves): no year-on-year trend"
    n_pre, n_post = int((times < 0).sum()), int((times >= 0).sum())
    if n_pre < MIN_PRE:
        return (
            f"{n_pre} pre-period event-study coefficient(s) (reference year excluded); "
            f"HonestDiD needs at least {MIN_PRE} to bound a violation by the pre-period ones"
        )
    if n_post < 2:
        return "one post-period year; the relative-magnitudes interval needs two"
    beta = study.set_index("event_time").loc[times, "estimate"].to_numpy(float)
    return beta, vcov.to_numpy(float), n_pre, n_post


def target_weights(n_post: int, target: str = TARGET) -> np.ndarray:
    """HonestDiD's l_vec for the target: equal weights, or the first post period."""
    if target == "average":
        return np.full(n_post, 1.0 / n_post)
    weights = np.zeros(n_post)
    weights[0] = 1.0
    return weights


def smoothness_unit(sigma: np.ndarray, n_pre: int) -> float:
    """Mean standard error of the pre-period year-on-year changes of the event-study
    coefficients (the reference year's coefficient is 0 and has none)."""
    pre = np.zeros((n_pre + 1, n_pre + 1))
    pre[:n_pre, :n_pre] = sigma[:n_pre, :n_pre]
    diff = np.diff(np.eye(n_pre + 1), axis=0)  # beta_t - beta_(t-1), up to the reference
    return float(np.mean(np.sqrt(np.clip(np.diag(diff @ pre @ diff.T), 0, None))))


def outcome_sensitivity(item: OutcomeResult) -> list[dict[str, Any]]:
    """One outcome's rows: conventional, relative magnitudes over the grid, smoothness, with
    the breakdown value on each; or one row saying why nothing was computed."""
    from proeftuin.estimators.did import honest

    outcome = item.outcome
    found = (
        event_study_inputs(item.result)
        if item.result is not None
        else f"no estimate ({item.reason})"
    )
    base = {"outcome": outcome, "target": TARGETS[TARGET], "covariance": COVARIANCE}
    if isinstance(found, str):
        return [{**base, "target": None, "covariance": None, "note": f"not computed: {found}"}]
    beta, sigma, n_pre, n_post = found
    weights, mbar_max = target_weights(n_post), max(MBAR_GRID)
    breakdown = honest.breakdown_value(beta, sigma, n_pre, n_post, "RM", weights, ALPHA,
                                       upper=mbar_max, tol=BREAKDOWN_TOL, point=True)  # fmt: skip
    table = honest.robust_intervals(beta, sigma, n_pre, n_post, MBAR_GRID, (), ALPHA, weights)
    unit = smoothness_unit(sigma, n_pre)
    names = {"original": "conventional", "RM": "relative_magnitudes"}
    base |= {"n_pre": n_pre, "n_post": n_post, "breakdown_mbar": breakdown, "mbar_max": mbar_max,
             "breakdown_tol": BREAKDOWN_TOL, "min_pre": MIN_PRE}  # fmt: skip
    out = [{**base, "restriction": names[r.restriction], "m": r.M, "ci_low": r.lower,
            "ci_high": r.upper, "open": bool(r.open)}
           for r in table.itertuples(index=False)]  # fmt: skip
    for k in M_MULTIPLES:
        low, high = honest.sd_interval(beta, sigma, n_pre, n_post, k * unit, weights, ALPHA)
        out.append({**base, "restriction": "smoothness", "m": k * unit, "m_unit": unit,
                    "ci_low": low, "ci_high": high, "open": False})  # fmt: skip
    return out


def sensitivity_table(
    design: SiteDesign, results: Sequence[OutcomeResult], outcomes: Sequence[str]
) -> pd.DataFrame:
    """``did_sensitivity.csv``: every outcome of ``results``, computed for those the site
    page shows (:func:`shown_outcomes` of ``outcomes``), else a row saying why not."""
    shown = set(shown_outcomes(outcomes))
    rows: list[dict[str, Any]] = []
    for item in results:
        if item.outcome in shown:
            rows.extend(outcome_sensitivity(item))
        else:
            reason = "not computed: the site page shows only the headline and mortality outcomes"
            rows.append({"outcome": item.outcome, "note": reason})
    table = pd.DataFrame(rows).reindex(columns=SENSITIVITY_COLUMNS)
    return table.assign(site=design.site, design="did")


def breakdown_by_outcome(table: pd.DataFrame) -> pd.Series:
    """Each outcome's breakdown value (NaN where none was computed)."""
    return table.drop_duplicates("outcome").set_index("outcome")["breakdown_mbar"].astype(float)
