"""Reader-facing tables built from the results files (DiD, ITS, robustness, synthetic
control, dilution), in the words of ``reports/templates/vocabulary.yml``. Tables with fixed
columns are column specs in ``reports/templates/tables.md.j2``; tables whose columns follow
the results (one per inference method, ITS effect, control pool) are built here, one per
outcome group, with the outcomes that could not be estimated and why. Dilution: where a site
reaches a share of its population, the municipal (intention-to-treat) estimate ÷ the share,
or for a rate ratio RR, 1 + (RR − 1) ÷ share, is the effect per covered person.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from proeftuin.designs.headline import INTERVAL_PREFERENCE, sure
from proeftuin.pipeline.facts import SiteFacts
from proeftuin.report import inputs
from proeftuin.report import tables as tb
from proeftuin.report.inputs import Rows, outcome_label, site_name


def words(part: str) -> dict[str, Any]:
    """A part of ``reports/templates/vocabulary.yml`` (methods, groups, pools, captions…)."""
    return _vocabulary(inputs.reports_dir("templates", "vocabulary.yml"))[part]


@lru_cache(maxsize=2)
def _vocabulary(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def word(part: str, code: Any, index: int | None = None) -> str:
    """The word for a code (a method's short name with ``index=0``); the code when unknown."""
    text = str(code or "").strip()
    found = words(part).get(text.lower(), text) if text else text
    return found[index] if index is not None and isinstance(found, list) else str(found)


def _in_words(part: str, index: int | None = None) -> Callable[[tb.Row, str, int], str]:
    return lambda r, k, d: word(part, r.get(k), index)


FORMATS: dict[str, Callable[[tb.Row, str, int], str]] = {
    "outcome": lambda r, k, d: outcome_label(r.get(k, "")),
    "site": lambda r, k, d: site_name(r.get(k, "")), "method": _in_words("methods", 0),
    **{kind: _in_words(part) for kind, part in (("dimension", "groups"), ("design", "designs"),
       ("pool", "pools"), ("evidence", "evidence"), ("direction", "direction"),
       ("verdict", "verdict"))},
    "generic": lambda r, k, d: tb.fmt_sig(r.get(k)) if tb.to_float(r.get(k)) is not None
    else str(r.get(k) or ""),  # any other column of a results file
}  # fmt: skip


def jinja() -> jinja2.Environment:
    """Jinja with comment markers that cannot clash with Quarto's ``{#label}`` syntax, and
    ``table(spec, rows, caption, label)`` for column specs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(inputs.reports_dir("templates"))),
        undefined=jinja2.StrictUndefined, comment_start_string="{##", comment_end_string="##}",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )  # fmt: skip
    env.globals |= {
        "outcome": inputs.outcome,
        "site_name": site_name,
        "words": words,
        "table": lambda *a, **k: tb.table(*a, formats=FORMATS, **k).markdown(),
    }
    env.filters |= {"num": tb.fmt_num, "to_float": tb.to_float, "est": tb.fmt_est, "ci": tb.fmt_ci,
                    "decimals": tb.shared_decimals, "label": outcome_label,
                    "widths": tb.print_widths}  # fmt: skip
    return env


def render(template: str, **context: Any) -> str:
    """A template of ``reports/templates`` rendered with ``context``."""
    return jinja().get_template(template).render(**context)


def template_table(name: str, rows: Rows, *args: Any) -> str:
    """A fixed-column table of ``tables.md.j2`` as Markdown (empty without rows)."""
    text = str(getattr(jinja().get_template("tables.md.j2").module, name)(rows, *args)).strip()
    return text + "\n" if text else ""


def by_key(rows: Iterable[tb.Row], key: str) -> dict[str, list[tb.Row]]:
    """Rows grouped by a column, in order of first appearance."""
    groups: dict[str, list[tb.Row]] = {}
    for row in rows:
        groups.setdefault(row.get(key, ""), []).append(row)
    return groups


def estimated(rows: Iterable[tb.Row]) -> list[tb.Row]:
    return [r for r in rows if tb.to_float(r.get("estimate")) is not None]


def notes_of(rows: Iterable[tb.Row]) -> list[str]:
    """The rows' notes, each once; method ids and ``placebo_area`` in words."""
    said = {_METHOD_IN_NOTE.sub(lambda m: m[1] + word("methods", m[2], 1).lower(),
                                str(r.get("note") or "").strip()) for r in rows}  # fmt: skip
    return sorted({n.replace("placebo_area", "the site's area") for n in said} - {""})


_METHOD_IN_NOTE = re.compile(r"(interval and p-value: )(\w+)")  # a robustness row's method


def joined(notes: Iterable[str]) -> str:
    """Notes in one text, each '; '-separated part once (rows repeat 'Webb weights')."""
    return "; ".join(dict.fromkeys(p for n in notes for p in n.split("; ") if p.strip()))


def grouped(rows: Rows, header: list[str], cells: Callable[[list[tb.Row]], list[str]],
            what: str, prefix: str, notes: list[str], missing: str) -> str:  # fmt: skip
    """One table per Triple Aim group (health, quality, costs, then others), rows = outcomes,
    the legend once under the last; then the outcomes without an estimate, with the reason."""
    per_outcome, groups, left_out = by_key(rows, "outcome"), {}, []
    for name, found in per_outcome.items():
        if estimated(found):
            groups.setdefault(inputs.outcome(name).dimension, []).append(name)
        else:
            why = joined(notes_of(found)) or "no estimate in the results"
            left_out.append(f"- **{outcome_label(name)}**: {why}")
    shown = []
    for dimension in [*words("groups"), *sorted(set(groups) - set(words("groups")))]:
        if not (names := groups.get(dimension, [])):
            continue
        units = {inputs.outcome(o).unit for o in names}
        directions = {inputs.outcome(o).better for o in names} - {""}
        short = len(names) > 1 and len(units) == 1  # the caption names the unit
        body = [[(inputs.outcome(o).label if short else outcome_label(o))
                 + (f"; {inputs.outcome(o).better} is better" * (len(directions) > 1)),
                 *cells(per_outcome[o])] for o in names]  # fmt: skip
        caption = (word("groups", dimension) or "Other outcomes") + f", {units.pop()}" * short
        caption += f" ({directions.pop()} is better)" if len(directions) == 1 else ""
        shown.append(tb.Table(["Outcome", *header], body, f"{caption}: {what}",
                           f"{prefix}-{dimension or 'other'}", [], set(range(1, len(header) + 1)),
                           missing))  # fmt: skip
    if shown:
        shown[-1].notes = notes
    left = "Not estimated, and why:\n\n" + "\n".join(left_out) + "\n" if left_out else ""
    return "\n".join(p for p in [*(t.markdown() for t in shown), left] if p)


def did_tables(rows: Rows, prefix: str) -> str:
    """DiD: rows = outcomes, columns = estimate, then 95% CI (p) per inference method."""
    order = list(words("methods"))
    methods = sorted({r.get("method", "") for r in estimated(rows)},
                     key=lambda m: (order.index(m) if m in order else len(order), m))  # fmt: skip
    gaps: list[str] = []

    def cells(found: list[tb.Row]) -> list[str]:
        per_method = {r.get("method", ""): r for r in estimated(found)}
        digits, first = tb.shared_decimals(per_method.values()), next(iter(per_method.values()))
        out = [tb.fmt_est(first.get("estimate"), digits)]
        for method in methods:
            row = per_method.get(method, {})
            ci = tb.fmt_ci(row.get("ci_low"), row.get("ci_high"), digits)
            if ci == tb.MISSING:
                said = notes_of(r for r in found if r.get("method") == method)
                gaps.append(f"{word('methods', method, 0)}: "
                            + (joined(said) or "no interval from this method"))  # fmt: skip
            elif row.get("estimate") != first.get("estimate"):
                ci = f"{tb.fmt_est(row.get('estimate'), digits)}: {ci}"
            out.append(
                ci if ci == tb.MISSING else f"{ci} (p {tb.fmt_p(row.get('p_value'))}{sure(row)})"
            )
        return out

    said = {m: joined(s for s in notes_of(r for r in rows if r.get("method") == m)
                      if s.lower() not in word("methods", m, 1).lower())
            for m in methods}  # fmt: skip
    legend = [f"{word('methods', m, 0)}: {word('methods', m, 1)}" + f" ({said[m]})" * bool(said[m])
              + "." for m in methods]  # fmt: skip
    header = ["Estimate", *[f"{word('methods', m, 0)}: 95% CI (p)" for m in methods]]
    text = grouped(rows, header, cells, words("captions")["did"], prefix, legend, "{gaps}")
    return text.replace("{gaps}", "; ".join(dict.fromkeys(gaps)) or "no interval")


def its_cell(row: tb.Row) -> str:
    """An ITS effect with its interval: a rate ratio (exp of the log effect) for a count
    model, else a difference in the outcome's unit."""
    if tb.to_float(row.get("rate_ratio")) is None:
        return tb.est_ci(row, tb.shared_decimals([row]))
    ratio = {k: math.exp(v) if (v := tb.to_float(row.get(k), infinite=True)) is not None else None
             for k in ("estimate", "ci_low", "ci_high")}  # fmt: skip
    return "RR " + tb.est_ci(ratio, 3)


def its_tables(rows: Rows, prefix: str) -> str:
    """ITS: rows = outcomes, columns = level and slope change with 95% CI and p (of the
    inference method marked ``lead`` where the results mark one); rate ratios for counts."""
    rows = [r for r in rows if r.get("lead", "") != "False" or not r.get("estimate")]
    effects = [e for e in words("effects") if any(r.get("effect") == e for r in rows)]
    effects += sorted({r.get("effect", "") for r in estimated(rows)} - set(effects))
    header = [h for e in effects for h in (f"{word('effects', e)} (95% CI)", "p")]

    def cells(found: list[tb.Row]) -> list[str]:
        per_effect = {r.get("effect", ""): r for r in estimated(found)}
        found_rows = [per_effect.get(e, {}) for e in effects]
        return [c for r in found_rows for c in (its_cell(r), tb.fmt_p(r.get("p_value")) + sure(r))]

    ratios = any(tb.to_float(r.get("rate_ratio")) is not None for r in rows)
    notes = notes_of(estimated(rows)) + [words("captions")["rate_ratio"]] * ratios
    return grouped(rows, header, cells, words("captions")["its"], prefix, notes,
                   "no estimate for this effect (see the notes)")  # fmt: skip


def robustness_tables(rows: Rows, site: str) -> str:
    """Control pools, leave-one-out and placebo years, one compact table each; any other
    check as its rows."""
    build = {"control_pool": _pool_table, "leave_one_out": _leave_one_out_table,
             "placebo_year": _placebo_table}  # fmt: skip
    found = []
    for check, check_rows in by_key(rows, "check").items():
        if check in build:
            found.append(build[check](check_rows, site).markdown())
        else:  # its rows as they are
            label = f"tbl-{site}-robust-{check.replace('_', '-') or 'other'}"
            found.append(generic_table(check_rows, f"Check `{check}`", label))
    return "\n".join(found)


def _pool_table(rows: Rows, site: str) -> tb.Table:
    variants, body, why = list(by_key(rows, "variant")), [], {}
    for outcome, found in by_key(rows, "outcome").items():
        per, digits = {r.get("variant", ""): r for r in found}, tb.shared_decimals(found)
        for v in variants:
            if tb.to_float(per.get(v, {}).get("estimate")) is None:
                said = notes_of([per.get(v, {})]) or [words("captions")["no_pool"]]
                why.setdefault(word("pools", v), said)
        body.append([outcome_label(outcome), *(tb.est_ci(per.get(v, {}), digits)
                                               for v in variants)])  # fmt: skip
    pools: dict[str, list[str]] = {}  # pools with the same reason named together, it once
    for pool, said in why.items():
        pools.setdefault("; ".join(said), []).append(pool)
    missing = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in pools.items())
    return tb.Table(["Outcome", *[word("pools", v) for v in variants]], body,
                 words("captions")["pools"], f"tbl-{site}-robust-pools", [],
                 set(range(1, len(variants) + 1)), missing)  # fmt: skip


