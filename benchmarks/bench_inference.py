"""Inference benchmark: randomization inference and wild cluster bootstrap, 9,999 draws each.

One site and outcome of the real panel (maastricht-heuvelland, cost_basket_std, all
controls, insured-year weights). The project's estimators (``estimate_did``) against:
pyfixest's ``Feols.ritest`` and ``Feols.wildboottest`` (both refuse regression weights, so
they and the project's comparison rows are unweighted; their draws differ from ours, so
their p-values are compared for agreement, not identity) and a statsmodels WLS refit loop
with unit and year dummies over the *same* placebo assignments / Webb weights as the
project (timed on a subset of draws and extrapolated linearly to 9,999; the p-values
over that subset must be identical). First, RI against the former path (the package at
an earlier commit, ``--baseline``, run from a snapshot of its source): same draws, so
identical p-values, with the RI pre-trend test and with placebo sites as in the
notebooks.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Table, best_of, data_env, ratio, report  # noqa: E402

SITE, OUTCOME, SEED = "maastricht-heuvelland", "cost_basket_std", 20130701
KW = {"unit": "municipality", "time": "year", "outcome": "value",
      "first_treated": "first_treated", "cluster": "municipality",
      "event_study": False}  # fmt: skip


def real_frame() -> pd.DataFrame:
    data_env()
    from proeftuin.designs.comparison import load_inputs, site_design

    return site_design(SITE, load_inputs()).outcome_frame(OUTCOME)


def project(frame: pd.DataFrame, method: str, draws: int, weighted: bool, repeat: int):
    """Best-of-``repeat`` seconds of ``estimate_did`` with one inference method, and result."""
    from proeftuin.estimators import estimate_did

    kw = {**KW, "weights": "weight" if weighted else None}
    best, _, res = best_of(
        lambda: estimate_did(frame, inference=[method], draws=draws, seed=SEED, **kw), repeat
    )
    base, _, _ = best_of(lambda: estimate_did(frame, inference=["crv1"], **kw), repeat)
    return best, base, res


# ----------------------------------------------------------------------------- refit loops


def _panel(frame: pd.DataFrame):
    from proeftuin.estimators.did.estimate import prepare_panel

    return prepare_panel(frame, unit="municipality", time="year", outcome="value",
                         treated=None, first_treated="first_treated", cluster="municipality",
                         weights="weight", covariates=[])  # fmt: skip


def _dummies(df: pd.DataFrame) -> np.ndarray:
    units = pd.get_dummies(df["unit"], dtype=float).to_numpy()
    years = pd.get_dummies(df["time"], drop_first=True, dtype=float).to_numpy()
    return np.column_stack([units, years])


def sm_ri_loop(frame: pd.DataFrame, draws: int, subset: int) -> dict:
    """Refit WLS for the project's own first ``subset`` placebo assignments."""
    import statsmodels.api as sm

    from proeftuin.estimators.did import placebo
    from proeftuin.estimators.inference import assignments as asg
    from proeftuin.estimators.inference import methods as inf

    panel = _panel(frame)
    pdraws = placebo.placebo_draws(panel, draws, np.random.default_rng(SEED))
    some = asg.Draws(pdraws.draws.slots[:subset], pdraws.draws.labels[:subset],
                     pdraws.draws.n_slots, pdraws.draws.exact)  # fmt: skip
    g_rows = some.dense()[:, pdraws.unit_slot[pdraws.unit_index]]
    t, df = panel.df["time"].to_numpy(), panel.df
    dmat = ((g_rows > 0) & (t[None, :] >= g_rows)).astype(float)
    fe, y, w = _dummies(df), df["y"].to_numpy(), df["w"].to_numpy()
    start = time.perf_counter()
    ref = np.array([sm.WLS(y, np.column_stack([d, fe]), weights=w).fit().params[0] for d in dmat])
    per_fit = (time.perf_counter() - start) / subset
    proj, starts = pdraws.project(panel), placebo._starts(pdraws)
    tables = placebo.coefficient_tables(proj, pdraws.unit_slot, some.n_slots, starts, y,
                                        df["d"].to_numpy())  # fmt: skip
    ours = placebo.placebo_coefficients(proj, tables, starts, some)[0]
    est = float(sm.WLS(y, np.column_stack([df["d"], fe]), weights=w).fit().params[0])
    exact = pdraws.scheme.exact
    return {"seconds": per_fit * draws, "diff": float(np.max(np.abs(ours - ref))),
            "p_ours": inf.ri_pvalue(est, ours, exact),
            "p_ref": inf.ri_pvalue(est, ref, exact)}  # fmt: skip


