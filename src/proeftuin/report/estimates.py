"""Reader-facing tables built from the results files (DiD, ITS, robustness, synthetic
control, dilution). Tables with fixed columns are column specs in
``reports/templates/tables.md.j2``; tables whose columns follow the results (one per
inference method, ITS effect, control pool) are built here, one per outcome group, with the
outcomes that could not be estimated and why. Outcomes and sites are named, never their ids.

Dilution: where a site reaches only a share of its municipalities' population (the
registry's ``coverage``), a municipal estimate is an intention-to-treat effect; if the
effect is confined to the covered people, the effect per covered person is the estimate
divided by the share, and for a rate ratio RR it is 1 + (RR - 1) / share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from proeftuin.facts import SiteFacts
from proeftuin.headline import INTERVAL_PREFERENCE
from proeftuin.report import inputs
from proeftuin.report.inputs import Rows, better_direction, outcome_label, site_name
from proeftuin.report.tables import (
    MISSING,
    Row,
    Table,
    est_ci,
    fmt_ci,
    fmt_est,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_sig,
    shared_decimals,
    table,
    to_float,
)

# (short column name, full name for the legend)
METHODS = {
    "crv1": ("CRV1", "Cluster-robust SE (CRV1)"),
    "wild": ("Wild", "Wild cluster bootstrap (Webb weights)"),
    "wild_restricted": ("Wild R", "Wild cluster bootstrap, restricted (null imposed)"),
    "wild_unrestricted": ("Wild U", "Wild cluster bootstrap, unrestricted"),
    "ri": ("RI", "Randomization inference over placebo assignments"),
    "placebo_area": ("Placebo area", "Placebo sites within the site's area"),
    "placebo_all": ("Placebo all", "Placebo sites anywhere in the country"),
    "controlled": ("Controlled", "Controlled ITS, model-based interval"),
}
EFFECTS = {"level_change": "Level change", "slope_change": "Slope change per year"}
GROUPS = {"health": "Population health", "quality": "Quality of care", "costs": "Costs of care"}
POOLS = {"all": "All controls", "province": "Same province", "care_office": "Same care office",
         "size": "Similar size", "age": "Similar age"}  # fmt: skip
DESIGN_NAMES = {"did": "difference-in-differences", "its": "interrupted time series",
                "sdid": "synthetic DiD", "sc": "synthetic control"}  # fmt: skip
DESIGN_NAMES |= {"did_site": DESIGN_NAMES["did"], "its_site": DESIGN_NAMES["its"]}
EVIDENCE_MARK = {"strong": "●●●", "moderate": "●●○", "weak": "●○○", "none": "○○○"}
DIRECTION_MARK = {"better": "▲ better", "worse": "▼ worse", "inconclusive": "◆ inconclusive"}
VERDICTS = dict.fromkeys(("true", "yes", "1", "pass", "passed"), "✓ yes")
VERDICTS |= dict.fromkeys(("false", "no", "0", "fail", "failed"), "✗ no")


def _get(names: dict[str, Any], index: int | None = None) -> Callable[[Row, str, int], str]:
    def cell(r: Row, k: str, d: int) -> str:
        value = str(r.get(k) or "").strip()
        found = names.get(value.lower(), value) if value else value
        return found[index] if index is not None and isinstance(found, tuple) else found

    return cell


# formats of the template tables that need the facts or a vocabulary
FORMATS: dict[str, Callable[[Row, str, int], str]] = {
    "outcome": lambda r, k, d: outcome_label(r.get(k, "")),
    "site": lambda r, k, d: site_name(r.get(k, "")),
    "dimension": _get(GROUPS),
    "design": _get(DESIGN_NAMES),
    "method": _get(METHODS, 0),
    "pool": _get(POOLS),
    "evidence": lambda r, k, d: f"{EVIDENCE_MARK.get(r.get(k, ''), '')} {r.get(k, '')}".strip(),
    "direction": _get(DIRECTION_MARK),
    "verdict": _get(VERDICTS),
}


def jinja() -> jinja2.Environment:
    """Jinja with comment markers that cannot clash with Quarto's ``{#label}`` syntax, and
    ``table(spec, rows, caption, label)`` for column specs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(inputs.reports_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        comment_start_string="{##",
        comment_end_string="##}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["table"] = lambda *spec, **kw: table(*spec, formats=FORMATS, **kw).markdown()
    env.globals |= {"outcome": inputs.outcome, "site_name": site_name, "methods": METHODS,
                    "groups": GROUPS, "designs": DESIGN_NAMES}  # fmt: skip
    env.filters |= {"num": fmt_num, "to_float": to_float, "est": fmt_est, "ci": fmt_ci,
                    "decimals": shared_decimals, "label": outcome_label, "p": fmt_p}  # fmt: skip
    return env


def render(template: str, **context: Any) -> str:
    """A template of ``reports/templates`` rendered with ``context``."""
    return jinja().get_template(template).render(**context)


def template_table(name: str, rows: Rows, *args: Any) -> str:
    """A fixed-column table of ``tables.md.j2`` as Markdown (empty without rows)."""
    text = str(getattr(jinja().get_template("tables.md.j2").module, name)(rows, *args)).strip()
    return text + "\n" if text else ""


@dataclass
class Tables:
    """Tables shown together, and outcomes left out with the reason."""

    tables: list[Table] = field(default_factory=list)
    not_estimated: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tables or self.not_estimated)

    def markdown(self) -> str:
        parts = [t.markdown() for t in self.tables]
        if self.not_estimated:
            items = [f"- **{name}**: {why}" for name, why in self.not_estimated]
            parts.append("Not estimated, and why:\n\n" + "\n".join(items) + "\n")
        return "\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------- helpers