def _leave_one_out_table(rows: Rows, site: str) -> tb.Table:
    known = inputs.facts().site(site)
    names = {m.code: m.name or "unnamed" for m in (known.municipalities if known else [])}
    body = []
    for outcome, outcome_rows in by_key(rows, "outcome").items():
        if not (found := estimated(outcome_rows)):
            continue
        digits = tb.shared_decimals(found)
        low, high = (f(found, key=lambda r: float(r["estimate"])) for f in (min, max))
        bounds = [[tb.to_float(r.get(k)) or 0 for k in ("ci_low", "ci_high")] for r in found]
        excludes = sum(1 for low_ci, high_ci in bounds if low_ci > 0 or high_ci < 0)
        span = f"{tb.fmt_est(low['estimate'], digits)} to {tb.fmt_est(high['estimate'], digits)}"
        without = [names.get(r.get("variant", ""), "a municipality not in the facts snapshot")
                   for r in (low, high)]  # fmt: skip
        body.append([outcome_label(outcome), span, *without, f"{excludes} of {len(found)}"])
    header = ["Outcome", "Estimates", "Lowest without", "Highest without", "CI excludes 0"]
    return tb.Table(header, body, words("captions")["loo"], f"tbl-{site}-robust-loo", [], {1, 4})


def _placebo_table(rows: Rows, site: str) -> tb.Table:
    body = [[outcome_label(outcome), r.get("variant", ""), tb.est_ci(r, tb.shared_decimals(found)),
             tb.fmt_p(r.get("p_value"))] for outcome, found in by_key(rows, "outcome").items()
            for r in sorted(found, key=lambda r: r.get("variant", ""))]  # fmt: skip
    missing = joined(notes_of(r for r in rows if tb.to_float(r.get("estimate")) is None))
    return tb.Table(["Outcome", "Placebo start", "Estimate (95% CI)", "p"], body,
                 words("captions")["placebo"], f"tbl-{site}-robust-placebo", [], {2, 3},
                 missing or "no estimate for this placebo year")  # fmt: skip


