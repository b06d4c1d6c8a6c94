"""Placebo-in-space and placebo-in-time inference for one treated interrupted time series.

One job: p-values and intervals for a site's ITS level and slope change that stay honest
with a single treated series. The site's municipalities are summed into one series (counts
and exposure), the controls into one comparison series, and :func:`estimate_its` fits the
site. Placebo sites of the same size are then drawn from the controls with the machinery
of the DiD's randomization inference (:func:`assignments.uniform_draws`, or
:func:`assignments.grouped_draws` for placebo sites within one area), and
each is fitted the same way against the remaining controls (Abadie, Diamond & Hainmueller
2010, JASA 105:493-505, placebo-in-space; Lopez Bernal, Cummins & Gasparrini 2018, Int J
Epidemiol 47:2082-2093, the controlled ITS). The p-value is the rank of |estimate| among
the placebos' |estimates| with the +1 correction, (1 + hits) / (1 + B).

The interval inverts that same test under a constant effect tau (Firpo & Possebom 2018, J
Causal Inference 6(2), for synthetic control): no placebo contains a treated municipality,
so tau moves only the site's estimate (to estimate - tau), never the placebo distribution,
and {tau : p(tau) > alpha} = [estimate - c, estimate + c] with c the largest |placebo| the
test still accepts. Not "estimate minus placebo quantiles": that inverts an equal-tailed
test and could contradict the reported p-value; this interval excludes 0 exactly when
p <= alpha. The shift is exact for Gaussian fits (OLS is linear in the outcome) and for
the level change of a log-link fit with a slope term (the score equations absorb a
post-period factor); otherwise it is the usual constant-effect assumption.

Validity rests on the site being exchangeable with its placebos. Draws within areas keep
placebos shaped like the site (neighbours sharing area shocks) but never use the site's
own area: with A areas the evidence cannot honestly exceed about 1/(A+1) when area shocks
dominate (``p_resolution``; the note says so whenever p is finer), and sampled draws need
many placebos: with 19 or 39 a simulation with area shocks rejected a true null 6-11% of
the time, exactly enumerated 5%. Every placebo site is enumerated when they number at most
:data:`assignments.EXACT_BUDGET` (``p_kind`` "exact"); otherwise the p-value is sampled
and carries its Monte Carlo error (``p_mcse``, a 99% interval).

Placebo-in-time (:mod:`in_time`) refits the site on its pre-period only, at fake starts, as a
diagnostic (Abadie, Diamond & Hainmueller 2015, Am J Polit Sci 59:495-510).

Why hand-written: no Python library does placebo-in-space ITS (statsmodels fits one
series; synthetic-control packages estimate weights, not segmented regressions). The
placebos are refitted in one vectorised pass (OLS, or Poisson IRLS: quasi-Poisson has the
same point estimates) rather than by ~1,000 calls of :func:`estimate_its`; the site is fitted
both ways and the two must agree, so the placebos use the site's estimator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from proeftuin.core.jsonable import json_safe
from proeftuin.estimators.checks import DesignError
from proeftuin.estimators.inference import assignments as asg
from proeftuin.estimators.inference.methods import mark_precision, ri_pvalue
from proeftuin.estimators.its.estimate import FAMILIES, estimate_its
from proeftuin.estimators.its.in_time import EFFECTS, _its_kwargs, placebo_in_time
from proeftuin.estimators.its.refit import (
    Wide,
    batch_estimates,
    series_of,
    site_series,
    wide_panel,
)
from proeftuin.estimators.results import InferenceResult, ItsResult

__all__ = [
    "ItsPlaceboResult",
    "PlaceboDraws",
    "estimate_its_placebo",
    "placebo_in_time",
    "placebo_space",
    "site_series",
]

AGREEMENT_TOL = 1e-4  # batched refit vs estimate_its on the site, in standard errors
FIT_CHUNK = 20_000  # placebo sites refitted per batch (memory of the batched IRLS)
STORED_DRAWS = 5_000  # placebo rows kept in the JSON; more are summarised by quantiles


# --- the test and its inversion ----------------------------------------------------------


def _tail_pvalues(mags: np.ndarray, placebo: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """:func:`ri_pvalue` (observed excluded from the placebos) at every statistic in
    ``mags`` at once: one sort and a cumulative sum instead of a pass per value."""
    order = np.argsort(np.abs(placebo))
    values = np.abs(placebo)[order]
    w = np.ones(len(values)) if weights is None else np.asarray(weights, float)[order]
    below = np.concatenate([[0.0], np.cumsum(w)])
    share = (below[-1] - below[np.searchsorted(values, mags - 1e-12, "left")]) / below[-1]
    b = len(values)
    return (1 + b * share) / (1 + b)


def _interval(
    estimate: float, placebo: np.ndarray, exact: bool, weights: np.ndarray | None, alpha: float
) -> tuple[float, float]:
    """{tau : p(tau) > alpha} for the statistic |estimate - tau|: estimate -+ c."""
    ok = np.isfinite(placebo)
    if not ok.any():
        return math.nan, math.nan
    if ri_pvalue(math.inf, placebo, exact, weights, observed_included=False) > alpha:
        return -math.inf, math.inf  # too few placebos: no tau is ever rejected
    mags = np.unique(np.abs(placebo[ok]))
    p = _tail_pvalues(mags, placebo[ok], None if weights is None else weights[ok])
    c = float(mags[p > alpha].max())
    return estimate - c, estimate + c


def _assignments(w: Wide, draws: int, rng: np.random.Generator) -> tuple[asg.Draws, str]:
    """Placebo sites (compact; slots are indices into ``w.units``) and their description:
    every placebo site when they number at most :data:`assignments.EXACT_BUDGET` (a draw
    costs no refit here), else ``draws`` sampled."""
    k = int(w.treated.sum())
    if w.areas is None:
        controls = np.flatnonzero(~w.treated)
        labels = np.zeros(len(controls), dtype=int)
        labels[:k] = 1
        out = asg.uniform_draws(labels, draws, rng, asg.EXACT_BUDGET)
        sites = asg.Draws(controls[out.slots], out.labels, len(w.units), out.exact)
        return sites, f"placebo sites of {k} drawn from all controls"
    out = asg.grouped_draws(w.treated.astype(int), w.areas, draws, rng, asg.EXACT_BUDGET)
    return out, f"placebo sites of {k} drawn within one of {out.n_areas} areas"


def _site_sums(sites: asg.Draws, values: np.ndarray) -> np.ndarray:
    """Per placebo site, the sum of its units' rows of ``values`` (units x years)."""
    n, k = sites.slots.shape
    incidence = sparse.csr_matrix(
        (np.ones(n * k), sites.slots.ravel(), np.arange(0, n * k + 1, k)), (n, sites.n_slots)
    )
    return np.asarray(incidence @ values)


