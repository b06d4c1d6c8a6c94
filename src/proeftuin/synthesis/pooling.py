"""Cross-site synthesis: gather site results, pool them, and score the Triple Aim.

Pooling is a random-effects meta-analysis (DerSimonian–Laird, with a Hartung–Knapp
interval) of the sites' DiD estimates per outcome, with heterogeneity (tau², I²,
Cochran's Q). Sites' estimates are pooled only with intervals from one inference method.
The scorecard grades each site by the most robust method it has: randomization inference
over placebo sites (exact under the sharp null with few treated municipalities), else the
wild cluster bootstrap, else CRV1; interval, p-value and method come from that one row. A
wild bootstrap flagged unreliable (too few treated clusters) never leads or pools. No
evidence label claims more than the placebo scheme resolves: a p-value from placebo sites
drawn within A areas is graded as if it were at least 1/(A + 1) (``p_resolution``).

Neighbouring sites (the two Limburg sites share the COROP area Zuid-Limburg and their
placebo sites) may share shocks, which independent pooling ignores. Beside it,
:func:`pool` gives a pooled estimate that pools sites sharing an area first
(:func:`shared_areas`), as if their errors were perfectly correlated (the conservative
bound: their combined standard error is the weighted mean of theirs), and then pools the
clusters as independent: the ``*_shared`` columns, with their own minimum detectable effect.

What goes in is decided by the run manifest (:mod:`proeftuin.pipeline.results`), not by which files
happen to exist: :func:`inputs` refuses a manifest made under another plan, and pools only
sites whose task succeeded and whose results files are the ones the manifest lists.
Every other site gets a row saying why it is out (failed, not run, from another plan).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin.core import provenance, settings
from proeftuin.core.errors import ResultsError
from proeftuin.designs.headline import EVIDENCE_PREFERENCE, INTERVAL_PREFERENCE, headline, trusted
from proeftuin.designs.headline import finite as _finite
from proeftuin.pipeline import results

Z95 = stats.norm.ppf(0.975)
EVIDENCE_LEVELS = ((0.01, "strong"), (0.05, "moderate"), (0.10, "weak"))
POOLED_COLUMNS = [
    "outcome", "design", "method", "estimate", "se", "ci_low", "ci_high", "p_value", "mde",
    "se_dl", "se_hk", "tau2", "i2", "q_p", "k",
    "estimate_shared", "se_shared", "ci_low_shared", "ci_high_shared", "p_value_shared",
    "mde_shared", "k_shared", "clusters",
]  # fmt: skip
SHARED = ("estimate", "se", "ci_low", "ci_high", "p_value", "mde", "k")
POWER = 0.80  # of the minimum detectable effect, at the 5% level (two-sided)
INPUT_COLUMNS = ["site", "notebook", "status", "note"]
SCORECARD_COLUMNS = [
    "site", "dimension", "outcome", "design", "estimate", "ci_low", "ci_high", "p_value",
    "p_kind", "n_areas", "p_resolution", "method", "evidence", "direction", "mde", "mde_pct",
    "detectable",
]  # fmt: skip
#: An MDE up to this % of the site's pre-period mean rules out effects of policy interest
#: (the Pioneer sites aimed to slow cost growth by a few percent): "no effect larger than
#: the MDE"; above it a null finding is "too noisy to say".
INFORMATIVE_MDE_PCT = 5.0


class SynthesisInputError(ResultsError):
    """The results cannot be synthesised as they are (e.g. made under another plan)."""


@dataclass
class Inputs:
    """Per site and design: whether its results go into the synthesis, and if not, why."""

    status: pd.DataFrame  # INPUT_COLUMNS; status: ok | cached | failed | not_run | ...

    def usable(self, notebook: str) -> list[str]:
        rows = self.status[self.status["notebook"] == notebook]
        return rows.loc[rows["status"].isin(results.GOOD), "site"].tolist()

    def excluded(self, notebook: str) -> pd.DataFrame:
        rows = self.status[self.status["notebook"] == notebook]
        return rows[~rows["status"].isin(results.GOOD)].reset_index(drop=True)

    def note(self) -> str:
        """A prominent note when anything is out; else a one-line all-clear."""
        out = self.status[~self.status["status"].isin(results.GOOD)]
        if out.empty:
            return "All sites' results are complete and from the current plan."
        lines = [f"- **{r.site} / {r.notebook}: {r.status.replace('_', ' ')}** ({r.note})"
                 for r in out.itertuples()]  # fmt: skip
        return "**⚠ INCOMPLETE: not every site is in this synthesis.**\n\n" + "\n".join(lines)


def inputs(
    sites: Sequence[str],
    designs: Sequence[str],
    plan_hash: str = "",
    manifest: results.Manifest | None = None,
) -> Inputs:
    """What the run manifest says of each site's tasks; refuses another plan's manifest."""
    manifest = manifest or results.read_manifest()
    if plan_hash and manifest.plan_hash != plan_hash:
        raise SynthesisInputError(
            f"the run manifest is for plan {manifest.plan_hash[:12]}, this synthesis for plan "
            f"{plan_hash[:12]}: rerun `proeftuin run` without --site"
        )
    rows = []
    for site in sites:
        for notebook in designs:
            entry = manifest.task(f"{site}/{notebook}")
            if entry is None:
                rows.append((site, notebook, "not_run", "not in the run manifest"))
                continue
            if not entry.succeeded:
                why = entry.error.message if entry.error else (entry.note or entry.status)
                rows.append((site, notebook, entry.status, why))
                continue
            changed = [o.path for o in entry.outputs if not _unchanged(o)]
            status, note = ("stale", f"changed since the run: {changed[0]}") if changed else (
                entry.status, "")  # fmt: skip
            rows.append((site, notebook, status, note))
    return Inputs(pd.DataFrame(rows, columns=INPUT_COLUMNS))


def _unchanged(output: results.OutputFile) -> bool:
    path = settings.project_root() / output.path
    return path.is_file() and provenance.sha256_file(path) == output.sha256


def collect(sites: Sequence[str], design: str = "did", root: Path | None = None) -> pd.DataFrame:
    """Every site's ``<design>_estimates.csv`` stacked; sites without one are skipped."""
    root = root or settings.results_dir()
    frames = [
        pd.read_csv(path)
        for site in sites
        if (path := root / site / f"{design}_estimates.csv").is_file()
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def coverage_note(sites: Sequence[str], table: pd.DataFrame) -> str:
    """Which sites have results, in one sentence (missing ones named)."""
    present = set(table["site"]) if "site" in table else set()
    missing = [r for r in sites if r not in present]
    note = f"sites with results: {len(present)} of {len(sites)}"
    return note + (f"; missing: {', '.join(missing)}" if missing else "")


def pool(table: pd.DataFrame, clusters: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Random-effects pooled estimate per outcome across sites (needs two or more).

    Per outcome, every site's interval comes from one and the same inference method: the
    first of ``INTERVAL_PREFERENCE`` that gives an interval for the most sites. With
    ``clusters`` (site -> cluster, :func:`shared_areas`) the ``*_shared`` columns pool the
    sites of a cluster first (:func:`combine_neighbours`), then the clusters.
    """
    rows: list[dict[str, object]] = []
    if table.empty:
        return pd.DataFrame(rows, columns=POOLED_COLUMNS)
    for outcome, group in _comparable(table).groupby("outcome", sort=True):
        if len(group) >= 2:
            pooled = pool_effects(group["estimate"], _se(group))
            design = group["design"].iloc[0] if "design" in group else "did"
            rows.append({"outcome": outcome, "design": design, "method": group["method"].iloc[0],
                         **pooled, **_pool_shared(group, clusters)})  # fmt: skip
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


def shared_areas(sites: Sequence[str], area: str = "corop_region") -> dict[str, str]:
    """Per site its cluster: sites whose municipalities share an ``area`` (COROP) form one,
    named by their ids joined with '+'; every other site is its own cluster."""
    from proeftuin.data.processed import load_covariates
    from proeftuin.data.sites import load_registry

    registry, regions = load_registry(), load_covariates().set_index("municipality")[area]
    areas = {s: set(regions.reindex(registry.sites[s].municipalities).dropna()) for s in sites}
    cluster = {s: {s} for s in sites}
    for a in sites:
        for b in sites:
            if a < b and areas[a] & areas[b]:
                merged = cluster[a] | cluster[b]
                for member in merged:
                    cluster[member] = merged
    return {s: "+".join(sorted(members)) for s, members in cluster.items()}


def combine_neighbours(estimates: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """One estimate of sites that share an area: their inverse-variance mean, with the
    standard error it has if their errors are perfectly correlated (the weighted mean of
    their SEs; never below what independence would give)."""
    w = 1 / se**2
    return float(np.sum(w * estimates) / w.sum()), float(np.sum(w * se) / w.sum())


def _pool_shared(group: pd.DataFrame, clusters: Mapping[str, str] | None) -> dict[str, object]:
    if not clusters:
        return {}
    ids = group["site"].map(lambda s: clusters.get(s, s))
    se = _se(group).to_numpy(float)
    est, errs, shared = [], [], []
    for name, idx in group.groupby(ids.to_numpy()).indices.items():
        e, v = combine_neighbours(group["estimate"].to_numpy(float)[idx], se[idx])
        est.append(e)
        errs.append(v)
        shared += [str(name)] * (len(idx) > 1)  # a cluster with one site here pools nothing
    out: dict[str, object] = {"clusters": "; ".join(shared) or "none shared"}
    if len(est) < 2:
        return out
    pooled = pool_effects(pd.Series(est), pd.Series(errs))
    return out | {f"{k}_shared": pooled[k] for k in SHARED}


def pooling_table(
    did: pd.DataFrame, synth: pd.DataFrame, pooled_design: dict[str, str]
) -> pd.DataFrame:
    """Per outcome the rows of the design the plan pools (``did``, ``sdid`` or ``sc``), with
    ``design`` naming it; outcomes not in ``pooled_design`` take the DiD's rows."""
    frames = []
    for outcome in dict.fromkeys([*did.get("outcome", []), *pooled_design]):
        design = pooled_design.get(outcome, "did")
        if design == "did":
            rows = did[did["outcome"] == outcome] if len(did) else did
        elif len(synth):
            rows = synth[(synth["outcome"] == outcome) & (synth["estimator"] == design)]
        else:
            continue
        frames.append(rows.assign(design=design))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    """Per outcome, the rows of the single method with an interval for the most sites."""
    usable = _finite(
        trusted(table[table["method"].isin(INTERVAL_PREFERENCE)]),
        ("estimate", "ci_low", "ci_high"),
    )
    rank = {m: i for i, m in enumerate(INTERVAL_PREFERENCE)}
    counts = usable.groupby(["outcome", "method"])["site"].nunique().reset_index(name="n")
    counts = counts.assign(rank=counts["method"].map(rank))
    best = counts.sort_values(["n", "rank"], ascending=[False, True]).drop_duplicates("outcome")
    return usable.merge(best[["outcome", "method"]], on=["outcome", "method"])


def _se(rows: pd.DataFrame) -> pd.Series:
    """Standard error implied by a 95% interval (robust methods report intervals)."""
    return (rows["ci_high"] - rows["ci_low"]) / (2 * Z95)


def pool_effects(estimates: pd.Series, se: pd.Series) -> dict[str, float]:
    """DerSimonian–Laird random effects with a Hartung–Knapp (HKSJ) interval.

    The point estimate, tau² (truncated at zero) and I² are DerSimonian–Laird's, from
    statsmodels' ``combine_effects``, which leaves a negative moment estimate of tau²
    untruncated; with tau² = 0 the estimate is the fixed-effect one. With few sites a
    normal-based interval is too narrow, so the interval and p-value use the Hartung–Knapp
    variance with a t distribution on k - 1 degrees of freedom, never below the
    DerSimonian–Laird variance (the modified Hartung–Knapp of Röver, Knapp & Friede 2015,
    BMC Med Res Methodol 15:99): with two or three sites whose estimates happen to agree,
    the plain Hartung–Knapp variance collapses towards zero and gives an interval far
    narrower than any site's own. The DerSimonian–Laird standard error is kept as ``se_dl``
    and the plain Hartung–Knapp one as ``se_hk``.

    ``mde`` is the minimum detectable effect of the pooled test: (t₀.₉₇₅ + t₀.₈₀) × se on
    k − 1 degrees of freedom (Bloom 1995, with the t distribution the interval uses; 2.80 × se
    with many sites), the smallest true effect the pooled test finds with 80% power.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    y, v = estimates.to_numpy(float), (se**2).to_numpy(float)
    with warnings.catch_warnings():  # a negative tau² makes statsmodels warn on its sqrt
        warnings.simplefilter("ignore", RuntimeWarning)
        res = combine_effects(y, v, method_re="dl")
    tau2 = float(max(res.tau2, 0.0))
    weights = 1 / (v + tau2)
    estimate = float(np.sum(weights * y) / np.sum(weights))
    k = len(y)
    hk_se = float(np.sqrt(np.sum(weights * (y - estimate) ** 2) / ((k - 1) * np.sum(weights))))
    se_dl = float(np.sqrt(1 / np.sum(weights)))
    se = max(hk_se, se_dl)
    t_crit = stats.t.ppf(0.975, k - 1)
    return {
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - t_crit * se,
        "ci_high": estimate + t_crit * se,
        "p_value": float(2 * stats.t.sf(abs(estimate / se), k - 1)) if se > 0 else np.nan,
        "mde": float((t_crit + stats.t.ppf(POWER, k - 1)) * se),
        "se_dl": se_dl,
        "se_hk": hk_se,
        "tau2": tau2,
        "i2": float(max(res.i2, 0.0)),
        "q_p": float(stats.chi2.sf(res.q, res.df_resid)),
        "k": k,
    }


def evidence(p_value: float | None, resolution: float | None = None) -> str:
    """Plain-words strength of evidence against 'no effect', never finer than the
    ``resolution`` the placebo scheme supports (1/(areas + 1) for placebo sites within
    areas): the p-value graded is the larger of the two."""
    if p_value is None or not np.isfinite(p_value):
        return "none"
    floor = _num(resolution)
    graded = max(p_value, floor) if floor is not None else p_value
    return next((label for cut, label in EVIDENCE_LEVELS if graded < cut), "none")


def scorecard(
    table: pd.DataFrame,
    outcomes: Sequence[str],
    missing: pd.DataFrame | None = None,
    informative_pct: float = INFORMATIVE_MDE_PCT,
) -> pd.DataFrame:
    """Per site and Triple Aim dimension: the headline outcome, its effect and evidence.

    Estimate, interval, p-value and method all come from one row: the site's most robust
    inference method with a p-value. Without evidence the direction is 'inconclusive', and
    the minimum detectable effect tells two kinds of null apart (``detectable``): "no effect
    larger than" the MDE where it is at most ``informative_pct`` % of the site's pre-period
    mean, else "too noisy to say".
    Sites in ``missing`` (see :meth:`Inputs.excluded`) get rows whose direction says why
    they have no estimate ('failed', 'not run', ...).
    """
    from proeftuin.data.outcomes import get_outcome

    firsts: dict[str, str] = {}
    for name in outcomes:
        firsts.setdefault(get_outcome(name).dimension, name)
    tests = headline(table, EVIDENCE_PREFERENCE, needs=("estimate", "p_value"))
    rows: list[dict[str, object]] = []
    sites = sorted(table["site"].unique()) if not table.empty else []
    for dimension, outcome in firsts.items():
        better_if_higher = get_outcome(outcome).higher_is_better
        for site in sites:
            hit = tests[(tests["site"] == site) & (tests["outcome"] == outcome)]
            row = _scorecard_row(None if hit.empty else hit.iloc[0], better_if_higher)
            row["detectable"] = detectable(row, informative_pct)
            rows.append({"site": site, "dimension": dimension, "outcome": outcome, **row})
        for gone in [] if missing is None else missing.itertuples():
            row = _scorecard_row(None, better_if_higher) | {
                "direction": gone.status.replace("_", " ")
            }
            rows.append({"site": gone.site, "dimension": dimension, "outcome": outcome, **row})
    return pd.DataFrame(rows, columns=SCORECARD_COLUMNS)


def detectable(row: dict[str, object], informative_pct: float = INFORMATIVE_MDE_PCT) -> str:
    """What a null finding means, by the minimum detectable effect; '' when not a null."""
    if row.get("direction") != "inconclusive":
        return ""
    mde, pct = _num(row.get("mde")), _num(row.get("mde_pct"))
    if mde is None or pct is None:
        return "too noisy to say (no placebo distribution)"
    if pct <= informative_pct:
        return f"no effect larger than {mde:.3g} ({pct:.1f}% of the pre-period mean)"
    return f"too noisy to say: only effects of {mde:.3g} ({pct:.1f}%) or more were detectable"


def _num(value: object) -> float | None:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(number) if np.isfinite(number) else None


def _scorecard_row(test: pd.Series | None, higher_is_better: bool) -> dict[str, object]:
    if test is None:
        return {"design": None, "estimate": None, "ci_low": None, "ci_high": None,
                "p_value": None, "p_kind": None, "n_areas": None, "p_resolution": None,
                "method": None, "evidence": "none",
                "direction": "not estimable", "mde": None, "mde_pct": None}  # fmt: skip
    grade = evidence(test["p_value"], test.get("p_resolution"))
    improving = (test["estimate"] > 0) == higher_is_better
    direction = "inconclusive" if grade == "none" else ("better" if improving else "worse")
    return {
        "design": test.get("design", "did"),
        "estimate": test["estimate"],
        "ci_low": test["ci_low"],
        "ci_high": test["ci_high"],
        "p_value": test["p_value"],
        "p_kind": test.get("p_kind"),
        "n_areas": test.get("n_areas"),
        "p_resolution": test.get("p_resolution"),
        "method": test["method"],
        "evidence": grade,
        "direction": direction,
        "mde": test.get("mde"),
        "mde_pct": test.get("mde_pct"),
    }