def generic_table(rows: Rows, caption: str = "", label: str = "", missing: str = "") -> str:
    """Any results CSV, for a reader: named outcomes, sites, designs and methods, the interval
    in one column, counts as integers, other numbers to three significant digits, the notes
    under the table."""
    heads, kinds = words("headers"), words("formats")
    spec = [[heads.get(k, k.replace("_", " ").capitalize()), k, kinds.get(k, "generic")]
            for k in (rows[0] if rows else []) if k not in ("ci_high", "note", "lead")]  # fmt: skip
    notes = notes_of(rows)
    missing = missing or "no value in the results file" + (" (see the notes)" if notes else "")
    return tb.table(spec, rows, caption, label, FORMATS, notes, missing).markdown()


def leading(did_rows: Rows, its_rows: Rows) -> Rows:
    """A site's leading rows: per outcome the DiD row of the first method of
    ``INTERVAL_PREFERENCE`` with an estimate, then the ITS's leading level changes."""
    rank = {m: i for i, m in enumerate(INTERVAL_PREFERENCE)}
    ranked = by_key((r for r in estimated(did_rows) if r.get("method") in rank), "outcome")
    return [*(min(found, key=lambda r: rank[r["method"]]) for found in ranked.values()),
            *(r for r in estimated(its_rows) if r.get("lead") == "True"
              and r.get("effect") == "level_change")]  # fmt: skip