def by_key(rows: Iterable[Row], key: str) -> dict[str, list[Row]]:
    """Rows grouped by a column, in order of first appearance."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.get(key, ""), []).append(row)
    return groups


def estimated(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if to_float(r.get("estimate")) is not None]


def notes_of(rows: Iterable[Row]) -> list[str]:
    return sorted({str(r.get("note") or "").strip() for r in rows} - {""})


def group_caption(dimension: str, outcomes: list[str], what: str) -> str:
    """``Costs of care, EUR per insured-year (lower is better): <what>``."""
    name = GROUPS.get(dimension, dimension.capitalize() or "Other outcomes")
    units = {inputs.outcome(o).unit for o in outcomes}
    unit = units.pop() if len(outcomes) > 1 and len(units) == 1 else ""
    directions = {better_direction(o) for o in outcomes} - {""}
    better = f" ({directions.pop()} is better)" if len(directions) == 1 else ""
    return f"{name}{', ' + unit if unit else ''}{better}: {what}"


def grouped(rows: Rows, header: list[str], cells: Callable[[list[Row]], list[str]],
            what: str, label_prefix: str, notes: list[str], missing: str) -> Tables:  # fmt: skip
    """One table per Triple Aim group (health, quality, costs, then others) with rows =
    outcomes; outcomes without any estimate listed apart, with the reason."""
    per_outcome, result, groups = by_key(rows, "outcome"), Tables(), {}
    for name, found in per_outcome.items():
        if estimated(found):
            groups.setdefault(inputs.outcome(name).dimension, []).append(name)
        else:
            why = "; ".join(notes_of(found)) or "no estimate in the results"
            result.not_estimated.append((outcome_label(name), why))
    for dimension in [*GROUPS, *sorted(set(groups) - set(GROUPS))]:
        if names := groups.get(dimension, []):
            units = {inputs.outcome(o).unit for o in names}
            mixed = len({better_direction(o) for o in names} - {""}) > 1
            short = len(names) > 1 and len(units) == 1  # the caption names the unit
            body = [[(inputs.outcome(o).label if short else outcome_label(o))
                     + (f"; {better_direction(o)} is better" if mixed else ""),
                     *cells(per_outcome[o])] for o in names]  # fmt: skip
            result.tables.append(Table(["Outcome", *header], body,
                                       group_caption(dimension, names, what),
                                       f"{label_prefix}-{dimension or 'other'}", [],
                                       set(range(1, len(header) + 1)), missing))  # fmt: skip
    if result.tables:  # a legend once, under the last table
        result.tables[-1].notes = notes
    return result


# ----------------------------------------------------------------------------- site results


def did_tables(rows: Rows, label_prefix: str) -> Tables:
    """DiD: rows = outcomes, columns = estimate, then 95% CI (p) per inference method."""
    methods = sorted(
        {r.get("method", "") for r in estimated(rows)},
        key=lambda m: (list(METHODS).index(m) if m in METHODS else len(METHODS), m),
    )
    gaps: list[str] = []

    def cells(found: list[Row]) -> list[str]:
        per_method = {r.get("method", ""): r for r in estimated(found)}
        digits, first = shared_decimals(per_method.values()), next(iter(per_method.values()))
        out = [fmt_est(first.get("estimate"), digits)]
        for method in methods:
            row = per_method.get(method, {})
            ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
            if ci == MISSING:
                said = notes_of(r for r in found if r.get("method") == method)
                gaps.append(f"{METHODS.get(method, (method,))[0]}: "
                            + ("; ".join(said) or "no interval from this method"))  # fmt: skip
            elif row.get("estimate") != first.get("estimate"):
                ci = f"{fmt_est(row.get('estimate'), digits)}: {ci}"
            out.append(ci if ci == MISSING else f"{ci} (p {fmt_p(row.get('p_value'))})")
        return out

    legend = []
    for method in methods:
        short, full = METHODS.get(method, (method, method))
        said = [s for s in notes_of(r for r in rows if r.get("method") == method)
                if s.lower() not in full.lower()]  # fmt: skip
        legend.append(f"{short}: {full}" + (f" ({'; '.join(said)})" if said else "") + ".")
    header = ["Estimate", *[f"{METHODS.get(m, (m,))[0]}: 95% CI (p)" for m in methods]]
    what = ("difference-in-differences, average effect after the start year, with the 95% "
            "confidence interval and p-value of each inference method")  # fmt: skip
    result = grouped(rows, header, cells, what, label_prefix, legend, "")
    for shown in result.tables:
        shown.missing = "; ".join(dict.fromkeys(gaps)) or "no interval"
    return result


def its_cell(row: Row) -> str:
    """An ITS effect with its interval: a rate ratio (exp of the log effect) for a count
    model, else a difference in the outcome's unit."""
    if to_float(row.get("rate_ratio")) is None:
        return est_ci(row, shared_decimals([row]))
    ratio = {k: math.exp(v) if (v := to_float(row.get(k), infinite=True)) is not None else None
             for k in ("estimate", "ci_low", "ci_high")}  # fmt: skip
    return "RR " + est_ci(ratio, 3)