def _check_agreement(site: ItsResult, refit: np.ndarray, names: list[str]) -> None:
    for j, name in enumerate(names):
        official, se = getattr(site, name).estimate, getattr(site, name).se
        if not abs(refit[j] - official) <= AGREEMENT_TOL * max(se, 1e-12 * abs(official)):
            raise RuntimeError(
                f"its_placebo: the batched refit of the site's {name} ({refit[j]:.8g}) differs "
                f"from estimate_its ({official:.8g}); the ITS point estimator changed and the "
                "placebo refits must follow it"
            )


@dataclass
class PlaceboDraws:
    """The site's and the placebo sites' estimates, from one vectorised refit."""

    effects: list[str]
    observed: np.ndarray  # one estimate per effect
    placebo: pd.DataFrame  # draw, units, weight, [area], one column per effect
    exact: bool
    weights: np.ndarray | None
    scheme: str
    series: pd.DataFrame  # the site and comparison series (see site_series)
    n_treated: int
    n_controls: int
    n_areas: int | None  # areas holding a placebo site (draws within areas), else None

    def p_value(self, effect: str, estimate: float | None = None) -> float:
        """Two-sided: (1 + placebos with |estimate| at least the site's) / (1 + B)."""
        est = self.observed[self.effects.index(effect)] if estimate is None else estimate
        values = self.placebo[effect].to_numpy(float)
        return ri_pvalue(est, values, self.exact, self.weights, observed_included=False)

    def interval(
        self, effect: str, alpha: float, estimate: float | None = None
    ) -> tuple[float, float]:
        """The constant effects the same test does not reject at ``alpha``."""
        est = self.observed[self.effects.index(effect)] if estimate is None else estimate
        values = self.placebo[effect].to_numpy(float)
        return _interval(float(est), values, self.exact, self.weights, alpha)


