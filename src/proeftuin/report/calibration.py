"""The calibration page's text (``_generated/calibration.md``), the methods page's paragraph
on resolution by area (``_generated/area_rule.md``) and the numbers of the overview's
family-wise caution, from the placebo study's calibration files
(``reports/placebo/results/calibration/*.csv``) only: nothing recomputed."""

from __future__ import annotations

from proeftuin.report import estimates as est
from proeftuin.report import inputs
from proeftuin.report.tables import to_float

FOLDER = ("placebo", "results", "calibration")
NOT_RUN = (
    "The placebo study has not been run here: `proeftuin placebo-study --sites 40` writes "
    "`reports/placebo/` and the files this page reads."
)
RATE_KEYS = ("outcome", "design", "n", "strong", "moderate", "weak", "strong_or_moderate",
             "strong_or_moderate_raw", "better", "worse", "excess_p")  # fmt: skip
SUMMARY_KEYS = ("pseudo_sites", "mean_cells", "share_any_strong_or_moderate",
                "share_any_strong_or_moderate_raw", "mean_strong_or_moderate", "scorecard_cells",
                "scorecard_share_any_strong_or_moderate",
                "scorecard_share_any_strong_or_moderate_raw")  # fmt: skip
RANK_KEYS = ("site", "outcome", "design", "estimate", "evidence", "direction", "rank",
             "n_pseudo", "placebo_p")  # fmt: skip
STATUS_KEYS = ("site", "shaped_like", "start_year", "corop_name", "names", "status")


def _rows(name: str, keys: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    found = inputs.read_csv(inputs.reports_dir(*FOLDER) / f"{name}.csv")
    return [{k: r.get(k, "") for k in keys} for r in found] if keys else found


def study_summary() -> dict[str, float | None] | None:
    """The study's family-wise numbers (``SUMMARY_KEYS``, None where absent) and its area rule
    rows by design and scope; None when no study results exist."""
    found = _rows("familywise_summary")
    numbers = {k: to_float(found[0].get(k)) for k in SUMMARY_KEYS} if found else {}
    if not numbers.get("pseudo_sites") or None in [numbers[k] for k in SUMMARY_KEYS[:5]]:
        return None  # no study, or one written before these numbers were
    rule = {f"{r['design']}/{r['scope']}": {k: to_float(v) for k, v in r.items()}
            for r in _rows("area_rule")}  # fmt: skip
    return numbers | {"rule": rule}


def area_rule_text() -> str:
    """The methods page's paragraph on what resolution by area buys, from the study."""
    return est.render("area_rule.md.j2", placebo=study_summary())


def page_text() -> str:
    """The calibration tables, or a note that the study has not been run."""
    rates = _rows("rates", RATE_KEYS)
    if not rates:
        return NOT_RUN + "\n"
    summary = _rows("familywise_summary")
    status = _rows("status", STATUS_KEYS)
    done = sum(r["status"] == "complete" for r in status)
    parts = [f"Pseudo-sites completed: **{done} of {len(status)}**.\n"]
    for r in summary:
        parts.append(
            f"Family-wise: each pseudo-site has on average {float(r['mean_cells']):.1f} "
            f"cells (an estimate with a p-value), {float(r['mean_labelled']):.1f} of them "
            f"labelled; "
            f"**{float(r['share_any_strong_or_moderate']):.0%}** of the pseudo-sites have at "
            f"least one cell labelled strong or moderate, "
            f"{float(r['share_any_labelled']):.0%} at least one labelled at all (were the "
            f"cells independent tests at 5%: "
            f"{float(r.get('independent_any_strong_or_moderate') or 'nan'):.0%}).\n"
        )
    parts.append(est.generic_table(rates, "Share of pseudo-sites per label, by outcome and "
                                   "design (nominal strong or moderate: 0.05)",
                                   "tbl-calibration-rates"))  # fmt: skip
    parts.append(est.generic_table(_rows("area_rule"), "Resolution by area on the real panel "
                                   "under the null: the false strong or moderate rate with the "
                                   "raw p-value and with the area cap",
                                   "tbl-calibration-area-rule"))  # fmt: skip
    ranks = _rows("ranks", RANK_KEYS)
    if ranks:
        parts.append(est.generic_table(ranks, "Each real site's estimate among the "
                                       "pseudo-sites' (rank of its size, 1 = largest)",
                                       "tbl-calibration-ranks"))  # fmt: skip
    parts.append(est.generic_table(status, "The pseudo-sites, their municipalities and status",
                                   "tbl-calibration-sites"))  # fmt: skip
    return "\n\n".join(parts) + "\n"