def its_tables(rows: Rows, label_prefix: str) -> Tables:
    """ITS: rows = outcomes, columns = level and slope change with 95% CI and p (of the
    inference method marked ``lead`` where the results mark one); rate ratios for counts."""
    rows = [r for r in rows if r.get("lead", "") != "False" or not r.get("estimate")]
    effects = [e for e in EFFECTS if any(r.get("effect") == e for r in rows)]
    effects += sorted({r.get("effect", "") for r in estimated(rows)} - set(effects))
    header = [h for e in effects for h in (f"{EFFECTS.get(e, e)} (95% CI)", "p")]

    def cells(found: list[Row]) -> list[str]:
        per_effect = {r.get("effect", ""): r for r in estimated(found)}
        found_rows = [per_effect.get(e, {}) for e in effects]
        return [c for r in found_rows for c in (its_cell(r), fmt_p(r.get("p_value")))]

    notes = notes_of(estimated(rows))
    if any(to_float(r.get("rate_ratio")) is not None for r in rows):
        notes.append("RR: rate ratio, the exponentiated effect of the count model (1 = no "
                     "change; 0.95 = 5% fewer).")  # fmt: skip
    what = "interrupted time series, change in level and slope at the start"
    return grouped(rows, header, cells, what, label_prefix, notes,
                   "no estimate for this effect (see the notes)")  # fmt: skip


# ----------------------------------------------------------------------------- robustness