def placebo_space(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    exposure: str,
    treated: Any,
    start: float,
    draws: int,
    rng: np.random.Generator | np.random.SeedSequence | int,
    family: str = "quasipoisson",
    slope: bool = True,
    controlled: bool = True,
    area: str | None = None,
) -> PlaceboDraws:
    """Placebo sites of the site's size drawn from the controls, each fitted like the site.

    Arguments as :func:`estimate_its_placebo`; no :func:`estimate_its` call, so cheap
    enough for a Monte Carlo study. Each placebo is compared with the controls it leaves.
    """
    if family not in FAMILIES:
        raise DesignError(f"unknown family '{family}'; choose from {', '.join(FAMILIES)}")
    if draws < 1:
        raise DesignError(f"draws must be at least 1, got {draws}")
    w = wide_panel(data, unit, time, outcome, exposure, treated, area)
    series = series_of(w, w.treated)
    cols = ("y", "exposure", "yc", "exposure_c")
    fit = {"t": w.years, "start": start, "family": family, "slope": slope, "controlled": controlled}
    observed = batch_estimates(tuple(series[c].to_numpy() for c in cols), **fit)[0]
    sites, scheme = _assignments(w, draws, np.random.default_rng(rng))
    exact, weights, n = sites.exact, sites.weights, len(sites)
    y_p, e_p = _site_sums(sites, w.counts), _site_sums(sites, w.exposure)
    ctrl = ~w.treated
    y_c, e_c = w.counts[ctrl].sum(axis=0) - y_p, w.exposure[ctrl].sum(axis=0) - e_p
    estimates = np.concatenate(
        [
            batch_estimates(tuple(a[s : s + FIT_CHUNK] for a in (y_p, e_p, y_c, e_c)), **fit)
            for s in range(0, n, FIT_CHUNK)
        ]
    )
    effects = list(EFFECTS[: 1 + slope])
    table = pd.DataFrame(
        {
            "draw": np.arange(n),
            "units": w.units[sites.slots].tolist(),
            "weight": weights if weights is not None else np.full(n, 1.0 / n),
        }
    )
    if w.areas is not None and w.area_names is not None:
        table["area"] = np.asarray(w.area_names)[w.areas[sites.slots[:, 0]]]
    for j, name in enumerate(effects):
        table[name] = estimates[:, j]
    return PlaceboDraws(
        effects,
        observed,
        table,
        exact,
        weights,
        scheme,
        series,
        int(w.treated.sum()),
        int(ctrl.sum()),
        sites.n_areas,
    )


def estimate_its_placebo(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    exposure: str,
    treated: Any,
    start: float,
    draws: int,
    rng: np.random.Generator | np.random.SeedSequence | int,
    family: str = "quasipoisson",
    slope: bool = True,
    controlled: bool = True,
    area: str | None = None,
    alpha: float = 0.05,
    in_time: bool = True,
) -> ItsPlaceboResult:
    """A site's ITS with placebo-in-space p-values and intervals, and placebo-in-time.

    ``data`` is long, one row per ``unit`` x ``time``, with a count ``outcome`` and its
    ``exposure`` (e.g. deaths and person-years; Gaussian fits model their ratio). The
    ``treated`` units form the site, every other unit is a control. ``controlled`` fits the
    site against the summed controls (each placebo against the controls it leaves).
    ``area`` draws placebo sites inside one area at a time (a unit without an area is
    never drawn). ``rng``: a Generator, SeedSequence or integer seed; identical seeds give
    identical draws. ``in_time`` adds the placebo-in-time table (:func:`placebo_in_time`).
    """
    draws_ = placebo_space(
        data,
        unit=unit,
        time=time,
        outcome=outcome,
        exposure=exposure,
        treated=treated,
        start=start,
        draws=draws,
        rng=rng,
        family=family,
        slope=slope,
        controlled=controlled,
        area=area,
    )
    kw = _its_kwargs(family, slope, controlled)
    site = estimate_its(draws_.series, start=start, alpha=alpha, **kw)
    _check_agreement(site, draws_.observed, draws_.effects)
    table = None
    if in_time:
        table = placebo_in_time(
            draws_.series,
            start=start,
            family=family,
            slope=slope,
            controlled=controlled,
            alpha=alpha,
        )
    return ItsPlaceboResult(
        site=site, draws=draws_, controlled=controlled, alpha=alpha, in_time=table
    )


# --- the result --------------------------------------------------------------------------


