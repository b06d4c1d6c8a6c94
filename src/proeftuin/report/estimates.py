"""Reader-facing tables built from the results files (DiD, ITS, synthesis, robustness,
validation). Each builder takes result rows and returns :class:`Tables`: compact tables, one
per outcome group, plus the outcomes that could not be estimated and why.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from proeftuin.report import inputs
from proeftuin.report.inputs import Rows, better_direction, outcome_label, site_name
from proeftuin.report.tables import (
    MISSING,
    Table,
    fmt_ci,
    fmt_est,
    fmt_int,
    fmt_p,
    fmt_pct,
    fmt_sig,
    shared_decimals,
    to_float,
)

# (short column name, full name for the legend)
METHODS = {
    "crv1": ("CRV1", "Cluster-robust SE (CRV1)"),
    "wild": ("Wild", "Wild cluster bootstrap (Webb weights)"),
    "wild_restricted": ("Wild R", "Wild cluster bootstrap, restricted (null imposed)"),
    "wild_unrestricted": ("Wild U", "Wild cluster bootstrap, unrestricted"),
    "ri": ("RI", "Randomization inference over placebo assignments"),
}
EFFECTS = {"level_change": "Level change", "slope_change": "Slope change per year"}
GROUPS = {"health": "Population health", "quality": "Quality of care", "costs": "Costs of care"}
POOLS = {"all": "All controls", "province": "Same province", "care_office": "Same care office",
         "size": "Similar size", "age": "Similar age"}  # fmt: skip
DESIGN_NAMES = {"did_region": "difference-in-differences", "its_region": "interrupted time series"}
DESIGN_NAMES |= {"did": DESIGN_NAMES["did_region"], "its": DESIGN_NAMES["its_region"]}
EVIDENCE_MARK = {"strong": "●●●", "moderate": "●●○", "weak": "●○○", "none": "○○○"}
DIRECTION_MARK = {"better": "▲ better", "worse": "▼ worse", "inconclusive": "◆ inconclusive"}


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
            parts.append("Not estimated:\n\n" + "\n".join(items) + "\n")
        return "\n".join(p for p in parts if p)

    def html(self) -> str:
        parts = [t.html() for t in self.tables]
        if self.not_estimated:
            items = "".join(
                f"<li><strong>{html.escape(n)}</strong>: {html.escape(w)}</li>"
                for n, w in self.not_estimated
            )
            parts.append(f"<p class='not-estimated'>Not estimated:</p><ul>{items}</ul>")
        return "\n".join(parts)


# ----------------------------------------------------------------------------- helpers


def by_key(rows: Iterable[dict[str, str]], key: str) -> dict[str, list[dict[str, str]]]:
    """Rows grouped by a column, in order of first appearance."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row.get(key, ""), []).append(row)
    return groups


