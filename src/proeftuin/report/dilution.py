"""Dilution: where a site reaches only a share of its municipalities' population (the
registry's ``coverage``, in ``facts.json``), a municipal estimate is an intention-to-treat
effect, diluted by everyone the programme did not reach. If the effect is confined to the
covered people and nothing spills over, the effect per covered person is the estimate
divided by the share; for a rate ratio RR it is 1 + (RR - 1) / share.
"""

from __future__ import annotations

import math
from typing import Any

from proeftuin.facts import SiteFacts
from proeftuin.headline import INTERVAL_PREFERENCE
from proeftuin.report.inputs import Rows, outcome_label
from proeftuin.report.tables import Table, fmt_ci, fmt_est, fmt_pct, shared_decimals, to_float


def covered_share(site: SiteFacts | None) -> float | None:
    """The covered share, or None where the site covers its whole population."""
    if site is None or site.coverage.population != "share":
        return None
    return site.coverage.share


def dilution_table(site: SiteFacts | None, did_rows: Rows, its_rows: Rows, label: str) -> str:
    """Municipal (ITT) estimate and the implied effect per covered person, per outcome: the
    DiD's leading row and the ITS's leading level change (as a rate ratio where it is one)."""
    share = covered_share(site)
    if not share:
        return ""
    body = [_did(r, share) for r in _lead_did(did_rows)]
    body += [_its(r, share) for r in its_rows if _its_lead(r)]
    if not body:
        return ""
    header = ["Outcome", "Design", "Municipal estimate (ITT, 95% CI)", "Per covered person"]
    caption = (
        f"Municipal estimates and the implied effect per covered person (share covered "
        f"{fmt_pct(share)}; estimate ÷ {share:g}, a rate ratio RR as 1 + (RR − 1) ÷ {share:g})"
    )
    return Table(header, body, caption, label, numeric={2, 3}).markdown()


def _lead_did(rows: Rows) -> list[dict[str, Any]]:
    best: dict[str, dict[str, Any]] = {}
    rank = {m: i for i, m in enumerate(INTERVAL_PREFERENCE)}
    for r in rows:
        method = r.get("method", "")
        if method not in rank or to_float(r.get("estimate")) is None:
            continue
        seen = best.get(r["outcome"])
        if seen is None or rank[method] < rank[seen["method"]]:
            best[r["outcome"]] = r
    return list(best.values())


def _did(r: dict[str, Any], share: float) -> list[str]:
    d = shared_decimals([r])
    scaled = [(to_float(r.get(k)) or 0) / share for k in ("estimate", "ci_low", "ci_high")]
    return [
        outcome_label(r["outcome"]),
        f"DiD ({r['method']})",
        f"{fmt_est(r['estimate'], d)} ({fmt_ci(r.get('ci_low'), r.get('ci_high'), d)})",
        f"{fmt_est(scaled[0], d)} ({fmt_ci(scaled[1], scaled[2], d)})",
    ]


def _its_lead(r: dict[str, Any]) -> bool:
    lead = r.get("lead", "") == "True"
    return lead and r.get("effect") == "level_change" and to_float(r.get("estimate")) is not None


def _its(r: dict[str, Any], share: float) -> list[str]:
    est, ratio = to_float(r.get("estimate")) or 0.0, to_float(r.get("rate_ratio"))
    if ratio is None:  # a Gaussian fit: a difference in the outcome's unit
        return [outcome_label(r["outcome"]), "ITS level change", fmt_est(est, 3),
                fmt_est(est / share, 3)]  # fmt: skip
    bounds = [to_float(r.get(k)) for k in ("ci_low", "ci_high")]
    ci = fmt_ci(*(math.exp(b) if b is not None else None for b in bounds), 3)
    per = [1 + (math.exp(b) - 1) / share if b is not None else None for b in bounds]
    return [
        outcome_label(r["outcome"]),
        f"ITS level change, rate ratio ({r.get('method', '')})",
        f"{ratio:.3f} ({ci})",
        f"{1 + (ratio - 1) / share:.3f} ({fmt_ci(*per, 3)})",
    ]