def robustness_tables(rows: Rows, site: str) -> Tables:
    """Control pools, leave-one-out and placebo years, one compact table each; any other
    check as its rows."""
    found = []
    for check, check_rows in by_key(rows, "check").items():
        build = {"control_pool": _pool_table, "leave_one_out": _leave_one_out_table}
        if check in (*build, "placebo_year"):
            found.append(build.get(check, _placebo_table)(check_rows, site))
        else:
            spec = [["Outcome", "outcome", "outcome"], ["Variant", "variant", "text"],
                    ["Estimate (95% CI)", "", "est_ci"], ["p", "p_value", "p"]]  # fmt: skip
            label = f"tbl-{site}-robust-{check.replace('_', '-') or 'other'}"
            found.append(table(spec, check_rows, f"Check `{check}`", label, FORMATS,
                               notes_of(check_rows)))  # fmt: skip
    return Tables([t for t in found if t])


def _pool_table(rows: Rows, site: str) -> Table:
    variants, body, why = list(by_key(rows, "variant")), [], {}
    for outcome, found in by_key(rows, "outcome").items():
        per, digits = {r.get("variant", ""): r for r in found}, shared_decimals(found)
        for v in variants:
            if to_float(per.get(v, {}).get("estimate")) is None:
                why.setdefault(POOLS.get(v, v), notes_of([per.get(v, {})]) or [
                    "no estimate with this pool (none left after excluding the Pioneer sites "
                    "or too few control municipalities)"])  # fmt: skip
        body.append([outcome_label(outcome), *[est_ci(per.get(v, {}), digits) for v in variants]])
    header = ["Outcome", *[POOLS.get(v, v) for v in variants]]
    caption = "Alternative control pools: estimate (95% CI) with each pool"
    missing = "; ".join(f"{pool}: {'; '.join(said)}" for pool, said in why.items())
    return Table(header, body, caption, f"tbl-{site}-robust-pools", [],
                 set(range(1, len(header))), missing or "no estimate")  # fmt: skip


def _leave_one_out_table(rows: Rows, site: str) -> Table:
    known = inputs.site(site)
    names = {m.code: m.name or "unnamed" for m in known.municipalities} if known else {}
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        if not (found := estimated(outcome_rows)):
            continue
        digits = shared_decimals(found)
        low = min(found, key=lambda r: float(r["estimate"]))
        high = max(found, key=lambda r: float(r["estimate"]))
        bounds = [(to_float(r.get("ci_low")) or 0, to_float(r.get("ci_high")) or 0) for r in found]
        excludes = sum(1 for low_ci, high_ci in bounds if low_ci > 0 or high_ci < 0)
        span = f"{fmt_est(low['estimate'], digits)} to {fmt_est(high['estimate'], digits)}"
        without = [names.get(r.get("variant", ""), "a municipality not in the facts snapshot")
                   for r in (low, high)]  # fmt: skip
        body.append([outcome_label(outcome), span, *without, f"{excludes} of {len(found)}"])
    header = ["Outcome", "Estimates", "Lowest without", "Highest without", "CI excludes 0"]
    caption = ("Leave one municipality out: range of the estimates, and the municipality whose "
               "omission gives the lowest and the highest")  # fmt: skip
    return Table(header, body, caption, f"tbl-{site}-robust-loo", [], {1, 4})


def _placebo_table(rows: Rows, site: str) -> Table:
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        digits = shared_decimals(outcome_rows)
        for r in sorted(outcome_rows, key=lambda r: r.get("variant", "")):
            body.append([outcome_label(outcome), r.get("variant", ""), est_ci(r, digits),
                         fmt_p(r.get("p_value"))])  # fmt: skip
    header = ["Outcome", "Placebo start", "Estimate (95% CI)", "p"]
    caption = ("Placebo start years (before the real start, pre-start data only): an effect "
               "here signals diverging trends, not a programme effect")  # fmt: skip
    missing = "; ".join(notes_of(r for r in rows if to_float(r.get("estimate")) is None))
    return Table(header, body, caption, f"tbl-{site}-robust-placebo", [], {2, 3},
                 missing or "no estimate for this placebo year")  # fmt: skip


# ----------------------------------------------------------------------------- any results file

HEADERS = {"outcome": "Outcome", "estimator": "Estimator", "method": "Inference",
           "design": "Design", "variant": "Variant", "role": "Role", "estimate": "Estimate",
           "p_value": "p", "pre_rmspe": "Pre-period RMSPE", "mde": "MDE",
           "mde_pct": "MDE (% of pre mean)", "name": "Municipality", "weight": "Weight",
           "site": "Site", "kind": "Kind"}  # fmt: skip
