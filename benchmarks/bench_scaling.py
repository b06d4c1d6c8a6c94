"""Scaling benchmark: synthetic panels of 342, 3,400 and 34,000 units x 13 years.

Units stand for municipalities (342) or neighbourhoods (3,400 and 34,000), nested in 342
municipalities that are the clusters; the units of 6 municipalities start in 2014. Each
case runs in a fresh Python process (time of the measured call; peak RSS of the process,
imports and synthetic inputs included):

- panel build: the panel module's aggregation and validation steps (``cost_groups``,
  ``standard_weights``, ``vektis_outcomes`` with direct standardisation, ``_long_vektis``,
  ``assemble``, ``validate``) on synthetic Vektis cells (unit x sex x 19 age classes x
  24 cost columns per year). Not timed: generating the cells, and the name-to-code
  harmonisation (it needs the real municipality crosswalk). Above 9,999 units the codes
  are neighbourhood codes (``BU`` + 8 digits) and the code check is widened to them;
- each DiD estimator with each inference method (``estimate_did``, no event study), and
  the controlled ITS on the two aggregated series.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Table, in_child, report  # noqa: E402

SIZES = (342, 3_400, 34_000)
CLUSTERS, TREATED, START = 342, 6, 2014
YEARS = tuple(range(2011, 2024))
DRAWS = 999
LOOP_DRAWS = 20  # RI by refitting (cs, imputation): timed on this many draws, extrapolated
MEMORY_CAP_GIB = 6.0
CASES = (
    ("panel build", None, None),
    ("twfe", "crv1", None), ("twfe", "wild", None), ("twfe", "ri", None),
    ("cs", "crv1", None), ("cs", "wild_unrestricted", None), ("cs", "ri", "loop"),
    ("imputation", "crv1", None), ("imputation", "ri", "loop"),
    ("its", "newey-west", None),
)  # fmt: skip


def codes(n: int) -> np.ndarray:
    prefix, width = ("GM", 4) if n <= 9_999 else ("BU", 8)
    return np.array([f"{prefix}{i + 1:0{width}d}" for i in range(n)])


# ----------------------------------------------------------------------------- panel build


def synthetic_cells(units: np.ndarray, year: int, rng: np.random.Generator):
    """Vektis-like cells: unit x sex x age with insured counts and integer costs (cents)."""
    from proeftuin import outcomes
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

    from proeftuin import panel as pm

    if panel["municipality"].iloc[0].startswith("GM"):
        return pm.validate(panel)
    schema = pm.panel_schema(panel["municipality"].nunique()).update_column(
        "municipality", checks=[pa.Check.str_matches(r"^BU\d{8}$")]
    )
    return schema.validate(panel, lazy=True)


def build_case(n: int) -> dict:
    """(In a child) the aggregation and validation steps on n synthetic units."""
    from proeftuin import panel as pm

    rng, units = np.random.default_rng(n), codes(n)
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
    return {"seconds": time.perf_counter() - start - generating, "rows": len(panel)}


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


def estimator_case(n: int, method: str, inference: str, mode: str | None, draws: int,
                   loop_draws: int) -> dict:  # fmt: skip
    """(In a child) one estimator with one inference method on n synthetic units."""
    frame = synthetic_frame(n)
    if method == "its":
        return {"seconds": _its(frame)}
    if mode != "loop":
        _did(synthetic_frame(CLUSTERS), method, "crv1", 9)  # warm-up on the smallest panel
        return {"seconds": _did(frame, method, inference, draws)}
    _did(frame, method, "crv1", draws)  # warm-up: first-call costs out of the difference
    base = _did(frame, method, "crv1", draws)
    some = _did(frame, method, inference, loop_draws)
    return {"seconds": base + (some - base) * draws / loop_draws, "extrapolated": True}


def predicted_gib(n: int, method: str, inference: str) -> float:
    """Rough peak of the vectorised inference: its dense matrices (GiB)."""
    rows = n * len(YEARS)
    if method == "twfe" and inference == "ri":
        return rows * DRAWS * 24 / 2**30  # placebo start years, indicators, residualised
    if method == "twfe" and inference == "wild":
        return rows * CLUSTERS * 32 / 2**30  # cluster indicators and their residuals
    if method == "imputation":
        return rows * (n + len(YEARS)) * 24 / 2**30  # dense fixed-effect design (GMM variance)
    return 0.0


# ----------------------------------------------------------------------------- table


def run_case(n: int, case: tuple, draws: int, loop_draws: int) -> dict:
    method, inference, mode = case
    if method == "panel build":
        return in_child("bench_scaling:build_case", n=n)
    need = predicted_gib(n, method, inference)
    if need > MEMORY_CAP_GIB:
        return {
            "skipped": f"not run: dense matrices ≈ {need:.0f} GiB > {MEMORY_CAP_GIB:.0f} GiB cap"
        }
    return in_child("bench_scaling:estimator_case", n=n, method=method, inference=inference,
                    mode=mode, draws=draws, loop_draws=loop_draws)  # fmt: skip


def growth(prev: dict | None, cur: dict) -> str:
    if not prev or "seconds" not in prev or "seconds" not in cur:
        return ""
    t, m = cur["seconds"] / prev["seconds"], cur["peak_mib"] / prev["peak_mib"]
    return f"{t:.1f}× time, {m:.1f}× memory"


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> list[Table]:
    sizes = sizes or ((SIZES[0],) if quick else SIZES)
    draws, loop_draws = (99, 5) if quick else (DRAWS, LOOP_DRAWS)
    t = Table(f"Scaling: synthetic panels × {len(YEARS)} years ({draws:,} draws for wild and RI)",
              ["case", "units", "rows", "wall s", "peak RSS MiB", "growth vs previous size",
               "note"])  # fmt: skip
    for case in CASES:
        prev = None
        for n in sizes:
            out = run_case(n, case, draws, loop_draws)
            label = case[0] if case[1] is None else f"{case[0]} · {case[1]}"
            note = out.get("skipped") or ("; ".join(out["error"]) if "error" in out else "")
            if out.get("extrapolated"):
                note = f"RI by refits: extrapolated from {loop_draws} draws"
            t.add(label, f"{n:,}", f"{n * len(YEARS):,}", out.get("seconds"),
                  out.get("peak_mib"), growth(prev, out), note)  # fmt: skip
            prev = out
    t.notes += [
        "Units nested in 342 municipalities (the clusters); units of 6 municipalities treated "
        "from 2014 (3 pre-period years, as the controlled ITS needs); 10× more units per "
        "step, so linear growth is ≈ 10× per step.",
        "wall s: the measured call only (estimate_did with one inference method and no event "
        "study, or the build steps); peak RSS: the child process's VmHWM, interpreter, "
        "imports and synthetic inputs included.",
        "Panel build: aggregation + standardisation + long format + pandera validation of "
        "synthetic Vektis cells; name harmonisation and cell generation are not timed.",
    ]
    return [t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="342 units only, 99 draws")
    parser.add_argument("--no-save", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    report(run(args.quick), title="Scaling benchmark", started=started, save=not args.no_save)


if __name__ == "__main__":
    main()