def sm_wild_loop(frame: pd.DataFrame, draws: int, subset: int) -> dict:
    """Restricted wild bootstrap by refits with the project's own first ``subset`` draws."""
    import statsmodels.api as sm

    from proeftuin.estimators.did import panel as panel_mod
    from proeftuin.estimators.inference import methods as inf

    panel = _panel(frame)
    df = panel.df
    fe, y, w, d = _dummies(df), df["y"].to_numpy(), df["w"].to_numpy(), df["d"].to_numpy()
    codes = pd.factorize(df["cl"])[0]
    x = np.column_stack([d, fe])
    full = sm.WLS(y, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": codes})
    resid = panel_mod.residualizer(panel)
    ws = inf.wild_setup(y, d, resid, df["cl"].to_numpy(), float(full.bse[0]))
    v = inf.webb_weights(np.random.default_rng(SEED), draws, len(ws.a0))[:subset]
    null = sm.WLS(y, fe, weights=w).fit()
    start = time.perf_counter()
    t_ref = []
    for b in range(subset):
        star = null.fittedvalues + null.resid * v[b, codes]
        fit = sm.WLS(star, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": codes})
        t_ref.append(fit.params[0] / fit.bse[0])
    per_fit = (time.perf_counter() - start) / subset
    t_ours, t_obs = inf._boot_t(ws, v, 0.0)
    t_obs_ref = float(full.params[0] / full.bse[0])
    scale = t_obs / t_obs_ref  # statsmodels counts the dummies in its small-sample factor
    t_ref = np.array(t_ref) * scale
    return {"seconds": per_fit * draws, "diff": float(np.max(np.abs(t_ours - t_ref))),
            "p_ours": float(np.mean(np.abs(t_ours) >= abs(t_obs) - 1e-12)),
            "p_ref": float(np.mean(np.abs(t_ref) >= abs(t_obs) - 1e-12))}  # fmt: skip


# ----------------------------------------------------------------------------- pyfixest


def _pf_fit(frame: pd.DataFrame):
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = frame.assign(cl_id=pd.factorize(frame["municipality"])[0])  # numeric for numba
        return pf.feols("value ~ treated_post | municipality+year", data=frame,
                        vcov={"CRV1": "municipality"}, fixef_rm="none")  # fmt: skip


def pf_ritest(frame: pd.DataFrame, draws: int, subset: int) -> dict:
    """pyfixest ``ritest`` (unweighted): fast path if numba is present, slow path subset."""
    fit, out = _pf_fit(frame), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if importlib.util.find_spec("numba"):
            try:
                fit.ritest("treated_post", reps=10, rng=np.random.default_rng(1))  # compile
                best, _, res = best_of(lambda: fit.ritest(
                    "treated_post", reps=draws, rng=np.random.default_rng(SEED),
                    choose_algorithm="fast"), 1)  # fmt: skip
                out["fast"] = {"seconds": best, "p": float(res["Pr(>|t|)"])}
            except Exception as exc:  # the library's fast path fails on this design
                out["fast_error"] = f"{type(exc).__name__}: {exc}"
        start = time.perf_counter()
        res = fit.ritest("treated_post", reps=subset, rng=np.random.default_rng(SEED),
                         choose_algorithm="slow")  # fmt: skip
        out["slow"] = {"seconds": (time.perf_counter() - start) / subset * draws,
                       "p": float(res["Pr(>|t|)"])}  # fmt: skip
    return out


def pf_wild(frame: pd.DataFrame, draws: int) -> dict:
    """pyfixest ``wildboottest`` (needs the optional ``wildboottest`` package), Webb weights."""
    if not importlib.util.find_spec("wildboottest"):
        return {}
    fit, out = _pf_fit(frame), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for null in (True, False):
            best, _, res = best_of(lambda null=null: fit.wildboottest(
                reps=draws, param="treated_post", weights_type="webb", impose_null=null,
                seed=SEED, cluster="cl_id"), 1)  # fmt: skip
            out[null] = {"seconds": best, "p": float(res["Pr(>|t|)"])}
    return out


# ----------------------------------------------------------------------------- tables


def ri_table(frame: pd.DataFrame, draws: int, subset: int, repeat: int) -> Table:
    t_w, base_w, res_w = project(frame, "ri", draws, True, repeat)
    t_u, base_u, res_u = project(frame, "ri", draws, False, repeat)
    loop = sm_ri_loop(frame, draws, subset)
    pf = pf_ritest(frame, draws, min(subset, 100))
    t = Table(f"Inference: randomization inference, {draws:,} placebo draws ({SITE}, {OUTCOME})",
              ["implementation", "seconds", "p-value", "speed-up of project", "|Δ| vs project",
               "target"])  # fmt: skip
    ri_s = t_w - base_w
    verdict = "met" if ri_s < 1 and loop["seconds"] / ri_s >= 20 else "MISSED"
    t.add("project RI (weighted, as in the notebooks)", t_w, res_w.inference["ri"].p_value,
          "1.0×", "", f"< 1 s and ≥ 20× refits: {verdict}")  # fmt: skip
    t.add("project RI (unweighted)", t_u, res_u.inference["ri"].p_value, "", "", "")
    t.add(f"statsmodels WLS refit loop, same draws (extrapolated from {subset})",
          loop["seconds"], None, ratio(loop["seconds"], t_w), "", "")  # fmt: skip
    t.add(f"  p-value over those {subset} identical draws: project / refits", None,
          f"{loop['p_ours']:.4f} / {loop['p_ref']:.4f}", "",
          f"p: {abs(loop['p_ours'] - loop['p_ref']):.1g}; β: {loop['diff']:.2e}",
          "identical p: " + ("met" if loop["p_ours"] == loop["p_ref"] else "MISSED"))  # fmt: skip
    for key, label in (("fast", "numba fast path"), ("slow", "slow path, extrapolated")):
        if key in pf:
            t.add(f"pyfixest ritest, unweighted, {label}", pf[key]["seconds"], pf[key]["p"],
                  ratio(pf[key]["seconds"], t_u),
                  f"p: {abs(pf[key]['p'] - res_u.inference['ri'].p_value):.3g}",
                  "")  # fmt: skip
    if "fast_error" in pf:
        t.notes.append(f"pyfixest ritest fast path (numba) failed: {pf['fast_error']}.")
    elif "fast" not in pf:
        t.notes.append("pyfixest ritest fast path not measured: numba is not installed.")
    t.notes += [
        f"Project rows: best of {repeat} calls of estimate_did(inference=['ri']) (point "
        "estimate, placebo-in-time check and RI with its inverted confidence interval); the "
        f"same call with CRV1 only takes {base_w:.2f} s, so RI itself costs {ri_s:.2f} s.",
        "Project placebo draws keep the number of treated municipalities and their start "
        "year (permutations of cluster labels); pyfixest's ritest re-draws the treatment "
        "row by row (no cluster option: the unit effects would absorb a unit-constant draw) "
        "and supports no weights, so its p-value answers a different question: speed only.",
        f"Refit loop: statsmodels WLS with unit and year dummies per placebo assignment; "
        f"{subset} refits timed, × {draws:,} / {subset}. |Δ| β: largest absolute difference of "
        "the placebo coefficients over the identical draws.",
    ]
    return t


def wild_table(frame: pd.DataFrame, draws: int, subset: int, repeat: int) -> Table:
    t_w, base_w, res_w = project(frame, "wild", draws, True, repeat)
    t_u, base_u, res_u = project(frame, "wild", draws, False, repeat)
    subset = max(subset // 4, 5)  # a cluster-robust refit costs seconds: fewer refits
    loop = sm_wild_loop(frame, draws, subset)
    pf = pf_wild(frame, draws)
    t = Table(f"Inference: wild cluster bootstrap, {draws:,} Webb draws ({SITE}, {OUTCOME})",
              ["implementation", "seconds", "p restricted", "p unrestricted",
               "speed-up of project", "|Δ| vs project"])  # fmt: skip
    pr = res_w.inference
    t.add("project WCR + WCU with CIs (weighted)", t_w, pr["wild_restricted"].p_value,
          pr["wild_unrestricted"].p_value, "1.0×", "")  # fmt: skip
    pu = res_u.inference
    t.add("project WCR + WCU with CIs (unweighted)", t_u, pu["wild_restricted"].p_value,
          pu["wild_unrestricted"].p_value, "", "")  # fmt: skip
    t.add(f"statsmodels refit loop WCR, same draws (extrapolated from {subset})",
          loop["seconds"], None, None, ratio(loop["seconds"], t_w), "")  # fmt: skip
    t.add(f"  p over those {subset} identical draws: project / refits", None,
          f"{loop['p_ours']:.4f} / {loop['p_ref']:.4f}", None, "",
          f"p: {abs(loop['p_ours'] - loop['p_ref']):.1g}; t*: {loop['diff']:.2e}")  # fmt: skip
    if pf:
        secs = pf[True]["seconds"] + pf[False]["seconds"]
        dr = abs(pf[True]["p"] - pu["wild_restricted"].p_value)
        du = abs(pf[False]["p"] - pu["wild_unrestricted"].p_value)
        t.add("pyfixest wildboottest, unweighted, WCR + WCU (p-values only, no CIs)", secs,
              pf[True]["p"], pf[False]["p"], ratio(secs, t_u),
              f"p: {dr:.3g} (WCR), {du:.3g} (WCU)")  # fmt: skip
    else:
        t.notes.append("pyfixest wildboottest not measured: its optional package "
                       "'wildboottest' is not installed.")  # fmt: skip
    t.notes += [
        f"Project rows: best of {repeat} calls of estimate_did(inference=['wild']): the "
        "restricted bootstrap with its confidence interval by test inversion (bisection, "
        "one p-value per step) and the unrestricted one with a percentile-t interval; "
        f"CRV1 alone takes {base_w:.2f} s.",
        "pyfixest wildboottest supports no regression weights and returns p-values only "
        "(no interval); its draws differ from ours, so |Δ| p is Monte Carlo noise "
        f"(≈ {np.sqrt(0.25 / draws):.3f} at most for {draws:,} draws) plus small-sample factor "
        "differences.",
        "Refit loop: statsmodels WLS with dummies and cluster-robust SE on y* = restricted "
        "fit + residual × Webb weight, the project's own weights; t* rescaled by the ratio "
        "of observed t-statistics (statsmodels counts the dummies in its small-sample "
        "factor, a constant).",
    ]
    return t


# ----------------------------------------------------------------------------- former path

BASELINE_REV = "62fbfb7"  # main before RI by projection (compact draws, FWL sums)
CASES = (  # label, weighted, event study (so the RI pre-trend test), placebo group
    ("weighted, placebo municipalities, no event study (the row above)", True, False, None),
    ("weighted, placebo municipalities, event study + RI pre-trend test", True, True, None),
    ("as in the notebooks: placebo sites within COROP, event study + RI pre-trend",
     True, True, "placebo_area"),
)  # fmt: skip


def snapshot(rev: str) -> Path:
    """The package source at ``rev`` in a temporary folder (for PYTHONPATH)."""
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="proeftuin-baseline-"))
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=root, capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def ri_case(frame_path: str, weighted: bool, event_study: bool, group: str | None,
            draws: int, repeat: int) -> dict:  # fmt: skip
    """(In a child) best-of-``repeat`` estimate_did with RI, and with CRV1 alone."""
    import proeftuin
    from proeftuin.estimators import estimate_did

    frame = pd.read_parquet(frame_path)
    kw = {**KW, "event_study": event_study, "weights": "weight" if weighted else None,
          "placebo_group": group}  # fmt: skip
    best, _, res = best_of(
        lambda: estimate_did(frame, inference=["ri"], draws=draws, seed=SEED, **kw), repeat
    )
    base, _, _ = best_of(lambda: estimate_did(frame, inference=["crv1"], **kw), repeat)
    ri, pre = res.inference["ri"], res.pretrend or {}
    return {"seconds": best, "base": base, "p": ri.p_value, "lo": ri.ci_low, "hi": ri.ci_high,
            "pre_p": pre.get("ri_p_value"), "source": proeftuin.__file__}  # fmt: skip


def former_table(frame: pd.DataFrame, draws: int, repeat: int, rev: str) -> Table:
    import os
    import tempfile

    from _common import in_child

    src = snapshot(rev)
    path = Path(tempfile.mkdtemp(prefix="proeftuin-frame-")) / "frame.parquet"
    frame.to_parquet(path)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))}
    t = Table(f"RI by projection against the former path, {draws:,} draws ({SITE}, {OUTCOME})",
              ["case", "former s", "now s", "speed-up", "RI p former / now",
               "pre-trend RI p former / now", "|Δ| CI bounds", "peak MiB former / now",
               "target"])  # fmt: skip
    for label, weighted, event_study, group in CASES:
        kw = {"frame_path": str(path), "weighted": weighted, "event_study": event_study,
              "group": group, "draws": draws}  # fmt: skip
        old = in_child("bench_inference:ri_case", env=env, repeat=1, **kw)
        new = in_child("bench_inference:ri_case", repeat=repeat, **kw)
        if "error" in old or "error" in new:
            t.add(label, None, None, None, None, None, None, None,
                  "; ".join(old.get("error", []) + new.get("error", [])))  # fmt: skip
            continue
        assert str(src) in old["source"] and str(src) not in new["source"]
        same = old["p"] == new["p"] and old["pre_p"] == new["pre_p"]
        target = ""
        if event_study and group is None:
            met = new["seconds"] < 0.3 and same
            target = f"< 0.3 s, identical p: {'met' if met else 'MISSED'}"
        t.add(label, old["seconds"], new["seconds"], ratio(old["seconds"], new["seconds"]),
              f"{old['p']:.4f} / {new['p']:.4f}",
              "–" if old["pre_p"] is None else f"{old['pre_p']:.4f} / {new['pre_p']:.4f}",
              f"{max(abs(old['lo'] - new['lo']), abs(old['hi'] - new['hi'])):.1e}",
              f"{old['peak_mib']:.0f} / {new['peak_mib']:.0f}", target)  # fmt: skip
    t.notes += [
        f"former: the package at commit {rev} (a snapshot of its src/ on PYTHONPATH), one "
        f"call; now: this commit, best of {repeat}. Each a fresh process; seconds are the "
        "whole estimate_did call (point estimate, event study if any, placebo-in-time "
        "check, RI with its inverted interval and, with the event study, the RI pre-trend "
        "test); CRV1 alone takes about the same in both.",
        "Same seed, so the same placebo draws: the p-values must be identical; the interval "
        "bounds differ only by the former path's iterative demeaning (tolerance 1e-10).",
        "peak MiB: the child's peak RSS (interpreter, imports and the frame included).",
    ]
    return t


def run(quick: bool = False, baseline: str = BASELINE_REV) -> list[Table]:
    frame = real_frame()
    draws, subset, repeat = (999, 20, 1) if quick else (9999, 200, 3)
    return [
        former_table(frame, draws, repeat, baseline),
        ri_table(frame, draws, subset, repeat),
        wild_table(frame, draws, subset, repeat),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="999 draws, 20 refits, no repeats")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--baseline", default=BASELINE_REV, help="commit of the former path")
    args = parser.parse_args()
    started = time.perf_counter()
    tables = run(args.quick, args.baseline)
    report(tables, title="Inference benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