KINDS = {"outcome": "outcome", "site": "site", "estimator": "design", "design": "design",
         "method": "method", "variant": "pool", "p_value": "p", "mde_pct": "pct"}  # fmt: skip
COUNTS = {"year", "n_units", "n_treated_units", "n_periods", "k", "draws", "seed", "n_pre",
          "n_post", "n_placebos", "first_year", "last_year"}  # fmt: skip


def generic_table(rows: Rows, caption: str = "", label: str = "", missing: str = "") -> str:
    """Any results CSV, for a reader: named outcomes, sites, designs and methods, the interval
    in one column, counts as integers, other numbers to three significant digits, the notes
    under the table."""
    skip = ("ci_high", "note", "lead", "site", "design") if "estimator" in (rows or [{}])[0] else ()
    keys = [k for k in (rows[0] if rows else []) if k not in (skip or ("ci_high", "note", "lead"))]
    spec = [[HEADERS.get(k, k.replace("_", " ").capitalize()) if k != "ci_low" else "95% CI", k,
             "ci" if k == "ci_low" else "int" if k in COUNTS else KINDS.get(k, "generic")]
            for k in keys]  # fmt: skip

    def generic(r: Row, k: str, d: int) -> str:
        return fmt_sig(r.get(k)) if to_float(r.get(k)) is not None else str(r.get(k) or "")

    notes = notes_of(rows)
    missing = missing or "no value in the results file" + (" (see the notes)" if notes else "")
    return table(spec, rows, caption, label, {**FORMATS, "generic": generic}, notes,
                 missing).markdown()  # fmt: skip


# ----------------------------------------------------------------------------- dilution


def dilution_table(site: SiteFacts | None, did_rows: Rows, its_rows: Rows, label: str) -> str:
    """Municipal (ITT) estimate and the implied effect per covered person, per outcome: the
    DiD's leading row and the ITS's leading level change (as a rate ratio where it is one)."""
    share = site.coverage.share if site and site.coverage.population == "share" else None
    if not share:
        return ""
    rank, best = {m: i for i, m in enumerate(INTERVAL_PREFERENCE)}, {}
    for r in estimated(did_rows):
        seen = best.get(r["outcome"])
        if r.get("method") in rank and (seen is None or rank[r["method"]] < rank[seen["method"]]):
            best[r["outcome"]] = r
    body, keys = [], ("estimate", "ci_low", "ci_high")
    for r in best.values():
        d = shared_decimals([r])
        scaled = {k: (to_float(r.get(k)) or 0) / share for k in keys}
        body.append([outcome_label(r["outcome"]), f"DiD ({METHODS.get(r['method'], ('',))[0]})",
                     est_ci(r, d), est_ci(scaled, d)])  # fmt: skip
    for r in estimated(its_rows):
        if r.get("lead") != "True" or r.get("effect") != "level_change":
            continue
        if (ratio := to_float(r.get("rate_ratio"))) is None:
            scaled = {k: (to_float(r.get(k)) or 0) / share for k in keys}
            body.append([outcome_label(r["outcome"]), "ITS level change", est_ci(r, 3),
                         est_ci(scaled, 3)])  # fmt: skip
            continue
        bounds = [to_float(r.get(k)) for k in ("ci_low", "ci_high")]
        ci = fmt_ci(*(math.exp(b) if b is not None else None for b in bounds), 3)
        per = [1 + (math.exp(b) - 1) / share if b is not None else None for b in bounds]
        scaled_ratio = f"{1 + (ratio - 1) / share:.3f} ({fmt_ci(*per, 3)})"
        body.append([outcome_label(r["outcome"]), "ITS level change, rate ratio",
                     f"{ratio:.3f} ({ci})", scaled_ratio])  # fmt: skip
    header = ["Outcome", "Design", "Municipal estimate (ITT, 95% CI)", "Per covered person"]
    caption = (f"Municipal estimates and the implied effect per covered person (share covered "
               f"{fmt_pct(share)}; estimate ÷ {share:g}, a rate ratio RR as "
               f"1 + (RR − 1) ÷ {share:g})")  # fmt: skip
    return Table(header, body, caption, label, numeric={2, 3}).markdown()
