"""The designs side by side: per site and headline outcome, every credible estimate.

Read from the results files only (``reports/results/<site>/``), never recomputed:

- TWFE difference-in-differences per control pool (``robustness.csv``, check
  ``control_pool``), each with the most robust interval it has (randomization inference
  over placebo sites, else the wild bootstrap, else CRV1), the plan's own pool marked;
- synthetic DiD and synthetic control (``synth_estimates.csv``), randomization inference
  over placebo sites within the COROP area;
- the controlled interrupted time series (``its_estimates.csv``, the level change) where it
  could be estimated, with the interval of the inference method it leads with.

Which design the synthesis pools per outcome is declared in ``analysis.yml``
(``pooled_design``); that row is marked ``pooled``, the others ``sensitivity``. The minimum
detectable effect (``mde``, 2.8 x SD of the placebo estimates) is given where the design has
a placebo distribution (the DiD of the plan's pool, SDID, SC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from proeftuin.data.outcomes import headline_outcomes
from proeftuin.designs.headline import INTERVAL_PREFERENCE, headline
from proeftuin.pipeline import results

COLUMNS = [
    "site", "outcome", "design", "variant", "role", "estimate", "ci_low", "ci_high",
    "p_value", "method", "mde", "mde_pct", "note",
]  # fmt: skip
SYNTH_PREFERENCE = ("ri", "placebo")
DESIGN_ORDER = {"did": 0, "sdid": 1, "sc": 2, "its": 3}


def _read(site: str, name: str, root: Path) -> pd.DataFrame:
    path = root / site / name
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def site_rows(
    site: str, outcomes: Sequence[str], *, control_pool: str | None, root: Path
) -> pd.DataFrame:
    """Every design's headline row for one site and the given outcomes."""
    frames = []
    checks = _read(site, "robustness.csv", root)
    if not checks.empty:
        pools = checks[(checks["check"] == "control_pool") & checks["outcome"].isin(outcomes)]
        pools = pools.dropna(subset=["estimate"])
        method = pools["note"].fillna("").str.extract(r"interval and p-value: (\w+)")[0]
        frames.append(pools.assign(design="did", method=method)[
            ["outcome", "design", "variant", "estimate", "ci_low", "ci_high", "p_value", "method"]
        ])  # fmt: skip
    did = _read(site, "did_estimates.csv", root)
    mde = {}
    if not did.empty and "mde" in did:
        best = headline(did, INTERVAL_PREFERENCE)
        mde = {o: r for o, r in best.set_index("outcome")[["mde", "mde_pct"]].iterrows()}
    synth = _read(site, "synth_estimates.csv", root)
    for estimator in ("sdid", "sc") if not synth.empty else ():
        rows = headline(synth[synth["estimator"] == estimator], SYNTH_PREFERENCE)
        rows = rows[rows["outcome"].isin(outcomes)]
        frames.append(rows.assign(design=estimator, variant="")[
            ["outcome", "design", "variant", "estimate", "ci_low", "ci_high", "p_value",
             "method", "mde", "mde_pct"]
        ])  # fmt: skip
    its = _read(site, "its_estimates.csv", root)
    if not its.empty:
        level = its[(its["effect"] == "level_change") & its["outcome"].isin(outcomes)]
        level = level.dropna(subset=["estimate", "ci_low", "ci_high"])
        if "lead" in level:  # one row per inference method: the one its_analysis leads with
            level = level[level["lead"].astype(str) == "True"]
        method = level.get("method", "newey_west")
        frames.append(level.assign(design="its", variant="level change", method=method)[
            ["outcome", "design", "variant", "estimate", "ci_low", "ci_high", "p_value", "method"]
        ])  # fmt: skip
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    main = (table["design"] == "did") & (table["variant"] == control_pool)
    for key in ("mde", "mde_pct"):
        values = table["outcome"].map(lambda o, k=key: mde[o][k] if o in mde else None)
        table[key] = table[key].where(~main, values) if key in table else values.where(main)
    return table.assign(site=site)


def side_by_side(
    sites: Sequence[str],
    outcomes: Sequence[str],
    pooled_design: Mapping[str, str] | None = None,
    *,
    root: Path | None = None,
    manifest: results.Manifest | None = None,
) -> pd.DataFrame:
    """Per site and headline outcome, one row per design (and DiD control pool).

    ``pooled_design`` maps an outcome to the design the synthesis pools (default ``did``);
    the plan's control pool of each site comes from the run manifest's DiD task (``all``
    without a manifest).
    """
    root = root or results.results_dir()
    if manifest is None and results.manifest_path().is_file():
        manifest = results.read_manifest()
    chosen = headline_outcomes(outcomes)
    pooled = {o: (pooled_design or {}).get(o, "did") for o in chosen}
    frames = []
    for site in sites:
        task = manifest.task(f"{site}/did_site") if manifest else None
        pool = (task.parameters.get("control_pool") if task else None) or "all"
        frames.append(site_rows(site, chosen, control_pool=pool, root=root))
        frames[-1] = frames[-1].assign(plan_pool=frames[-1]["variant"].eq(pool))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    is_pooled = table["design"] == table["outcome"].map(pooled)
    # the DiD the synthesis pools is the plan's pool's (the role says so; no note repeats it)
    plan_pool = table["plan_pool"].eq(True) if "plan_pool" in table else False
    is_pooled &= (table["design"] != "did") | plan_pool
    table["role"] = is_pooled.map({True: "pooled", False: "sensitivity"})
    order = table["outcome"].map(chosen.index) * 10 + table["design"].map(DESIGN_ORDER)
    table = table.assign(_order=order).sort_values(["site", "_order"], kind="stable")
    return table.reindex(columns=COLUMNS).reset_index(drop=True)


def save_design_figures(
    table: pd.DataFrame,
    results_dir: str | Path,
    names: Mapping[str, str] | None = None,
    draw: bool = True,
) -> list[str]:
    """The designs side by side of every site (``fig-designs.png``) and, cut from it, each
    site's row (``fig-designs-<site>.png``, beside the synthesis, the site by name); the
    per-site labels saved (none when nothing was estimated, or without ``draw``: a placebo
    study's synthesis builds no figure)."""
    from proeftuin.designs.figures import save_figure_rows
    from proeftuin.synthesis import figures

    if not draw:
        return []
    return save_figure_rows(figures.side_by_side(table, names), results_dir, "fig-designs")
