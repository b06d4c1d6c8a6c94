"""Scaling benchmark: synthetic panels of 1,000, 4,000, 16,000 and 34,000 units x 13 years.

Units stand for neighbourhoods, nested in 342 municipalities that are the clusters; the
units of 6 municipalities start in 2014. Each case runs in a fresh Python process: the
time of the measured call, the peak RSS of the process (imports and synthetic inputs
included) and the peak added by the measured call itself (the kernel's peak counter is
reset just before it), and the growth of each from one size to the next beside the growth
in units: memory that grows at most as fast as units is linear.

- panel build: the panel module's aggregation and validation steps (``cost_groups``,
  ``standard_weights``, ``vektis_outcomes`` with direct standardisation, ``_long_vektis``,
  ``assemble``, ``validate``) on synthetic Vektis cells (unit x sex x 19 age classes x
  24 cost columns per year). Not timed: generating the cells, and the name-to-code
  harmonisation (it needs the real municipality crosswalk). Above 9,999 units the codes
  are neighbourhood codes (``BU`` + 8 digits) and the code check is widened to them;
- each DiD estimator (TWFE, the 2x2, Callaway-Sant'Anna, imputation) with each of its
  inference methods (CRV1, wild bootstrap, RI; ``estimate_did``, no event study), the
  controlled ITS on the two aggregated series, and synthetic DiD and synthetic control
  with RI (``estimate_synth``, the treated units merged into one as in the notebooks,
  :data:`SYNTH_DRAWS` placebo draws over all units, weights refitted per draw).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CallPeak, Table, in_child, report  # noqa: E402

SIZES = (1_000, 4_000, 16_000, 34_000)
CLUSTERS, TREATED, START = 342, 6, 2014
YEARS = tuple(range(2011, 2024))
DRAWS = 999
MIN_DRAWS = 19  # estimate_did refuses fewer
CASES = (
    ("panel build", None),
    ("twfe", "crv1"), ("twfe", "wild"), ("twfe", "ri"),
    ("2x2", "crv1"), ("2x2", "wild"), ("2x2", "ri"),
    ("cs", "crv1"), ("cs", "wild_unrestricted"), ("cs", "ri"),
    ("imputation", "crv1"), ("imputation", "ri"),
    ("its", "newey-west"),
    ("sdid", "ri"), ("sc", "ri"),
)  # fmt: skip
SYNTH_DRAWS = 200  # the notebooks' cap on synthetic-control RI draws (synthetic.MAX_DRAWS)


def codes(n: int) -> np.ndarray:
    prefix, width = ("GM", 4) if n <= 9_999 else ("BU", 8)
    return np.array([f"{prefix}{i + 1:0{width}d}" for i in range(n)])


# ----------------------------------------------------------------------------- panel build


def synthetic_cells(units: np.ndarray, year: int, rng: np.random.Generator):
    """Vektis-like cells: unit x sex x age with insured counts and integer costs (cents)."""
    from proeftuin.data import outcomes
    from proeftuin.sources import vektis

    cost_cols = list(dict.fromkeys([*outcomes.BASKET, *outcomes.GROUPS["mental_health"]]))
    n = len(units) * len(vektis.SEXES) * len(vektis.AGE_CLASSES)
    cells = pd.DataFrame({
        "municipality": np.repeat(units, len(vektis.SEXES) * len(vektis.AGE_CLASSES)),
        "sex": np.tile(np.repeat(vektis.SEXES, len(vektis.AGE_CLASSES)), len(units)),
        "age": np.tile(vektis.AGE_CLASSES, len(units) * len(vektis.SEXES)),
        "insured": rng.integers(20, 500, n),
    })  # fmt: skip
    cells["insured_years"] = cells["insured"] * 95
    for col in cost_cols:
        cells[col] = rng.integers(0, 5_000_000, n)
    return cells, cost_cols


def _validate(panel: pd.DataFrame) -> pd.DataFrame:
    import pandera.pandas as pa

    from proeftuin.data import panel as pm

    if panel["municipality"].iloc[0].startswith("GM"):
        return pm.validate(panel)
    schema = pm.panel_schema(panel["municipality"].nunique()).update_column(
        "municipality", checks=[pa.Check.str_matches(r"^BU\d{8}$")]
    )
    return schema.validate(panel, lazy=True)


def build_case(n: int) -> dict:
    """(In a child) the aggregation and validation steps on n synthetic units."""
    from proeftuin.data import panel as pm

    rng, units = np.random.default_rng(n), codes(n)
    peak = CallPeak().__enter__()
    generating, start = 0.0, time.perf_counter()
    grouped = {}
    for year in YEARS:
        g0 = time.perf_counter()
        cells, cost_cols = synthetic_cells(units, year, rng)
        generating += time.perf_counter() - g0
        grouped[year] = pm.cost_groups(cells, cost_cols)
        del cells
    weights = pm.standard_weights(grouped[pm.STANDARD_YEAR])
    wide = {y: pm.vektis_outcomes(c, weights) for y, c in grouped.items()}
    del grouped
    names = pd.Series(units, index=units)
    panel = _validate(pm.assemble([pm._long_vektis(wide)], names))
    seconds = time.perf_counter() - start - generating
    peak.__exit__()
    return {"seconds": seconds, "rows": len(panel), "call_mib": peak.mib,
            "peak_mib": peak.life_mib}  # fmt: skip


# ----------------------------------------------------------------------------- estimators


def synthetic_frame(n: int) -> pd.DataFrame:
    """Long frame for one outcome: unit and year effects, a planted effect of 50, weights."""
    rng = np.random.default_rng(n + 1)
    cluster = np.arange(n) * CLUSTERS // n
    first = np.where(cluster < TREATED, START, 0)
    t = np.array(YEARS)
    d = (first[:, None] > 0) & (t[None, :] >= first[:, None])
    y = (rng.normal(2000, 300, (n, 1)) + 20 * (t - 2011)[None, :]
         + rng.normal(0, 40, (CLUSTERS, len(t)))[cluster] + 50 * d
         + rng.normal(0, 60, (n, len(t))))  # fmt: skip
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n), len(t)), "year": np.tile(t, n),
        "cluster": np.repeat(cluster, len(t)), "value": y.ravel(),
        "weight": np.repeat(rng.uniform(100, 5000, n), len(t)),
        "first_treated": np.repeat(first, len(t)),
    })  # fmt: skip


def _did(frame: pd.DataFrame, method: str, inference: str, draws: int) -> float:
    from proeftuin.estimators import estimate_did

    start = time.perf_counter()
    estimate_did(frame, unit="unit", time="year", outcome="value", first_treated="first_treated",
                 cluster="cluster", weights="weight", method=method, inference=[inference],
                 draws=draws, seed=1, event_study=False)  # fmt: skip
    return time.perf_counter() - start


def _its(frame: pd.DataFrame) -> float:
    from proeftuin.estimators import estimate_its

    start = time.perf_counter()
    grp = np.where(frame["first_treated"] > 0, "site", "control")
    f = frame.assign(group=grp, wv=frame["value"] * frame["weight"])
    sums = f.groupby(["year", "group"])[["wv", "weight"]].sum()
    series = (sums["wv"] / sums["weight"]).unstack("group").reset_index()
    estimate_its(series, time="year", outcome="site", start=START, control="control")
    return time.perf_counter() - start


def _synth(frame: pd.DataFrame, method: str, draws: int) -> float:
    from proeftuin.estimators import estimate_synth

    start = time.perf_counter()
    treated = (frame["first_treated"] > 0) & (frame["year"] >= frame["first_treated"])
    estimate_synth(frame.assign(treated=treated.astype(int)), unit="unit", time="year",
                   outcome="value", treated="treated", method=method, inference=["ri"],
                   draws=draws, seed=1, aggregate=True, weights="weight")  # fmt: skip
    return time.perf_counter() - start


def estimator_case(n: int, method: str, inference: str, draws: int) -> dict:
    """(In a child) one estimator with one inference method on n synthetic units."""
    frame = synthetic_frame(n)
    if method == "its":
        _its(synthetic_frame(CLUSTERS))  # warm-up: imports out of the call's peak
        with CallPeak() as peak:
            seconds = _its(frame)
        return {"seconds": seconds, "call_mib": peak.mib, "peak_mib": peak.life_mib}
    if method in ("sdid", "sc"):
        _synth(synthetic_frame(CLUSTERS), method, MIN_DRAWS)  # warm-up: the compiled solver
        with CallPeak() as peak:
            seconds = _synth(frame, method, min(draws, SYNTH_DRAWS))
        return {"seconds": seconds, "call_mib": peak.mib, "peak_mib": peak.life_mib}
    _did(synthetic_frame(CLUSTERS), method, "crv1", MIN_DRAWS)  # warm-up, smallest panel
    with CallPeak() as peak:
        seconds = _did(frame, method, inference, draws)
    return {"seconds": seconds, "call_mib": peak.mib, "peak_mib": peak.life_mib}


# ----------------------------------------------------------------------------- table


def run_case(n: int, case: tuple, draws: int) -> dict:
    method, inference = case
    if method == "panel build":
        return in_child("bench_scaling:build_case", n=n)
    return in_child("bench_scaling:estimator_case", n=n, method=method, inference=inference,
                    draws=draws)  # fmt: skip


NOISE_MIB = 64.0  # below this the call's own peak is allocator noise: no growth verdict


def growth(prev: tuple[int, dict] | None, n: int, cur: dict) -> tuple[str, str]:
    """Growth of time, peak RSS and the call's own peak over the previous size, and
    whether the call's memory grew at most linearly in units."""
    if not prev or "seconds" not in prev[1] or "seconds" not in cur:
        return "", ""
    p, units = prev[1], n / prev[0]
    text = (f"{units:.1f}× units: {cur['seconds'] / p['seconds']:.1f}× time, "
            f"{cur['peak_mib'] / p['peak_mib']:.1f}× peak, "
            f"{cur['call_mib'] / max(p['call_mib'], 1.0):.1f}× call")  # fmt: skip
    if cur["call_mib"] <= NOISE_MIB:
        return text, "yes (call < 64 MiB)"
    linear = cur["call_mib"] <= 1.25 * units * max(p["call_mib"], NOISE_MIB)
    return text, "yes" if linear else "NO"