def dilution_table(site: SiteFacts, did_rows: Rows, its_rows: Rows, label: str) -> str:
    """Municipal (ITT) estimate and the implied effect per covered person, per outcome: the
    DiD's leading row and the ITS's leading level change (as a rate ratio where it is one)."""
    share = site.coverage.share if site.coverage.population == "share" else None
    if not share:
        return ""
    keys, body = ("ci_low", "ci_high"), []
    for r in leading(did_rows, its_rows):
        ratio, d = tb.to_float(r.get("rate_ratio")), 3 if "effect" in r else tb.shared_decimals([r])
        design = "Difference-in-differences" if "effect" not in r else (
            "Time series, level change" + " (rate ratio)" * (ratio is not None))  # fmt: skip
        shown = r if ratio is None else {"estimate": ratio, **{k: math.exp(b) for k in keys
                                         if (b := tb.to_float(r.get(k))) is not None}}  # fmt: skip
        scaled = {k: 1 + (v - 1) / share if ratio is not None else v / share for k in
                  ("estimate", *keys) if (v := tb.to_float(shown.get(k))) is not None}  # fmt: skip
        body.append([outcome_label(r["outcome"]), design, tb.est_ci(shown, d),
                     tb.est_ci(scaled, d)])  # fmt: skip
    caption = words("captions")["dilution"].format(pct=tb.fmt_pct(share), share=f"{share:g}")
    header = ["Outcome", "Design", "Municipal estimate (ITT, 95% CI)", "Per covered person"]
    return tb.Table(header, body, caption, label, numeric={2, 3}).markdown()