def estimated(rows: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    return [r for r in rows if to_float(r.get("estimate")) is not None]


def reason(rows: list[dict[str, str]]) -> str:
    notes = sorted({r.get("note", "").strip() for r in rows} - {""})
    return "; ".join(notes) or "no estimate in the results"


def by_dimension(outcomes: Iterable[str]) -> dict[str, list[str]]:
    """Outcomes grouped by Triple Aim dimension (health, quality, costs, then others)."""
    groups: dict[str, list[str]] = {}
    for name in outcomes:
        groups.setdefault(inputs.outcome(name).dimension, []).append(name)
    order = [*GROUPS, *sorted(set(groups) - set(GROUPS))]
    return {d: groups[d] for d in order if d in groups}


def shared_unit(outcomes: list[str]) -> str:
    """The unit of every outcome in the list, or ``""`` when they differ."""
    units = {inputs.outcome(o).unit for o in outcomes}
    return units.pop() if len(units) == 1 else ""


def group_caption(dimension: str, outcomes: list[str], what: str) -> str:
    """``Costs of care, EUR per insured-year (lower is better): <what>``."""
    name = GROUPS.get(dimension, dimension.capitalize() or "Other outcomes")
    unit = shared_unit(outcomes) if len(outcomes) > 1 else ""
    directions = {better_direction(o) for o in outcomes} - {""}
    better = f" ({directions.pop()} is better)" if len(directions) == 1 else ""
    return f"{name}{', ' + unit if unit else ''}{better}: {what}"


def outcome_cell(name: str, group: list[str] | None = None) -> str:
    """The outcome's label; its unit unless the caption states the group's one unit,
    and which way is better when the group is mixed."""
    group = group or [name]
    unit_in_caption = len(group) > 1 and shared_unit(group)
    label = inputs.outcome(name).label if unit_in_caption else outcome_label(name)
    direction = better_direction(name)
    return f"{label}; {direction} is better" if mixed_direction(group) and direction else label


def grouped(
    rows: Rows,
    build: Callable[[str, list[str], dict[str, list[dict[str, str]]]], Table],
) -> Tables:
    """One table per outcome group; outcomes without any estimate listed apart."""
    per_outcome = by_key(rows, "outcome")
    result = Tables()
    usable = []
    for name, outcome_rows in per_outcome.items():
        if estimated(outcome_rows):
            usable.append(name)
        else:
            result.not_estimated.append((outcome_label(name), reason(outcome_rows)))
    for dimension, names in by_dimension(usable).items():
        result.tables.append(build(dimension, names, per_outcome))
    return result


def mixed_direction(names: list[str]) -> bool:
    return len({better_direction(o) for o in names} - {""}) > 1


# ----------------------------------------------------------------------------- region results


def did_tables(rows: Rows, label_prefix: str) -> Tables:
    """DiD: rows = outcomes, columns = estimate, then 95% CI and p per inference method."""
    methods = sorted(
        {r.get("method", "") for r in estimated(rows)},
        key=lambda m: (list(METHODS).index(m) if m in METHODS else len(METHODS), m),
    )

    def build(dimension: str, names: list[str], per: dict[str, list[dict[str, str]]]) -> Table:
        header = ["Outcome", "Estimate"]
        for method in methods:
            short = METHODS.get(method, (method, method))[0]
            header += [f"{short} 95% CI", f"{short} p"]
        body = [_did_row(name, per[name], methods, names) for name in names]
        what = (
            "difference-in-differences, average effect after the start year, "
            "with the 95% confidence interval and p-value of each inference method"
        )
        label, numeric = f"{label_prefix}-{dimension or 'other'}", set(range(1, len(header)))
        notes = _method_notes(rows, methods)
        return Table(header, body, group_caption(dimension, names, what), label, notes, numeric)

    return last_table_notes(grouped(rows, build))


def last_table_notes(found: Tables) -> Tables:
    """The method legend once, under the last table of the section."""
    for table in found.tables[:-1]:
        table.notes = []
    return found


def _did_row(
    name: str, rows: list[dict[str, str]], methods: list[str], group: list[str]
) -> list[str]:
    per_method = {r.get("method", ""): r for r in estimated(rows)}
    digits = shared_decimals(per_method.values())
    first = next(iter(per_method.values()))
    cells = [outcome_cell(name, group), fmt_est(first.get("estimate"), digits)]
    for method in methods:
        row = per_method.get(method, {})
        ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
        if row and row.get("estimate") != first.get("estimate"):
            ci = f"{fmt_est(row.get('estimate'), digits)}: {ci}"
        cells += [ci, fmt_p(row.get("p_value"))]
    return cells


def _method_notes(rows: Rows, methods: list[str]) -> list[str]:
    """A legend of the inference methods, with what the results say about each."""
    notes = []
    for method in methods:
        short, full = METHODS.get(method, (method, method))
        said = sorted({r.get("note", "").strip() for r in rows if r.get("method") == method})
        said = [s for s in said if s and s.lower() not in full.lower()]
        notes.append(f"{short}: {full}" + (f" ({'; '.join(said)})" if said else "") + ".")
    return notes


def its_tables(rows: Rows, label_prefix: str) -> Tables:
    """ITS: rows = outcomes, columns = level and slope change with 95% CI and p."""
    effects = [e for e in EFFECTS if any(r.get("effect") == e for r in rows)]
    effects += sorted({r.get("effect", "") for r in estimated(rows)} - set(effects))

    def build(dimension: str, names: list[str], per: dict[str, list[dict[str, str]]]) -> Table:
        header = ["Outcome"]
        for effect in effects:
            name = EFFECTS.get(effect, effect)
            header += [name, f"{name} 95% CI", f"{name} p"]
        body = []
        for outcome in names:
            found = {r.get("effect", ""): r for r in estimated(per[outcome])}
            digits = shared_decimals(found.values())
            cells = [outcome_cell(outcome, names)]
            for effect in effects:
                cells += _est_ci_p(found.get(effect, {}), digits)
            body.append(cells)
        notes = sorted({r.get("note", "").strip() for r in estimated(rows)} - {""})
        caption = group_caption(
            dimension, names, "interrupted time series, change in level and slope at the start"
        )
        label = f"{label_prefix}-{dimension or 'other'}"
        return Table(header, body, caption, label, notes, set(range(1, len(header))))

    return grouped(rows, build)


# ----------------------------------------------------------------------------- synthesis


def scorecard_table(rows: Rows) -> Table:
    body = []
    for r in rows:
        digits = shared_decimals([r])
        body.append(
            [
                site_name(r.get("region", "")),
                GROUPS.get(r.get("dimension", ""), r.get("dimension", "")),
                outcome_label(r.get("outcome", "")),
                _est_ci(r, digits),
                f"{EVIDENCE_MARK.get(r.get('evidence', ''), '')} {r.get('evidence', '')}".strip(),
                DIRECTION_MARK.get(r.get("direction", ""), r.get("direction", "")),
            ]
        )
    header = ["Site", "Triple Aim", "Outcome", "Estimate (95% CI)", "Evidence", "Direction"]
    caption = (
        "Triple Aim scorecard: each site against its comparison group, per outcome "
        "(direction says whether the change is good for the outcome; evidence grades the "
        "uncertainty)"
    )
    return Table(header, body, caption, "tbl-scorecard-summary", numeric={3})


def pooled_table(rows: Rows) -> Table:
    header = ["Outcome", "Design", "Pooled estimate", "95% CI", "p", "τ²", "I²", "Q-test p", "k"]
    body = []
    for r in rows:
        digits = shared_decimals([r])
        body.append(
            [
                outcome_label(r.get("outcome", "")),
                DESIGN_NAMES.get(r.get("design", ""), r.get("design", "")),
                fmt_est(r.get("estimate"), digits),
                fmt_ci(r.get("ci_low"), r.get("ci_high"), digits),
                fmt_p(r.get("p_value")),
                fmt_sig(r.get("tau2"), 2),
                fmt_pct(r.get("i2")),
                fmt_p(r.get("q_p")),
                fmt_int(r.get("k")),
            ]
        )
    caption = "Pooled estimates across sites (random effects; k = number of sites)"
    return Table(header, body, caption, "tbl-pooled-summary", numeric=set(range(2, 9)))


# ----------------------------------------------------------------------------- robustness


def robustness_tables(rows: Rows, region: str) -> Tables:
    """Control pools, leave-one-out and placebo years, one compact table each."""
    builders = {"control_pool": _pool_table, "leave_one_out": _leave_one_out_table,
                "placebo_year": _placebo_table}  # fmt: skip
    found = [builders.get(check, _other_check_table)(check_rows, region, check)
             for check, check_rows in by_key(rows, "check").items()]  # fmt: skip
    return Tables([table for table in found if table])


def _est_ci_p(row: dict[str, str], digits: int) -> list[str]:
    """Estimate, 95% interval and p-value, in three cells."""
    ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
    return [fmt_est(row.get("estimate"), digits), ci, fmt_p(row.get("p_value"))]


def _est_ci(row: dict[str, str], digits: int) -> str:
    if to_float(row.get("estimate")) is None:
        return MISSING
    ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
    return fmt_est(row.get("estimate"), digits) + ("" if ci == MISSING else f" ({ci})")


def _pool_table(rows: Rows, region: str, check: str) -> Table:
    variants = list(by_key(rows, "variant"))
    header = ["Outcome", *[POOLS.get(v, v) for v in variants]]
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        found = {r.get("variant", ""): r for r in outcome_rows}
        digits = shared_decimals(outcome_rows)
        body.append(
            [outcome_label(outcome), *[_est_ci(found.get(v, {}), digits) for v in variants]]
        )
    caption = "Alternative control pools: estimate (95% CI) with each pool"
    numeric = set(range(1, len(header)))
    return Table(header, body, caption, f"tbl-{region}-robust-pools", numeric=numeric)


def _leave_one_out_table(rows: Rows, region: str, check: str) -> Table:
    names = _municipality_names(region)
    header = ["Outcome", "Estimates", "Lowest without", "Highest without", "CI excludes 0"]
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        found = estimated(outcome_rows)
        if not found:
            continue
        digits = shared_decimals(found)
        low = min(found, key=lambda r: float(r["estimate"]))
        high = max(found, key=lambda r: float(r["estimate"]))
        bounds = [(to_float(r.get("ci_low")) or 0, to_float(r.get("ci_high")) or 0) for r in found]
        excludes = sum(1 for low_ci, high_ci in bounds if low_ci > 0 or high_ci < 0)
        span = f"{fmt_est(low['estimate'], digits)} to {fmt_est(high['estimate'], digits)}"
        without = [names.get(r.get("variant", ""), r.get("variant", "")) for r in (low, high)]
        body.append([outcome_label(outcome), span, *without, f"{excludes} of {len(found)}"])
    caption = (
        "Leave one municipality out: range of the estimates, and the municipality whose "
        "omission gives the lowest and the highest"
    )
    return Table(header, body, caption, f"tbl-{region}-robust-loo", numeric={1, 4})


def _municipality_names(region: str) -> dict[str, str]:
    found = inputs.site(region)
    return {m.code: f"{m.name} ({m.code})" for m in found.municipalities} if found else {}


def _placebo_table(rows: Rows, region: str, check: str) -> Table:
    header = ["Outcome", "Placebo start", "Estimate", "95% CI", "p"]
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        digits = shared_decimals(outcome_rows)
        for i, r in enumerate(sorted(outcome_rows, key=lambda r: r.get("variant", ""))):
            name = outcome_label(outcome) if i == 0 else ""
            body.append([name, r.get("variant", ""), *_est_ci_p(r, digits)])
    caption = (
        "Placebo start years (before the real start, pre-start data only): an effect here "
        "signals diverging trends, not a programme effect"
    )
    return Table(header, body, caption, f"tbl-{region}-robust-placebo", numeric={2, 3, 4})


def _other_check_table(rows: Rows, region: str, check: str) -> Table:
    header = ["Outcome", "Variant", "Estimate (95% CI)", "p", "Note"]
    body = [
        [
            outcome_label(r.get("outcome", "")),
            r.get("variant", ""),
            _est_ci(r, shared_decimals([r])),
        ]
        + [fmt_p(r.get("p_value")), r.get("note", "")]
        for r in rows
    ]
    label = f"tbl-{region}-robust-{check.replace('_', '-') or 'other'}"
    return Table(header, body, f"Check `{check}`", label, numeric={2, 3})


# ----------------------------------------------------------------------------- validation


def validation_table(rows: Rows, label: str = "tbl-validation") -> Table:
    """Our estimates next to the published ones, with the tolerance and the verdict."""
    header = ["Case", "Quantity", "Published", "Ours", "Difference", "Tolerance", "Agrees"]
    digits = {"published": 4, "estimate": 4, "abs_diff": 2, "tolerance": 2}
    body = [
        [r.get("case", ""), r.get("quantity", "")]
        + [fmt_sig(r.get(key), n) for key, n in digits.items()]
        + [_verdict(r.get("passed")), r.get("source", "")]
        for r in rows
    ]
    header.append("Source")
    caption = "Validation: our estimators on data sets with published results"
    return Table(header, body, caption, label, numeric={2, 3, 4, 5})


def _verdict(value: object) -> str:
    text = str(value or "").strip().lower()
    if text in ("true", "yes", "1", "pass", "passed"):
        return "✓ yes"
    if text in ("false", "no", "0", "fail", "failed"):
        return "✗ no"
    return text or MISSING


def generic_table(rows: Rows, caption: str = "", label: str = "") -> Table:
    """Any results CSV: columns as in the file, numbers to three significant digits."""
    if not rows:
        return Table([], [], caption, label)
    header = list(rows[0])

    def show(key: str, value: str) -> str:
        if key.startswith("p_") or key.endswith("_p"):
            return fmt_p(value)
        return fmt_sig(value) if to_float(value) is not None and key not in _ID_COLUMNS else value

    body = [[show(k, r.get(k, "")) for k in header] for r in rows]
    return Table(header, body, caption, label)


_ID_COLUMNS = {"region", "year", "n_units", "n_treated_units", "n_periods", "k", "draws", "seed"}
