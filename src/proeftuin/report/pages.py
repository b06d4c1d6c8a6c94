"""Page generation: one Quarto page per plan region, the include files and the PDF source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from proeftuin.report import facts, paths
from proeftuin.report.estimates import did_tables, its_tables
from proeftuin.report.figures import figure_block, why_missing
from proeftuin.report.includes import executed_path, region_tasks, write_includes
from proeftuin.report.notebooks import notebook_labels
from proeftuin.report.pdf import write_pdf_source
from proeftuin.report.results import Rows, provenance_records, region_rows, task_errors
from proeftuin.report.tables import fmt_int, fmt_num, fmt_p, md_table, missing_note, to_float

STATIC_PAGES = (
    "index",
    "regions",
    "synthesis",
    "robustness",
    "methods",
    "data",
    "reproducibility",
)
DID_FIGURES = ("fig-trends", "fig-event-study")
ITS_FIGURES = ("fig-its",)


def jinja() -> jinja2.Environment:
    """Jinja with comment markers that cannot clash with Quarto's ``{#label}`` syntax."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        comment_start_string="{##",
        comment_end_string="##}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def static_pages() -> list[Path]:
    return [paths.reports_dir() / f"{name}.qmd" for name in STATIC_PAGES]


def generate_pages(plan: Any) -> list[Path]:
    """Write the include files, one page per plan region, and the PDF source; list the pages."""
    write_includes(plan)
    region_dir = paths.region_pages_dir()
    region_dir.mkdir(parents=True, exist_ok=True)
    for stale in region_dir.glob("*.qmd"):
        if stale.stem not in plan.regions:
            stale.unlink()
    regions = [write_region_page(plan, region) for region in plan.regions]
    pages = [p for p in static_pages() if p.is_file()] + regions
    write_pdf_source(plan, jinja())
    return pages


def write_region_page(plan: Any, region: str) -> Path:
    page = paths.region_pages_dir() / f"{region}.qmd"
    page.parent.mkdir(parents=True, exist_ok=True)
    context = region_context(plan, region, page.parent)
    page.write_text(jinja().get_template("region.qmd.j2").render(**context), encoding="utf-8")
    return page


# ----------------------------------------------------------------------------- the region page


def region_context(plan: Any, region: str, page_dir: Path) -> dict[str, Any]:
    """Everything the region template shows, formatted from the registry and the results."""
    site = facts.site_info(region)
    tasks = region_tasks(plan, region)
    params = dict(next(iter(tasks.values())).parameters) if tasks else {}
    did_nb = executed_path(tasks.get("did_region"), region, "did_region")
    its_nb = executed_path(tasks.get("its_region"), region, "its_region")
    did_rows = region_rows(region, "did_estimates.csv")
    its_rows = region_rows(region, "its_estimates.csv")
    errors = task_errors(region)
    return {
        "site": site,
        "site_id": region,
        "ref": figure_refs({did_nb: DID_FIGURES, its_nb: ITS_FIGURES}),
        "status_note": status_note(site),
        "start_year": params.get("start_year") or site.get("start_year") or "",
        "first_year": params.get("first_year", "–"),
        "last_year": params.get("last_year", "–"),
        "n_municipalities": len(site.get("municipalities") or []),
        "did_notebook": paths.rel_root(did_nb),
        "its_notebook": paths.rel_root(its_nb),
        "site_facts": site_facts(site),
        "municipality_table": municipality_table(region, site),
        "comparison_text": comparison_text(did_rows, params),
        "parameter_table": parameter_table(region, params),
        "did_figures": [
            figure_block(page_dir, did_nb, lab, why_missing("did_region", errors))
            for lab in DID_FIGURES
        ],
        "its_figures": [
            figure_block(page_dir, its_nb, lab, why_missing("its_region", errors))
            for lab in ITS_FIGURES
        ],
        "did_table": did_tables(did_rows, f"tbl-{region}-did").markdown()
        or missing_note(
            "No difference-in-differences estimates.", why_missing("did_region", errors)
        ),
        "its_table": its_tables(its_rows, f"tbl-{region}-its").markdown()
        or missing_note("No interrupted-time-series estimates.", why_missing("its_region", errors)),
        "robustness": robustness_text(region),
        "diagnostics": diagnostics(region, did_rows),
        "caveats": caveats(site, did_rows, its_rows, errors),
    }


def figure_refs(figures: dict[Path, tuple[str, ...]]) -> dict[str, str]:
    """``@label`` where the notebook has the figure, else words saying it is missing."""
    refs = {}
    for notebook, labels in figures.items():
        found = notebook_labels(notebook)
        for label in labels:
            refs[label] = f"@{label}" if label in found else f"figure `{label}`: not available"
    return refs


def status_note(site: dict[str, Any]) -> str:
    if site.get("status") != "unverified":
        return ""
    return (
        "The registry marks this site's municipalities as unverified: the "
        "list could not be confirmed against a published source."
    )


