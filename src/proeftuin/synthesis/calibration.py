"""Calibration of the whole evaluation by the placebo study: how often it labels a
pseudo-site, where nothing happened, "strong", "moderate" or "weak", "better" or "worse".

Every cell a site's results give (outcome × design) is labelled by the scorecard's own rule
(:func:`proeftuin.synthesis.pooling.evidence`; the leading row by
:data:`~proeftuin.designs.headline.EVIDENCE_PREFERENCE`; better or worse by the outcome's
direction). The cells: DiD for every outcome; synthetic DiD and synthetic control for the
headline outcomes; the DiD with each other control pool (the designs side by side,
``synthesis/designs.csv``); the controlled ITS's leading level and slope change.

Read from results files only, for the sites whose tasks the run manifest lists as good;
written as CSVs in ``<study>/results/calibration/`` for the report: ``status.csv`` (each
pseudo-site, its municipalities and status), ``labels.csv`` (every cell of every pseudo- and
real site), ``rates.csv`` (per outcome and design the share of pseudo-sites per label),
``familywise.csv`` (per pseudo-site how many of its cells are labelled),
``familywise_summary.csv``, ``ranks.csv`` (each real site's estimate among the
pseudo-sites') and ``area_rule.csv``.

The labels follow the scorecard's rule, resolution by area included: a p-value from placebo
sites drawn within A areas is graded as at least 1/(A + 1). Each cell also carries the label
the raw p-value would get (``evidence_raw``), so the study is a simulation of that rule on the
real panel under the null (:func:`area_rule`): the false strong/moderate rate with the raw
p-value and with the cap, per design and family-wise, and what the cap costs the real sites.
The family-wise view is given for all of a pseudo-site's cells and for its scorecard alone
(``synthesis/scorecard.csv`` of the study: the headline outcome of each Triple Aim dimension).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from proeftuin.core.fileio import atomic_write_text
from proeftuin.designs.headline import EVIDENCE_PREFERENCE, finite, headline
from proeftuin.pipeline import results
from proeftuin.synthesis.pooling import evidence

FOLDER = "calibration"
LABEL_COLUMNS = ["kind", "site", "outcome", "design", "estimate", "p_value", "p_resolution",
                 "method", "evidence", "evidence_raw", "direction"]  # fmt: skip
RATE_COLUMNS = ["outcome", "design", "n", "strong", "moderate", "weak", "strong_or_moderate",
                "strong_or_moderate_raw", "better", "worse", "nominal_strong_or_moderate",
                "excess_p"]  # fmt: skip
CELL_COLUMNS = ["site", "outcome", "design", "estimate", "p_value", "p_resolution", "method"]
AREA_RULE_COLUMNS = ["design", "scope", "n", "capped_share", "false_raw", "false_capped",
                     "strong_raw", "strong_capped", "real_raw", "real_capped",
                     "real_n"]  # fmt: skip
#: The labels counted as a finding: p < 0.05.
FLAGGED = ("strong", "moderate")
#: The share a calibrated label would reach by chance: p < 0.05 (strong or moderate).
NOMINAL = 0.05


def good_sites(manifest: results.Manifest) -> list[str]:
    """Sites every one of whose tasks succeeded in the run the manifest records."""
    by_site: dict[str, bool] = {}
    for task in manifest.tasks:
        if task.site is not None:
            by_site[task.site] = by_site.get(task.site, True) and task.succeeded
    return [site for site, good in by_site.items() if good]


def site_status(manifest: results.Manifest, listing: Path) -> pd.DataFrame:
    """Every drawn pseudo-site with its municipalities and its status in the manifest:
    ``complete`` when every task succeeded, else each task that did not (and why)."""
    sites = _read(listing)
    if sites.empty:
        return sites
    problems: dict[str, list[str]] = {}
    present: set[str] = set()
    for task in manifest.tasks:
        if task.site is not None:
            present.add(task.site)
            if not task.succeeded:
                problems.setdefault(task.site, []).append(f"{task.notebook} {task.status}")
    state = [
        "; ".join(problems[s]) if s in problems else ("complete" if s in present else "not run")
        for s in sites["site"]
    ]
    return sites.assign(status=state)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def site_cells(results_dir: Path, site: str) -> pd.DataFrame:
    """One row per outcome and design of a site: estimate, p-value and leading method."""
    frames = []
    did = _read(results_dir / site / "did_estimates.csv")
    if len(did):
        frames.append(_lead(did).assign(design="did"))
    synth = _read(results_dir / site / "synth_estimates.csv")
    for estimator in ("sdid", "sc"):
        if len(synth):
            rows = synth[synth["estimator"] == estimator]
            frames.append(_lead(rows).assign(design=estimator))
    its = _read(results_dir / site / "its_estimates.csv")
    if len(its) and "lead" in its:
        lead = its[its["lead"].astype(str) == "True"]
        frames.append(lead.assign(design="its_" + lead["effect"].str.replace("_change", "")))
    sides = _read(results_dir / "synthesis" / "designs.csv")
    if len(sides):
        pools = sides[(sides["site"] == site) & (sides["design"] == "did")
                      & (sides["role"] == "sensitivity")]  # fmt: skip
        frames.append(pools.assign(design="did_" + pools["variant"].astype(str)))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=CELL_COLUMNS)
    cells = pd.concat(frames, ignore_index=True).assign(site=site)
    cells = finite(cells, ("estimate", "p_value"))  # a cell without an estimate is no cell
    return cells.reindex(columns=CELL_COLUMNS)


def _lead(table: pd.DataFrame) -> pd.DataFrame:
    return headline(table, EVIDENCE_PREFERENCE, needs=("estimate", "p_value"))


def label_cells(cells: pd.DataFrame, higher_is_better: dict[str, bool]) -> pd.DataFrame:
    """The scorecard's labels: evidence from the p-value graded no finer than its resolution
    (``evidence``) and from the raw p-value (``evidence_raw``), direction from the outcome's."""
    if "p_resolution" not in cells:
        cells = cells.assign(p_resolution=np.nan)
    pairs = zip(pd.to_numeric(cells["p_value"]), pd.to_numeric(cells["p_resolution"]), strict=True)
    grade = pd.Series([evidence(p, r if r == r else None) for p, r in pairs], index=cells.index)
    raw = pd.to_numeric(cells["p_value"]).map(evidence)
    up = cells["estimate"] > 0
    better = up == cells["outcome"].map(higher_is_better).fillna(False).astype(bool)
    direction = np.where(grade == "none", "inconclusive", np.where(better, "better", "worse"))
    return cells.assign(evidence=grade, evidence_raw=raw, direction=direction)