def label_of(case: tuple) -> str:
    return case[0] if case[1] is None else f"{case[0]} · {case[1]}"


def run(
    quick: bool = False, sizes: tuple[int, ...] | None = None, only: list[str] | None = None
) -> list[Table]:
    sizes = sizes or (SIZES[:2] if quick else SIZES)
    cases = [c for c in CASES if not only or label_of(c) in only]
    draws = 99 if quick else DRAWS
    t = Table(f"Scaling: synthetic panels × {len(YEARS)} years ({draws:,} draws for wild and RI)",
              ["case", "units", "rows", "wall s", "peak RSS MiB", "call peak MiB",
               "growth vs previous size", "memory ≤ linear", "note"])  # fmt: skip
    for case in cases:
        prev = None
        for n in sizes:
            out = run_case(n, case, draws)
            label = label_of(case)
            note = "; ".join(out["error"]) if "error" in out else ""
            if case[0] in ("sdid", "sc") and "error" not in out:
                note = f"{min(draws, SYNTH_DRAWS)} RI draws, weights refitted per draw"
            text, verdict = growth(prev, n, out)
            t.add(label, f"{n:,}", f"{n * len(YEARS):,}", out.get("seconds"),
                  out.get("peak_mib"), out.get("call_mib"), text, verdict, note)  # fmt: skip
            prev = (n, out)
    t.notes += [
        f"Units nested in {CLUSTERS} municipalities (the clusters); units of {TREATED} "
        f"municipalities treated from {START} (3 pre-period years, as the controlled ITS "
        "needs).",
        "wall s: the measured call only (estimate_did with one inference method and no event "
        "study, estimate_synth with RI, or the build steps). peak RSS: the child process's "
        "VmHWM over its life, interpreter, imports and synthetic inputs included. call peak: "
        "VmHWM reset (/proc/self/clear_refs) just before the measured call, minus the RSS "
        "then: what the call itself adds at its peak.",
        "memory ≤ linear: the call peak grew by at most 1.25 × the growth in units (or "
        f"stayed under {NOISE_MIB:.0f} MiB, allocator noise).",
        "Panel build: aggregation + standardisation + long format + pandera validation of "
        "synthetic Vektis cells; name harmonisation and cell generation are not timed.",
    ]
    return [t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 4,000 units, 99 draws")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--cases", help="comma-separated case labels, e.g. 'twfe · ri,2x2 · ri'")
    args = parser.parse_args()
    only = [c.strip() for c in args.cases.split(",")] if args.cases else None
    started = time.perf_counter()
    tables = run(args.quick, only=only)
    report(tables, title="Scaling benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
