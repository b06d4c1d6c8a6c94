"""The finding of sites that share a COROP area (South Limburg: Blauwe Zorg and MijnZorg),
stated plainly with what the checks show, for the overview to include.

Reads each site's results files only (``did_estimates.csv``, ``robustness.csv``,
``regional.csv``, ``decomposition.csv``, written by the DiD and robustness notebooks) and
writes ``answer.md`` (one paragraph per area with two or more sites) and
``regional_findings.csv`` (the numbers it quotes) into the synthesis folder. Every number in
the text is read from those files; the verdict per site follows a fixed rule
(:func:`verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from proeftuin.core import settings
from proeftuin.core.fileio import atomic_write_text
from proeftuin.designs.headline import headline

FINDINGS_FILE = "answer.md"
TOTAL = "cost_basket_std"
#: The checks quoted, as (results file, selector) -> words; a site's effect "survives" a check
#: when the check's 95% interval stays on the same side of zero as the main estimate.
CHECK_WORDS = {
    "province": "against controls in their own province only",
    "shared_shift": "with a shift shared by the whole area",
    "area_trend": "with the whole area's own linear trend",
}


def read_site_table(sites: Sequence[str], name: str, root: Path | None = None) -> pd.DataFrame:
    """Every site's ``<name>.csv`` stacked (sites without one skipped)."""
    root = root or settings.results_dir()
    frames = [pd.read_csv(p) for s in sites if (p := root / s / f"{name}.csv").is_file()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def area_numbers(sites: Sequence[str], root: Path | None = None) -> pd.DataFrame:
    """Per site of a shared area: the main DiD on the basket, and each check's estimate and
    interval (one row per site and check)."""
    regional = read_site_table(sites, "regional", root)
    if regional.empty:
        return pd.DataFrame()
    named = regional[regional["site"].notna() & regional["estimate"].notna()]
    shared = named.groupby("area")["site"].nunique()
    areas = shared[shared >= 2].index
    did = read_site_table(sites, "did_estimates", root)
    robust = read_site_table(sites, "robustness", root)
    rows = []
    for area in areas:
        for site in sorted(named.loc[named["area"] == area, "site"].unique()):
            main = headline(did[(did["site"] == site) & (did["outcome"] == TOTAL)])
            if not main.empty:
                rows.append(_row(area, site, "main", main.iloc[0]))
            own = robust[(robust["site"] == site) & (robust["outcome"] == TOTAL)]
            for _, r in own[own["check"].isin(["nearby_placebo", "initiatives"])].iterrows():
                rows.append(_row(area, site, f"{r['check']}: {r['variant']}", r))
            province = own[(own["check"] == "control_pool") & (own["variant"] == "province")]
            rows += [_row(area, site, "province", r) for _, r in province.iterrows()]
            mine = named[(named["area"] == area) & (named["site"] == site)]
            # each site's own regional.csv holds every area site: read the row from its own
            mine = mine.drop_duplicates("model")
            rows += [_row(area, site, m, r) for m, r in mine.set_index("model").iterrows()]
    return pd.DataFrame(rows)


def _row(area: str, site: str, check: str, r: pd.Series) -> dict[str, object]:
    return {"area": area, "site": site, "check": check, "estimate": r.get("estimate"),
            "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
            "p_value": r.get("p_value")}  # fmt: skip


def _largest_parts(sites: Sequence[str], names: Mapping[str, str], root: Path | None) -> str:
    """' Most of it sits in ...' from the sites' decompositions ('' without any)."""
    parts = read_site_table(sites, "decomposition", root)
    if parts.empty:
        return ""
    bits = []
    for site in sites:
        mine, tops = parts[parts["site"] == site], []
        for kind, words in (("category", "{} care"), ("age_band", "ages {}")):
            rows = mine[mine["kind"] == kind]
            if not rows.empty:
                top = rows.loc[rows["estimate"].idxmax()]
                tops.append(f"{words.format(top['part'])} {top['estimate']:+.0f} EUR")
        if tops:
            bits.append(f"{names.get(site, site)}: " + ", ".join(tops))
    return " The largest parts: " + "; ".join(bits) + "." if bits else ""


def verdict(numbers: pd.DataFrame, site: str) -> str:
    """Which checks the site's main effect survives (same sign, interval clear of zero)."""
    rows = numbers[numbers["site"] == site].set_index("check")
    if "main" not in rows.index:
        return "no main estimate"
    sign = 1 if rows.at["main", "estimate"] > 0 else -1
    held, lost = [], []
    for check, words in CHECK_WORDS.items():
        if check not in rows.index:
            continue
        low, high = sorted((rows.at[check, "ci_low"] * sign, rows.at[check, "ci_high"] * sign))
        (held if low > 0 else lost).append(words)
    if not lost:
        return "holds under every regional check"
    if not held:
        return "holds under none of the regional checks (" + ", ".join(lost) + ")"
    return "holds " + " and ".join(held) + ", but not " + " nor ".join(lost)


def statement(
    numbers: pd.DataFrame,
    names: Mapping[str, str],
    area_names: Mapping[str, str],
    root: Path | None = None,
) -> str:
    """The paragraph per shared area (empty when no area has two sites)."""
    if numbers.empty:
        return ""
    out = []
    for area, rows in numbers.groupby("area", sort=False):
        sites = list(dict.fromkeys(rows["site"]))
        label = " and ".join(f"**{names.get(s, s)}**" for s in sites)

        def est(site: str, check: str, rows: pd.DataFrame = rows) -> str:
            r = rows[(rows["site"] == site) & (rows["check"] == check)]
            if r.empty or pd.isna(r["estimate"].iloc[0]):
                return "not estimated"
            e, lo, hi = (float(r[c].iloc[0]) for c in ("estimate", "ci_low", "ci_high"))
            return f"{e:+.0f} EUR (95% interval {lo:+.0f} to {hi:+.0f})"

        mains = "; ".join(f"{names.get(s, s)} {est(s, 'main')}" for s in sites)
        checks = " ".join(
            f"{words.capitalize()}: "
            + "; ".join(f"{names.get(s, s)} {est(s, check)}" for s in sites) + "."
            for check, words in CHECK_WORDS.items()
        )  # fmt: skip
        placebos = "; ".join(
            f"for {names.get(s, s)}, "
            + ", ".join(
                f"{c.removeprefix('nearby_placebo: placebo site ')} {e:+.0f} EUR"
                for c, e in zip(p["check"], p["estimate"], strict=True)
            )
            for s in sites
            if not (p := rows[(rows["site"] == s) & rows["check"].str.startswith("nearby")]).empty
        )
        where = _largest_parts(sites, names, root)
        verdicts = "; ".join(
            f"the excess of {names.get(s, s)} {verdict(numbers, s)}" for s in sites
        )
        out.append(
            f"In {area_names.get(area, area)}, {label} saw fixed-basket costs per insured-year "
            f"rise faster than in their controls: {mains} (difference-in-differences, "
            f"randomization inference).{where} {checks} Nearby untreated municipalities given the "
            f"site's start as placebo sites: {placebos or 'none'}. In short, {verdicts}. "
            "The shared-area terms are identified by the area's municipalities outside the "
            "sites, which ran a programme of their own (see the registry's other "
            "initiatives); their intervals are CRV1 and too narrow with few treated "
            "municipalities."
        )
    return "\n\n".join(out)


def write_findings(
    sites: Sequence[str],
    names: Mapping[str, str],
    results_dir: str | Path,
    root: Path | None = None,
) -> str:
    """Write ``answer.md`` (the overview's answer appends it) and ``regional_findings.csv``;
    return the text."""
    from proeftuin.data.processed import load_covariates

    numbers = area_numbers(sites, root)
    cov = load_covariates()
    area_names = dict(zip(cov["corop_region"], cov["corop_name"], strict=False))
    text = statement(numbers, names, area_names, root)
    folder = Path(results_dir)
    atomic_write_text(folder / FINDINGS_FILE, (text or "No area holds two sites.") + "\n")
    atomic_write_text(folder / "regional_findings.csv", numbers.to_csv(index=False))
    return text