def rates(labels: pd.DataFrame) -> pd.DataFrame:
    """Per outcome and design: the share of pseudo-sites given each label."""
    pseudo = labels[labels["kind"] == "pseudo"]
    rows = []
    for (outcome, design), group in pseudo.groupby(["outcome", "design"], sort=True):
        share = group["evidence"].value_counts(normalize=True)
        rows.append({
            "outcome": outcome, "design": design, "n": len(group),
            **{level: float(share.get(level, 0.0)) for level in ("strong", "moderate", "weak")},
            "strong_or_moderate": float(share.get("strong", 0.0) + share.get("moderate", 0.0)),
            "strong_or_moderate_raw": float(group["evidence_raw"].isin(FLAGGED).mean()),
            "better": float((group["direction"] == "better").mean()),
            "worse": float((group["direction"] == "worse").mean()),
            "nominal_strong_or_moderate": NOMINAL,
            "excess_p": _excess_p(group["evidence"].isin(FLAGGED).sum(),
                                  len(group)),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


def _excess_p(hits: int, n: int) -> float:
    """One-sided binomial p-value of ``hits`` or more false alarms in ``n`` pseudo-sites
    when each is labelled strong or moderate with the nominal 5%: small means miscalibrated."""
    return float(stats.binom.sf(int(hits) - 1, n, NOMINAL))


def familywise(
    labels: pd.DataFrame, scorecard: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per pseudo-site: its cells, how many are labelled at all and strong/moderate (with the
    area cap and with the raw p-value); and the summary: the share of pseudo-sites with at
    least one such label and the mean number per site. With the study's ``scorecard``
    (``synthesis/scorecard.csv``) the same for the scorecard's cells alone (``scorecard_*``)."""
    pseudo = labels[labels["kind"] == "pseudo"]
    per_site = _per_site(pseudo)
    n = len(per_site)
    summary: dict[str, object] = {
        "pseudo_sites": n,
        "mean_cells": per_site["cells"].mean(),
        "mean_labelled": per_site["labelled"].mean(),
        "share_any_labelled": (per_site["labelled"] > 0).mean(),
        "share_any_strong": (per_site["strong"] > 0).mean(),
        "independent_any_strong_or_moderate": 1 - (1 - NOMINAL) ** per_site["cells"].mean(),
        **_flagged_summary(per_site),
    }
    if scorecard is not None and len(scorecard) and n:
        card = scorecard[scorecard["site"].isin(per_site["site"])]
        card = card.assign(evidence_raw=pd.to_numeric(card["p_value"]).map(evidence))
        card_sites = _per_site(card)
        summary |= {
            "scorecard_cells": card_sites["cells"].mean(),
            **{f"scorecard_{k}": v for k, v in _flagged_summary(card_sites).items()},
        }
    return per_site, pd.DataFrame([summary]).astype(float)


def _per_site(cells: pd.DataFrame) -> pd.DataFrame:
    """Per site: cells, labelled, strong/moderate and strong (capped and raw)."""
    return (
        cells.assign(
            _labelled=cells["evidence"] != "none",
            _flagged=cells["evidence"].isin(FLAGGED),
            _flagged_raw=cells["evidence_raw"].isin(FLAGGED),
            _strong=cells["evidence"] == "strong",
            _strong_raw=cells["evidence_raw"] == "strong",
        )
        .groupby("site")
        .agg(
            cells=("evidence", "size"),
            labelled=("_labelled", "sum"),
            strong_or_moderate=("_flagged", "sum"),
            strong_or_moderate_raw=("_flagged_raw", "sum"),
            strong=("_strong", "sum"),
            strong_raw=("_strong_raw", "sum"),
        )
        .astype(int)
        .reset_index()
    )


def _flagged_summary(per_site: pd.DataFrame) -> dict[str, float]:
    """Share of sites with at least one strong/moderate cell and the mean count, capped and
    raw (NaN without sites)."""
    out = {}
    for suffix in ("", "_raw"):
        count = per_site[f"strong_or_moderate{suffix}"]
        out[f"share_any_strong_or_moderate{suffix}"] = (count > 0).mean()
        out[f"mean_strong_or_moderate{suffix}"] = count.mean()
    return out


def area_rule(labels: pd.DataFrame, per_site: pd.DataFrame) -> pd.DataFrame:
    """What resolution by area buys, simulated on the real panel under the null: per design
    (all outcomes) and over all cells, the false strong/moderate rate (nominal 5%) and the
    false strong rate (nominal 1%) of the pseudo-sites with the raw p-value and with the cap,
    the share of their cells the cap applies to, and the real sites' strong/moderate cells
    with either (its cost in power, as far as the real sites show it); the last row is
    family-wise (the share of pseudo-sites with any such cell)."""
    rows = []
    within = labels[pd.to_numeric(labels["p_resolution"]).notna()]  # where the rule applies
    for design, group in [*labels.groupby("design", sort=True), ("all", labels),
                          ("all within areas", within)]:  # fmt: skip
        pseudo, real = group[group["kind"] == "pseudo"], group[group["kind"] == "real"]
        rows.append({
            "design": design, "scope": "cell", "n": len(pseudo),
            "capped_share": pd.to_numeric(pseudo["p_resolution"]).notna().mean(),
            "false_raw": pseudo["evidence_raw"].isin(FLAGGED).mean(),
            "false_capped": pseudo["evidence"].isin(FLAGGED).mean(),
            "strong_raw": (pseudo["evidence_raw"] == "strong").mean(),
            "strong_capped": (pseudo["evidence"] == "strong").mean(),
            "real_raw": int(real["evidence_raw"].isin(FLAGGED).sum()),
            "real_capped": int(real["evidence"].isin(FLAGGED).sum()), "real_n": len(real),
        })  # fmt: skip
    if len(per_site):
        rows.append({
            "design": "all", "scope": "site (any cell)", "n": len(per_site), "capped_share": np.nan,
            "false_raw": (per_site["strong_or_moderate_raw"] > 0).mean(),
            "false_capped": (per_site["strong_or_moderate"] > 0).mean(),
            "strong_raw": (per_site["strong_raw"] > 0).mean(),
            "strong_capped": (per_site["strong"] > 0).mean(),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=AREA_RULE_COLUMNS)


def ranks(labels: pd.DataFrame) -> pd.DataFrame:
    """Each real site's cell among the pseudo-sites' of the same outcome and design: the
    rank of its |estimate| (1 = largest) and the share of pseudo-sites at least as large."""
    pseudo = labels[labels["kind"] == "pseudo"].dropna(subset=["estimate"])
    rows = []
    for real in labels[labels["kind"] == "real"].dropna(subset=["estimate"]).itertuples():
        same = pseudo[(pseudo["outcome"] == real.outcome) & (pseudo["design"] == real.design)]
        size = same["estimate"].abs().to_numpy(float)
        larger = int((size >= abs(real.estimate)).sum())
        rows.append({
            "site": real.site, "outcome": real.outcome, "design": real.design,
            "estimate": real.estimate, "evidence": real.evidence, "direction": real.direction,
            "n_pseudo": len(size), "rank": larger + 1,
            "share_pseudo_as_large": larger / len(size) if len(size) else np.nan,
            "placebo_p": (larger + 1) / (len(size) + 1),
        })  # fmt: skip
    return pd.DataFrame(rows)


def calibrate(
    study_results: Path, real_results: Path, higher_is_better: dict[str, bool]
) -> dict[str, pd.DataFrame]:
    """Label every cell of the pseudo-sites (study) and the real sites, summarise, and write
    the tables to ``<study_results>/calibration/``; returns them by file stem."""
    frames, status = [], pd.DataFrame()
    for kind, folder in (("pseudo", study_results), ("real", real_results)):
        try:
            manifest = results.read_manifest(folder / results.MANIFEST_NAME)
        except results.ManifestError:
            if kind == "pseudo":
                raise
            continue  # no real run yet: the calibration stands, without the real sites' ranks
        if kind == "pseudo":
            status = site_status(manifest, study_results.parent / "pseudo_sites.csv")
        for site in good_sites(manifest):
            frames.append(site_cells(folder, site).assign(kind=kind))
    cells = pd.concat([f for f in frames if len(f)], ignore_index=True) if frames else None
    if cells is None or cells.empty:
        labels = pd.DataFrame(columns=LABEL_COLUMNS)
    else:
        labels = label_cells(cells, higher_is_better)[LABEL_COLUMNS]
    per_site, summary = familywise(labels, _read(study_results / "synthesis" / "scorecard.csv"))
    tables = {"status": status, "labels": labels, "rates": rates(labels), "familywise": per_site,
              "familywise_summary": summary, "ranks": ranks(labels),
              "area_rule": area_rule(labels, per_site)}  # fmt: skip
    out = study_results / FOLDER
    for stem, table in tables.items():
        atomic_write_text(out / f"{stem}.csv", table.to_csv(index=False))
    return tables


def summary_text(tables: dict[str, pd.DataFrame]) -> str:
    """The calibration in a few lines: the false strong/moderate rate per outcome and
    design (raw p-value in brackets), the family-wise rate, the area rule and the real
    sites' placebo p-values."""
    lines = ["false 'strong or moderate' rate (nominal 0.05) per outcome and design:"]
    for r in tables["rates"].itertuples():
        lines.append(f"  {r.outcome:<36} {r.design:<16} {r.strong_or_moderate:5.2f} "
                     f"(raw p {r.strong_or_moderate_raw:.2f}; strong {r.strong:.2f}, weak "
                     f"{r.weak:.2f}; n={r.n}; P(as many | 5%)={r.excess_p:.3f})")  # fmt: skip
    for r in tables["familywise_summary"].itertuples():
        lines.append(
            f"family-wise: {r.pseudo_sites:.0f} pseudo-sites, {r.mean_cells:.1f} cells each, "
            f"{r.mean_labelled:.1f} labelled on average; at least one cell strong or moderate "
            f"in {r.share_any_strong_or_moderate:.0%} "
            f"(raw p: {r.share_any_strong_or_moderate_raw:.0%}; "
            f"independent cells at 5%: {r.independent_any_strong_or_moderate:.0%}), "
            f"{r.mean_strong_or_moderate:.2f} such cells per site; labelled at all in "
            f"{r.share_any_labelled:.0%}"
        )
    lines.append("resolution by area (false strong/moderate, raw p -> capped; real sites' cells):")
    for r in tables["area_rule"].itertuples():
        real = "" if r.scope != "cell" else f"; real {r.real_raw:.0f} -> {r.real_capped:.0f}"
        lines.append(f"  {r.design:<24} {r.scope:<16} n={r.n:<5} {r.false_raw:.3f} -> "
                     f"{r.false_capped:.3f} (strong {r.strong_raw:.3f} -> "
                     f"{r.strong_capped:.3f}){real}")  # fmt: skip
    ranked = tables["ranks"]
    if len(ranked):
        lines.append("real sites among the pseudo-sites (did, |estimate|: rank, placebo p):")
        for r in ranked[ranked["design"] == "did"].itertuples():
            lines.append(f"  {r.site:<24} {r.outcome:<36} {r.rank:>3}/{r.n_pseudo + 1} "
                         f"p={r.placebo_p:.3f} ({r.evidence}, {r.direction})")  # fmt: skip
    return "\n".join(lines)