@dataclass
class ItsPlaceboResult:
    """A site's ITS fit with placebo-in-space inference per effect, and placebo-in-time."""

    site: ItsResult
    draws: PlaceboDraws
    controlled: bool
    alpha: float
    in_time: pd.DataFrame | None = None

    @property
    def log_link(self) -> bool:
        return self.site.family != "gaussian"

    def n_placebos(self, effect: str) -> int:
        return int(np.isfinite(self.draws.placebo[effect].to_numpy(float)).sum())

    def p_value(self, effect: str) -> float:
        return self.draws.p_value(effect, getattr(self.site, effect).estimate)

    def interval(self, effect: str) -> tuple[float, float]:
        return self.draws.interval(effect, self.alpha, getattr(self.site, effect).estimate)

    def precision(self, effect: str) -> dict[str, Any]:
        """How sure the effect's p-value is: exact or sampled, its Monte Carlo error, the
        number of areas and the resolution they support (see :func:`mark_precision`)."""
        res = InferenceResult("placebo_space", self.p_value(effect))
        mark_precision(res, self.draws.exact, self.n_placebos(effect), self.draws.n_areas)
        return {**res.precision(), "resolution_note": res.note}

    def note(self, effect: str | None = None) -> str:
        d = self.draws
        out = f"{d.scheme} ({'exact enumeration' if d.exact else 'sampled'})"
        out += "; interval inverts the placebo test under a constant effect"
        dropped = len(d.placebo) - self.n_placebos("level_change")
        if dropped:
            out += f"; {dropped} placebo fits failed and were dropped"
        resolution = self.precision(effect)["resolution_note"] if effect else None
        return f"{out}; {resolution}" if resolution else out

    def tidy(self) -> pd.DataFrame:
        """One row per effect: estimate, rate ratio (log link), placebo interval, p-value,
        and how sure the p-value is (``p_kind``, ``p_mcse``, ``n_areas``, ...)."""
        rows = []
        for name in self.draws.effects:
            est = getattr(self.site, name).estimate
            lo, hi = self.interval(name)
            precision = self.precision(name)
            precision.pop("resolution_note")
            rows.append(
                {
                    "effect": name,
                    "estimate": est,
                    "rate_ratio": _exp(est) if self.log_link else None,
                    "ci_low": lo,
                    "ci_high": hi,
                    "ratio_ci_low": _exp(lo) if self.log_link else None,
                    "ratio_ci_high": _exp(hi) if self.log_link else None,
                    "p_value": self.p_value(name),
                    "inference": "placebo_space",
                    "n_placebos": self.n_placebos(name),
                    "note": self.note(name),
                    **precision,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the site's fit, the tidy rows, the placebo draws, placebo-in-time."""
        d = self.draws
        return json_safe(
            {
                "site": self.site.to_dict(),
                "effects": self.tidy(),
                **_stored_placebos(d.placebo, d.effects),
                "exact": d.exact,
                "scheme": d.scheme,
                "n_treated": d.n_treated,
                "n_controls": d.n_controls,
                "n_areas": d.n_areas,
                "controlled": self.controlled,
                "alpha": self.alpha,
                "in_time": self.in_time,
            }
        )

    def plot(self, effect: str = "level_change", ax: Any = None) -> Any:
        """Histogram of the placebo estimates, the site's estimate and interval marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        values = self.draws.placebo[effect].to_numpy(float)
        ok = np.isfinite(values)
        weights = self.draws.placebo["weight"].to_numpy(float)[ok]
        ax.hist(values[ok], bins=30, weights=weights / weights.sum(), color="grey", alpha=0.6)
        est = getattr(self.site, effect).estimate
        ax.axvline(est, color="crimson", linewidth=2)
        lo, hi = self.interval(effect)
        if np.isfinite(lo) and np.isfinite(hi):
            ax.axvspan(lo, hi, color="crimson", alpha=0.1)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(
            f"site {est:.3g} (p = {self.p_value(effect):.3f}) among {ok.sum()} placebo sites"
        )
        scale = "log rate ratio" if self.log_link else "rate"
        ax.set_xlabel(f"{effect.replace('_', ' ')} ({scale})")
        ax.set_ylabel("share of placebo sites")
        return ax


def _stored_placebos(placebo: pd.DataFrame, effects: list[str]) -> dict[str, Any]:
    """The placebo draws for the JSON: all of them up to :data:`STORED_DRAWS`, else (an
    exact enumeration of many sets) their weighted percentiles per effect."""
    if len(placebo) <= STORED_DRAWS:
        return {"placebo": placebo}
    levels = np.linspace(0, 1, 101)
    summary = {"percent": (100 * levels).round().astype(int).tolist(), "n": len(placebo)}
    for name in effects:
        values = placebo[name].to_numpy(float)
        ok = np.isfinite(values)
        order = np.argsort(values[ok])
        cum = np.cumsum(placebo["weight"].to_numpy(float)[ok][order])
        idx = np.searchsorted(cum / cum[-1], levels).clip(0, ok.sum() - 1)
        summary[name] = values[ok][order][idx].tolist()
    return {"placebo": None, "placebo_percentiles": summary}


def _exp(value: float) -> float:
    return math.exp(value) if math.isfinite(value) else (math.inf if value > 0 else 0.0)