def site_facts(site: dict[str, Any]) -> str:
    if site.get("missing"):
        return "_The site registry could not be read; only the site id is known here._"
    facts_ = [
        f"- **Programme start:** {site.get('start_year') or '–'}",
        f"- **Lead insurer:** {site.get('lead_insurer') or '–'}",
        f"- **Registry status:** {site.get('status') or '–'}",
    ]
    sources = site.get("sources") or []
    if sources:
        items = sources.items() if isinstance(sources, dict) else enumerate(sources, 1)
        facts_.append("- **Sources:** " + "; ".join(f"{k}: {v}" for k, v in items))
    return "\n".join(facts_)


def municipality_table(site_id: str, site: dict[str, Any]) -> str:
    codes = [str(c) for c in site.get("municipalities") or []]
    names = [str(n) for n in site.get("municipality_names") or []]
    rows = [[code, names[i] if i < len(names) else "–"] for i, code in enumerate(codes)]
    caption = f"Municipalities of the site ({len(codes)}; CBS codes)"
    return md_table(["Code", "Municipality"], rows, caption, f"tbl-{site_id}-municipalities")


def comparison_text(did_rows: Rows, params: dict[str, Any]) -> str:
    pool = params.get("control_pool", "–")
    buffer = (
        " without municipalities in a COROP region of any Pioneer site (buffer)"
        if params.get("buffer")
        else ""
    )
    text = (
        f"Control municipalities come from the **{pool}** pool{buffer}; "
        "the other Pioneer sites' municipalities are never controls."
    )
    if did_rows:
        first = did_rows[0]
        units, treated = fmt_int(first.get("n_units")), fmt_int(first.get("n_treated_units"))
        text += f" The estimation sample has {units} municipalities, {treated} of them in the site."
    return text


def parameter_table(site_id: str, params: dict[str, Any]) -> str:
    rows = [
        [f"`{key}`", ", ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)]
        if not isinstance(value, str)
        else [f"`{key}`", value]
        for key, value in sorted(params.items())
    ]
    return md_table(
        ["Parameter", "Value"],
        rows,
        "Notebook parameters of this site's tasks",
        f"tbl-{site_id}-parameters",
    )


def robustness_text(region: str) -> str:
    """Where this site's robustness results are, or that they are not there yet."""
    link = f"[robustness results for this site](../robustness.qmd#sec-robustness-{region})"
    has_table = bool(region_rows(region, "robustness.csv"))
    has_figures = bool(notebook_labels(paths.robustness_notebook(region)))
    if not (has_table or has_figures):
        return (
            "Robustness results (other control pools, leaving out one municipality at a "
            f"time, placebo start years) are not available yet for this site; see the {link}."
        )
    return (
        "How much the estimates move with other control pools, without each municipality in "
        f"turn and with placebo start years: see the {link}."
    )


def diagnostics(region: str, did_rows: Rows) -> str:
    seen: dict[str, dict[str, str]] = {}
    for row in did_rows:
        if to_float(row.get("estimate")) is not None:
            seen.setdefault(row.get("outcome", ""), row)
    rows = [
        [facts.outcome_label(o), fmt_p(r.get("pretrend_p")), fmt_int(r.get("n_periods"))]
        for o, r in seen.items()
    ]
    pretrends = md_table(
        ["Outcome", "Pre-trend test p", "Years"],
        rows,
        "Parallel pre-trends test (joint test of the pre-start event-study coefficients); "
        "a small p-value warns that the site already diverged from its controls",
        f"tbl-{region}-pretrends",
    )
    parts = [pretrends or "_No difference-in-differences results for this site yet._"]
    parts.append(provenance_table(region, f"tbl-{region}-runs"))
    return "\n".join(p for p in parts if p)


def provenance_table(region: str, label: str) -> str:
    from proeftuin.report.results import code_version

    rows = [
        [
            name.split("/", 1)[1],
            prov.get("status", "–"),
            code_version(prov.get("code_version")),
            fmt_num(prov.get("duration_s")),
            prov.get("finished", "–"),
        ]
        for name, prov in provenance_records(region)
    ]
    return md_table(
        ["Notebook", "Status", "Code version", "Run time (s)", "Finished"],
        rows,
        "Task runs (from the provenance records)",
        label,
    )


def caveats(
    site: dict[str, Any], did_rows: Rows, its_rows: Rows, errors: dict[str, str]
) -> list[str]:
    treated = to_float(did_rows[0].get("n_treated_units")) if did_rows else None
    found = [
        "One site is one treated region: inference rests on few treated municipalities. "
        "Cluster-robust standard errors can then be too small; compare them with the wild "
        "bootstrap and randomization inference columns.",
        "The Pioneer sites were not chosen at random; regions that applied may differ in ways "
        "the comparison group does not capture.",
        "Vektis costs are claims paid under the basic insurance (Zvw); changes in what the Zvw "
        "covers (e.g. district nursing from 2015) affect every region alike but can interact "
        "with a region's mix of care.",
    ]
    if treated is not None and treated < 5:
        found.append(f"Only {treated:.0f} treated municipalities: every interval is fragile.")
    if site.get("status") == "unverified":
        found.append("Site membership is unverified in the registry (see the note above).")
    found += [f"Task `{nb}` failed: {err}" for nb, err in sorted(errors.items())]
    return found
