"""Reader-facing tables built from the results files (DiD, ITS, synthesis, robustness,
validation). Tables with fixed columns are column specs in ``reports/templates/tables.md.j2``;
tables whose columns follow the results (one per inference method, ITS effect, control
pool) are built here, one per outcome group, with the outcomes that could not be estimated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from proeftuin.report import inputs
from proeftuin.report.inputs import Rows, better_direction, outcome_label, site_name
from proeftuin.report.tables import (
    MISSING,
    Row,
    Table,
    est_ci,
    est_ci_p,
    fmt_ci,
    fmt_est,
    fmt_num,
    fmt_p,
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
}
EFFECTS = {"level_change": "Level change", "slope_change": "Slope change per year"}
GROUPS = {"health": "Population health", "quality": "Quality of care", "costs": "Costs of care"}
POOLS = {"all": "All controls", "province": "Same province", "care_office": "Same care office",
         "size": "Similar size", "age": "Similar age"}  # fmt: skip
DESIGN_NAMES = {"did_site": "difference-in-differences", "its_site": "interrupted time series"}
DESIGN_NAMES |= {"did": DESIGN_NAMES["did_site"], "its": DESIGN_NAMES["its_site"]}
DESIGN_NAMES |= {"sdid": "synthetic DiD", "sc": "synthetic control"}
EVIDENCE_MARK = {"strong": "●●●", "moderate": "●●○", "weak": "●○○", "none": "○○○"}
DIRECTION_MARK = {"better": "▲ better", "worse": "▼ worse", "inconclusive": "◆ inconclusive"}
VERDICTS = dict.fromkeys(("true", "yes", "1", "pass", "passed"), "✓ yes")
VERDICTS |= dict.fromkeys(("false", "no", "0", "fail", "failed"), "✗ no")


def _verdict(value: object) -> str:
    text = str(value or "").strip().lower()
    return VERDICTS.get(text, text or MISSING)


# formats of the template tables that need the facts or a vocabulary
FORMATS: dict[str, Callable[[Row, str, int], str]] = {
    "outcome": lambda r, k, d: outcome_label(r.get(k, "")),
    "site": lambda r, k, d: site_name(r.get(k, "")),
    "dimension": lambda r, k, d: GROUPS.get(r.get(k, ""), r.get(k, "")),
    "design": lambda r, k, d: DESIGN_NAMES.get(r.get(k, ""), r.get(k, "")),
    "evidence": lambda r, k, d: f"{EVIDENCE_MARK.get(r.get(k, ''), '')} {r.get(k, '')}".strip(),
    "direction": lambda r, k, d: DIRECTION_MARK.get(r.get(k, ""), r.get(k, "")),
    "verdict": lambda r, k, d: _verdict(r.get(k)),
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
    env.filters |= {"num": fmt_num, "to_float": to_float, "est": fmt_est, "ci": fmt_ci,
                    "decimals": shared_decimals}  # fmt: skip
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
            parts.append("Not estimated:\n\n" + "\n".join(items) + "\n")
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
    return sorted({str(r.get("note", "")).strip() for r in rows} - {""})


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


def outcome_cell(name: str, group: list[str]) -> str:
    """The outcome's label; its unit unless the caption states the group's one unit,
    and which way is better when the group is mixed."""
    label = inputs.outcome(name).label if len(group) > 1 and shared_unit(group) else None
    direction, mixed = better_direction(name), len({better_direction(o) for o in group} - {""}) > 1
    label = label or outcome_label(name)
    return f"{label}; {direction} is better" if mixed and direction else label


def grouped(rows: Rows, columns: list[tuple[str, str]], cells: Callable[[list[Row]], list[str]],
            what: str, label_prefix: str, notes: list[str]) -> Tables:  # fmt: skip
    """One table per Triple Aim group (health, quality, costs, then others) with rows =
    outcomes; outcomes without any estimate listed apart, with the reason."""
    per_outcome, result, groups = by_key(rows, "outcome"), Tables(), {}
    for name, found in per_outcome.items():
        if estimated(found):
            groups.setdefault(inputs.outcome(name).dimension, []).append(name)
        else:
            why = "; ".join(notes_of(found)) or "no estimate in the results"
            result.not_estimated.append((outcome_label(name), why))
    header = ["Outcome"] + [h for h, _ in columns]
    for dimension in [*GROUPS, *sorted(set(groups) - set(GROUPS))]:
        names = groups.get(dimension, [])
        if names:
            body = [[outcome_cell(o, names), *cells(per_outcome[o])] for o in names]
            caption = group_caption(dimension, names, what)
            label = f"{label_prefix}-{dimension or 'other'}"
            numeric = set(range(1, len(header)))
            result.tables.append(Table(header, body, caption, label, list(notes), numeric))
    for shown in result.tables[:-1]:  # a legend once, under the last table
        shown.notes = []
    return result


# ----------------------------------------------------------------------------- site results


def did_tables(rows: Rows, label_prefix: str) -> Tables:
    """DiD: rows = outcomes, columns = estimate, then 95% CI and p per inference method."""
    methods = sorted(
        {r.get("method", "") for r in estimated(rows)},
        key=lambda m: (list(METHODS).index(m) if m in METHODS else len(METHODS), m),
    )
    shorts = [METHODS.get(m, (m, m))[0] for m in methods]
    columns = [("Estimate", "")] + [(f"{s} {c}", "") for s in shorts for c in ("95% CI", "p")]

    def cells(found: list[Row]) -> list[str]:
        per_method = {r.get("method", ""): r for r in estimated(found)}
        digits, first = shared_decimals(per_method.values()), next(iter(per_method.values()))
        out = [fmt_est(first.get("estimate"), digits)]
        for method in methods:
            row = per_method.get(method, {})
            ci = fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
            if row and row.get("estimate") != first.get("estimate"):
                ci = f"{fmt_est(row.get('estimate'), digits)}: {ci}"
            out += [ci, fmt_p(row.get("p_value"))]
        return out

    legend = []
    for method in methods:
        short, full = METHODS.get(method, (method, method))
        said = notes_of(r for r in rows if r.get("method") == method)
        said = [s for s in said if s.lower() not in full.lower()]
        legend.append(f"{short}: {full}" + (f" ({'; '.join(said)})" if said else "") + ".")
    what = ("difference-in-differences, average effect after the start year, with the 95% "
            "confidence interval and p-value of each inference method")  # fmt: skip
    return grouped(rows, columns, cells, what, label_prefix, legend)


def its_tables(rows: Rows, label_prefix: str) -> Tables:
    """ITS: rows = outcomes, columns = level and slope change with 95% CI and p (of the
    inference method marked ``lead`` where the results mark one)."""
    rows = [r for r in rows if r.get("lead", "") != "False" or not r.get("estimate")]
    effects = [e for e in EFFECTS if any(r.get("effect") == e for r in rows)]
    effects += sorted({r.get("effect", "") for r in estimated(rows)} - set(effects))
    names = [EFFECTS.get(e, e) for e in effects]
    columns = [(f"{n}{c}", "") for n in names for c in ("", " 95% CI", " p")]

    def cells(found: list[Row]) -> list[str]:
        per_effect = {r.get("effect", ""): r for r in estimated(found)}
        digits = shared_decimals(per_effect.values())
        return [c for e in effects for c in est_ci_p(per_effect.get(e, {}), digits)]

    what = "interrupted time series, change in level and slope at the start"
    return grouped(rows, columns, cells, what, label_prefix, notes_of(estimated(rows)))


# ----------------------------------------------------------------------------- robustness


OTHER_CHECK = [["Outcome", "outcome", "outcome"], ["Variant", "variant", "text"],
               ["Estimate (95% CI)", "", "est_ci"], ["p", "p_value", "p"],
               ["Note", "note", "text"]]  # fmt: skip


def robustness_tables(rows: Rows, site: str) -> Tables:
    """Control pools, leave-one-out and placebo years, one compact table each; any other
    check as its rows."""
    found = []
    for check, check_rows in by_key(rows, "check").items():
        if check in ("control_pool", "leave_one_out", "placebo_year"):
            build = {"control_pool": _pool_table, "leave_one_out": _leave_one_out_table}
            found.append(build.get(check, _placebo_table)(check_rows, site))
        else:
            label = f"tbl-{site}-robust-{check.replace('_', '-') or 'other'}"
            found.append(table(OTHER_CHECK, check_rows, f"Check `{check}`", label, FORMATS))
    return Tables([t for t in found if t])


def _pool_table(rows: Rows, site: str) -> Table:
    variants = list(by_key(rows, "variant"))
    body = []
    for outcome, found in by_key(rows, "outcome").items():
        per, digits = {r.get("variant", ""): r for r in found}, shared_decimals(found)
        body.append([outcome_label(outcome), *[est_ci(per.get(v, {}), digits) for v in variants]])
    header = ["Outcome", *[POOLS.get(v, v) for v in variants]]
    caption = "Alternative control pools: estimate (95% CI) with each pool"
    return Table(header, body, caption, f"tbl-{site}-robust-pools", [],
                 set(range(1, len(header))))  # fmt: skip


def _leave_one_out_table(rows: Rows, site: str) -> Table:
    known = inputs.site(site)
    names = {m.code: f"{m.name} ({m.code})" for m in known.municipalities} if known else {}
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
    header = ["Outcome", "Estimates", "Lowest without", "Highest without", "CI excludes 0"]
    caption = ("Leave one municipality out: range of the estimates, and the municipality whose "
               "omission gives the lowest and the highest")  # fmt: skip
    return Table(header, body, caption, f"tbl-{site}-robust-loo", [], {1, 4})


def _placebo_table(rows: Rows, site: str) -> Table:
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        digits = shared_decimals(outcome_rows)
        for i, r in enumerate(sorted(outcome_rows, key=lambda r: r.get("variant", ""))):
            name = outcome_label(outcome) if i == 0 else ""
            body.append([name, r.get("variant", ""), *est_ci_p(r, digits)])
    header = ["Outcome", "Placebo start", "Estimate", "95% CI", "p"]
    caption = ("Placebo start years (before the real start, pre-start data only): an effect "
               "here signals diverging trends, not a programme effect")  # fmt: skip
    return Table(header, body, caption, f"tbl-{site}-robust-placebo", [], {2, 3, 4})


def generic_table(rows: Rows, caption: str = "", label: str = "") -> str:
    """Any results CSV: columns as in the file, numbers to three significant digits."""
    ids = {"site", "year", "n_units", "n_treated_units", "n_periods", "k", "draws", "seed"}
    spec = [[k, k, "generic"] for k in (rows[0] if rows else [])]

    def generic(r: Row, k: str, d: int) -> str:
        value = r.get(k, "")
        if k.startswith("p_") or k.endswith("_p"):
            return fmt_p(value)
        return fmt_sig(value) if to_float(value) is not None and k not in ids else value

    return table(spec, rows, caption, label, {"generic": generic}).markdown()
