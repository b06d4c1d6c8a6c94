"""The evaluation report: pages generated from the plan, rendered by Quarto (or previewed).

How numbers and figures reach the report (the report never computes; it formats):

* **Figures** come from the executed notebooks. Website pages use Quarto's
  ``{{< embed notebook.ipynb#label >}}`` shortcode on the labelled cells
  (``fig-trends``, ``fig-event-study``, ``fig-its``, ``fig-forest``); Quarto links each figure
  to a rendered copy of its notebook. The single PDF (``reports/full-report.qmd``, Typst)
  holds every page; because nine regions share the same cell labels, the PDF uses the same
  figures extracted from the same notebook outputs under region-prefixed labels
  (``fig-<site>-event-study``) so that every cross-reference in it stays unique.
* **Tables and numbers** come from the results files (``reports/results``): this module reads
  them and writes Markdown tables into generated include files ``reports/_generated/*.md``
  (gitignored) and into the generated region pages ``reports/regions/<site>.qmd``. Static
  pages (``reports/*.qmd``, committed) pull them in with ``{{< include >}}``.
* ``_quarto.yml`` disables execution (``execute: enabled: false``): Quarto never re-runs an
  analysis. Where a notebook or a result is missing, the page says so in a callout instead
  of failing the render.

Without Quarto, :func:`write_previews` converts each executed notebook to HTML (nbconvert,
no third-party scripts) under ``reports/previews/`` with an index linking every preview and
showing the results tables.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import util as import_util
from pathlib import Path
from typing import Any

import jinja2

from proeftuin import settings

REQUIRE_ENV = "REQUIRE_QUARTO"
STATIC_PAGES = (
    "index",
    "regions",
    "synthesis",
    "robustness",
    "methods",
    "data",
    "reproducibility",
)
PDF_PAGES = ("index", "synthesis", "robustness", "methods", "data", "reproducibility")
PDF_NAME = "proeftuin-report.pdf"
SYNTHESIS = "synthesis"
DID_FIGURES = ("fig-trends", "fig-event-study")
ITS_FIGURES = ("fig-its",)
QUARTO_HELP = (
    "Install Quarto from https://quarto.org/docs/get-started/ (puts `quarto` on PATH), "
    "or `pip install proeftuin[quarto]` (the quarto-cli package; needs network access)."
)
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")
LABEL_DEF_RE = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)")
XREF_RE = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")


class QuartoRequiredError(RuntimeError):
    """Quarto is required (``REQUIRE_QUARTO=1``) but was not found."""


@dataclass
class ReportOutcome:
    """What :func:`build_report` produced."""

    rendered: bool
    message: str
    pages: list[Path] = field(default_factory=list)
    quarto: Path | None = None
    site_dir: Path | None = None
    pdf: Path | None = None
    previews_index: Path | None = None
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- locations


def reports_dir() -> Path:
    return settings.project_root() / "reports"


def generated_dir() -> Path:
    return reports_dir() / "_generated"


def region_pages_dir() -> Path:
    return reports_dir() / "regions"


def previews_dir() -> Path:
    return reports_dir() / "previews"


def site_dir() -> Path:
    return settings.project_root() / "_site"


def templates_dir() -> Path:
    return reports_dir() / "templates"


def synthesis_notebook() -> Path:
    return settings.executed_dir() / SYNTHESIS / f"{SYNTHESIS}.ipynb"


# --------------------------------------------------------------------------- facts (thin adapters)


def _load_plan() -> Any:
    from proeftuin.plan import load_plan

    return load_plan()


def _site_info(site_id: str) -> dict[str, Any]:
    """Registry facts for a site; only the id when the registry cannot tell more."""
    info: dict[str, Any] = {"id": site_id, "name": site_id, "municipalities": []}
    try:
        from proeftuin.regions import load_registry

        site = load_registry().sites[site_id]
    except Exception:  # noqa: BLE001 - the page states what is missing
        info["missing"] = True
        return info
    keys = ("name", "municipalities", "municipality_names", "start_year", "lead_insurer")
    for key in (*keys, "status", "sources"):
        info[key] = getattr(site, key, info.get(key))
    return info


def _outcome_info(name: str) -> dict[str, str]:
    """Label, unit and dimension of an outcome; the bare name when the dictionary lacks it."""
    info = {"name": name, "label": name, "unit": "", "description": "", "dimension": ""}
    try:
        from proeftuin.outcomes import OUTCOMES

        outcome = OUTCOMES[name]
    except Exception:  # noqa: BLE001
        return info
    for key in ("label", "unit", "description", "dimension"):
        info[key] = str(getattr(outcome, key, info[key]) or "")
    return info


# --------------------------------------------------------------------------- reading results


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a results CSV (empty when the file is missing)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN -> None


def fmt_num(value: Any) -> str:
    """A number for a table: digits by magnitude, an en dash when missing."""
    number = _float(value)
    if number is None:
        return "–"
    size = abs(number)
    if size >= 100:
        text = f"{number:,.0f}"
    elif size >= 1:
        text = f"{number:.2f}"
    else:
        text = f"{number:.3f}"
    return text.replace("-", "−")


def fmt_p(value: Any) -> str:
    number = _float(value)
    if number is None:
        return "–"
    return "<0.001" if number < 0.001 else f"{number:.3f}"


def fmt_ci(low: Any, high: Any) -> str:
    if _float(low) is None or _float(high) is None:
        return "–"
    return f"{fmt_num(low)} to {fmt_num(high)}"


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").strip()


def md_table(header: list[str], rows: list[list[Any]], caption: str = "", label: str = "") -> str:
    """A Markdown pipe table, with a Quarto caption and cross-reference label."""
    if not rows:
        return ""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    if caption:
        suffix = f" {{#{label}}}" if label else ""
        lines += ["", f": {caption}{suffix}"]
    return "\n".join(lines) + "\n"


def missing_note(what: str, hint: str) -> str:
    return f'::: {{.callout-warning title="Not available"}}\n{what} {hint}\n:::\n'


def outcome_label(name: str) -> str:
    info = _outcome_info(name)
    return f"{info['label']} ({info['unit']})" if info["unit"] else info["label"]


# --------------------------------------------------------------------------- executed notebooks


def cell_options(cell: dict[str, Any]) -> dict[str, Any]:
    """Quarto cell options (``#| key: value`` lines at the top of a code cell)."""
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    options: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("#|"):
            break
        key, _, value = line[2:].partition(":")
        options[key.strip()] = value.strip().strip("\"'")
    return options


def notebook_labels(path: Path) -> dict[str, dict[str, Any]]:
    """Labelled code cells of a notebook: ``{label: cell}`` (empty when unreadable)."""
    data = read_json(path)
    if not isinstance(data, dict):
        return {}
    labelled = {}
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            label = cell_options(cell).get("label")
            if label:
                labelled[label] = cell
    return labelled


def cell_image(cell: dict[str, Any]) -> tuple[bytes, str] | None:
    """The first image output of a cell as (bytes, extension)."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        for mime, ext in (("image/png", "png"), ("image/svg+xml", "svg"), ("image/jpeg", "jpg")):
            if mime in data:
                payload = data[mime]
                payload = "".join(payload) if isinstance(payload, list) else payload
                if ext == "svg":
                    return payload.encode("utf-8"), ext
                return base64.b64decode(payload), ext
    return None


def figure_block(page_dir: Path, notebook: Path, label: str, why_missing: str) -> str:
    """An embed shortcode for a labelled figure, or a note saying why it is missing."""
    if label in notebook_labels(notebook):
        target = Path(os.path.relpath(notebook, page_dir)).as_posix()
        return f"{{{{< embed {target}#{label} >}}}}\n"
    return missing_note(f"Figure `{label}` from `{notebook.name}` is not available.", why_missing)


# --------------------------------------------------------------------------- tables from results

METHOD_NAMES = {
    "crv1": "Cluster-robust SE (CRV1)",
    "wild": "Wild cluster bootstrap",
    "ri": "Randomization inference",
}
EFFECT_NAMES = {"level_change": "Level change", "slope_change": "Slope change (per year)"}


def did_table(rows: list[dict[str, str]], label: str) -> str:
    header = ["Outcome", "Inference", "Estimate", "SE", "95% CI", "p", "Pre-trend p", "Units"]
    header.append("Note")
    body = [
        [
            outcome_label(r.get("outcome", "")),
            METHOD_NAMES.get(r.get("method", ""), r.get("method", "")),
            fmt_num(r.get("estimate")),
            fmt_num(r.get("se")),
            fmt_ci(r.get("ci_low"), r.get("ci_high")),
            fmt_p(r.get("p_value")),
            fmt_p(r.get("pretrend_p")),
            f"{r.get('n_treated_units', '?')} treated / {r.get('n_units', '?')}",
            r.get("note", ""),
        ]
        for r in rows
    ]
    caption = (
        "Difference-in-differences estimates, every inference method "
        "(average effect after the start year; 95% confidence intervals)"
    )
    return md_table(header, body, caption, label)


def its_table(rows: list[dict[str, str]], label: str) -> str:
    header = ["Outcome", "Effect", "Estimate", "SE", "95% CI", "p", "Note"]
    body = [
        [
            outcome_label(r.get("outcome", "")),
            EFFECT_NAMES.get(r.get("effect", ""), r.get("effect", "")),
            fmt_num(r.get("estimate")),
            fmt_num(r.get("se")),
            fmt_ci(r.get("ci_low"), r.get("ci_high")),
            fmt_p(r.get("p_value")),
            r.get("note", ""),
        ]
        for r in rows
    ]
    caption = "Interrupted time series: change in level and slope at the start year (95% CI)"
    return md_table(header, body, caption, label)


def generic_table(rows: list[dict[str, str]], caption: str = "", label: str = "") -> str:
    """Any results CSV as a table: numbers formatted, columns as in the file."""
    if not rows:
        return ""
    header = list(rows[0])

    def show(key: str, value: str) -> str:
        if key.startswith("p_") or key.endswith("_p"):
            return fmt_p(value)
        return fmt_num(value) if _float(value) is not None and key not in _ID_COLUMNS else value

    body = [[show(k, r.get(k, "")) for k in header] for r in rows]
    return md_table(header, body, caption, label)


_ID_COLUMNS = {"region", "year", "n_units", "n_treated_units", "n_periods", "k", "draws", "seed"}


# --------------------------------------------------------------------------- region pages


def _jinja() -> jinja2.Environment:
    """Jinja with comment markers that cannot clash with Quarto's ``{#label}`` syntax."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        comment_start_string="{##",
        comment_end_string="##}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _region_tasks(plan: Any, region: str) -> dict[str, Any]:
    return {t.notebook: t for t in plan.tasks() if t.region == region}


def _executed(task: Any, region: str, notebook: str) -> Path:
    if task is not None:
        path = Path(task.executed_path)
        return path if path.is_absolute() else settings.project_root() / path
    return settings.executed_dir() / region / f"{notebook}.ipynb"


def _task_errors(region: str) -> dict[str, str]:
    """Errors of the failed tasks of a region, from ``run_summary.json``."""
    summary = read_json(settings.results_dir() / "run_summary.json")
    tasks = summary.get("tasks", []) if isinstance(summary, dict) else summary or []
    errors = {}
    for entry in tasks:
        name = str(entry.get("task") or entry.get("name") or "")
        name = name or f"{entry.get('region')}/{entry.get('notebook')}"
        if name.startswith(f"{region}/") and entry.get("status") == "failed":
            errors[name.split("/", 1)[1]] = str(entry.get("error") or "failed")
    return errors


def _why_missing(notebook: str, errors: dict[str, str]) -> str:
    if notebook in errors:
        return f"The task failed: {errors[notebook]}"
    return "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."


def _site_facts(site: dict[str, Any]) -> str:
    if site.get("missing"):
        return "_The site registry could not be read; only the site id is known here._"
    facts = [
        f"- **Programme start:** {site.get('start_year') or '–'}",
        f"- **Lead insurer:** {site.get('lead_insurer') or '–'}",
        f"- **Registry status:** {site.get('status') or '–'}",
    ]
    sources = site.get("sources") or []
    if sources:
        items = sources.items() if isinstance(sources, dict) else enumerate(sources, 1)
        facts.append("- **Sources:** " + "; ".join(f"{k}: {v}" for k, v in items))
    return "\n".join(facts)


def _municipality_table(site_id: str, site: dict[str, Any]) -> str:
    codes = [str(c) for c in site.get("municipalities") or []]
    names = [str(n) for n in site.get("municipality_names") or []]
    rows = [[code, names[i] if i < len(names) else "–"] for i, code in enumerate(codes)]
    caption = f"Municipalities of the site ({len(codes)}; CBS codes)"
    return md_table(["Code", "Municipality"], rows, caption, f"tbl-{site_id}-municipalities")


def _comparison_text(did_rows: list[dict[str, str]], params: dict[str, Any]) -> str:
    pool = params.get("control_pool", "–")
    text = (
        f"Control municipalities come from the **{pool}** pool"
        + (
            " without municipalities in a COROP region of any Pioneer site (buffer)"
            if params.get("buffer")
            else ""
        )
        + "; the other Pioneer sites' municipalities are never controls."
    )
    if did_rows:
        first = did_rows[0]
        units, treated = first.get("n_units", "?"), first.get("n_treated_units", "?")
        text += f" The estimation sample has {units} municipalities, {treated} of them in the site."
    return text


def _parameter_table(site_id: str, params: dict[str, Any]) -> str:
    rows = [
        [key, json.dumps(value) if not isinstance(value, str) else value]
        for key, value in sorted(params.items())
    ]
    return md_table(
        ["Parameter", "Value"],
        rows,
        "Notebook parameters of this site's tasks",
        f"tbl-{site_id}-parameters",
    )


def _diagnostics(region: str, did_rows: list[dict[str, str]]) -> str:
    parts = []
    seen: dict[str, dict[str, str]] = {}
    for row in did_rows:
        seen.setdefault(row.get("outcome", ""), row)
    rows = [
        [outcome_label(o), fmt_p(r.get("pretrend_p")), r.get("n_periods", "–")]
        for o, r in seen.items()
    ]
    parts.append(
        md_table(
            ["Outcome", "Pre-trend test p", "Years"],
            rows,
            "Parallel pre-trends test (joint test of the pre-start event-study coefficients); "
            "a small p-value warns that the site already diverged from its controls",
            f"tbl-{region}-pretrends",
        )
        or "_No difference-in-differences results for this site yet._"
    )
    parts.append(_provenance_table(region, f"tbl-{region}-runs"))
    return "\n".join(p for p in parts if p)


def _provenance_table(region: str, label: str) -> str:
    rows = []
    for path in sorted((settings.results_dir() / region).glob("*.provenance.json")):
        prov = read_json(path) or {}
        rows.append(
            [
                path.name.removesuffix(".provenance.json"),
                prov.get("status", "–"),
                _code_version(prov.get("code_version")),
                fmt_num(prov.get("duration_s")),
                prov.get("finished", "–"),
            ]
        )
    return md_table(
        ["Notebook", "Status", "Code version", "Run time (s)", "Finished"],
        rows,
        "Task runs (from the provenance records)",
        label,
    )


def _code_version(value: Any) -> str:
    """``git describe`` output, with uncommitted changes said in words."""
    if isinstance(value, dict):
        text = str(value.get("describe") or value.get("version") or "–")
        dirty = bool(value.get("dirty"))
    else:
        text, dirty = (str(value) if value else "–"), str(value).endswith("-dirty")
    text = text.removesuffix("-dirty")
    return f"`{text}`" + (" (uncommitted changes)" if dirty else "")


def _lock_hash(prov: dict[str, Any]) -> str:
    value = prov.get("lock_hash") or (prov.get("key_parts") or {}).get("lock") or "–"
    return f"`{str(value)[:16]}`"


def _data_checksums(prov: dict[str, Any]) -> dict[str, str]:
    """Input data checksums recorded for a task."""
    found = prov.get("data_checksums") or (prov.get("key_parts") or {}).get("data") or {}
    return dict(found)


def _caveats(
    site: dict[str, Any],
    did_rows: list[dict[str, str]],
    its_rows: list[dict[str, str]],
    errors: dict[str, str],
) -> list[str]:
    treated = _float(did_rows[0].get("n_treated_units")) if did_rows else None
    caveats = [
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
        caveats.append(f"Only {treated:.0f} treated municipalities: every interval is fragile.")
    if site.get("status") == "unverified":
        caveats.append("Site membership is unverified in the registry (see the note above).")
    notes = {r.get("note", "").strip() for r in did_rows + its_rows} - {""}
    caveats += sorted(f"From the estimates: {note}" for note in notes)
    caveats += [f"Task `{nb}` failed: {err}" for nb, err in sorted(errors.items())]
    return caveats


def region_context(plan: Any, region: str, page_dir: Path) -> dict[str, Any]:
    """Everything the region template shows, formatted from the registry and the results."""
    site = _site_info(region)
    tasks = _region_tasks(plan, region)
    params = dict(next(iter(tasks.values())).parameters) if tasks else {}
    did_nb = _executed(tasks.get("did_region"), region, "did_region")
    its_nb = _executed(tasks.get("its_region"), region, "its_region")
    results = settings.results_dir() / region
    did_rows = read_csv(results / "did_estimates.csv")
    its_rows = read_csv(results / "its_estimates.csv")
    errors = _task_errors(region)
    did_labels, its_labels = notebook_labels(did_nb), notebook_labels(its_nb)
    ref = {
        label: f"@{label}" if label in labels else f"figure `{label}`: not available"
        for labels, names in ((did_labels, DID_FIGURES), (its_labels, ITS_FIGURES))
        for label in names
    }
    status_note = ""
    if site.get("status") == "unverified":
        status_note = (
            "The registry marks this site's municipalities as unverified: the "
            "list could not be confirmed against a published source."
        )
    return {
        "site": site,
        "site_id": region,
        "ref": ref,
        "status_note": status_note,
        "start_year": params.get("start_year") or site.get("start_year") or "",
        "first_year": params.get("first_year", "–"),
        "last_year": params.get("last_year", "–"),
        "n_municipalities": len(site.get("municipalities") or []),
        "did_notebook": _rel_root(did_nb),
        "its_notebook": _rel_root(its_nb),
        "site_facts": _site_facts(site),
        "municipality_table": _municipality_table(region, site),
        "comparison_text": _comparison_text(did_rows, params),
        "parameter_table": _parameter_table(region, params),
        "did_figures": [
            figure_block(page_dir, did_nb, lab, _why_missing("did_region", errors))
            for lab in DID_FIGURES
        ],
        "its_figures": [
            figure_block(page_dir, its_nb, lab, _why_missing("its_region", errors))
            for lab in ITS_FIGURES
        ],
        "did_table": did_table(did_rows, f"tbl-{region}-did")
        or missing_note(
            "No difference-in-differences estimates.", _why_missing("did_region", errors)
        ),
        "its_table": its_table(its_rows, f"tbl-{region}-its")
        or missing_note(
            "No interrupted-time-series estimates.", _why_missing("its_region", errors)
        ),
        "diagnostics": _diagnostics(region, did_rows),
        "caveats": _caveats(site, did_rows, its_rows, errors),
    }


def _rel_root(path: Path) -> str:
    try:
        return path.relative_to(settings.project_root()).as_posix()
    except ValueError:
        return path.as_posix()


def write_region_page(plan: Any, region: str) -> Path:
    page = region_pages_dir() / f"{region}.qmd"
    page.parent.mkdir(parents=True, exist_ok=True)
    context = region_context(plan, region, page.parent)
    page.write_text(_jinja().get_template("region.qmd.j2").render(**context), encoding="utf-8")
    return page


# --------------------------------------------------------------------------- generated includes

DESIGN_NAMES = {
    "did": "difference-in-differences",
    "did_region": "difference-in-differences",
    "its": "interrupted time series",
    "its_region": "interrupted time series",
}
DESIGN_NAMES_NL = {
    "did": "verschil-in-verschillen",
    "did_region": "verschil-in-verschillen",
    "its": "onderbroken tijdreeks",
    "its_region": "onderbroken tijdreeks",
}
EVIDENCE_MARK = {"strong": "●●●", "moderate": "●●○", "weak": "●○○", "none": "○○○"}
DIRECTION_MARK = {"better": "▲ better", "worse": "▼ worse", "no change": "◆ no change"}


def scorecard_table(rows: list[dict[str, str]]) -> str:
    body = [
        [
            r.get("region", ""),
            r.get("dimension", ""),
            outcome_label(r.get("outcome", "")),
            f"{fmt_num(r.get('estimate'))} ({fmt_ci(r.get('ci_low'), r.get('ci_high'))})",
            f"{EVIDENCE_MARK.get(r.get('evidence', ''), '')} {r.get('evidence', '')}".strip(),
            DIRECTION_MARK.get(r.get("direction", ""), r.get("direction", "")),
        ]
        for r in rows
    ]
    header = ["Region", "Triple Aim", "Outcome", "Estimate (95% CI)", "Evidence", "Direction"]
    caption = (
        "Triple Aim scorecard: each site against its comparison group, per outcome "
        "(direction says whether the change is good for the outcome; evidence grades the "
        "uncertainty)"
    )
    return md_table(header, body, caption, "tbl-scorecard-summary")


def pooled_table(rows: list[dict[str, str]]) -> str:
    header = ["Outcome", "Design", "Pooled estimate", "95% CI", "p", "τ²", "I²", "Q-test p", "k"]
    body = [
        [
            outcome_label(r.get("outcome", "")),
            DESIGN_NAMES.get(r.get("design", ""), r.get("design", "")),
            fmt_num(r.get("estimate")),
            fmt_ci(r.get("ci_low"), r.get("ci_high")),
            fmt_p(r.get("p_value")),
            fmt_num(r.get("tau2")),
            _pct(r.get("i2")),
            fmt_p(r.get("q_p")),
            r.get("k", "–"),
        ]
        for r in rows
    ]
    caption = "Pooled estimates across sites (random effects; k = number of sites)"
    return md_table(header, body, caption, "tbl-pooled-summary")


def _pct(value: Any) -> str:
    number = _float(value)
    if number is None:
        return "–"
    return f"{number * 100:.0f}%" if number <= 1 else f"{number:.0f}%"


def finding_sentence(row: dict[str, str], dutch: bool = False) -> str:
    """One pooled estimate in plain words, its uncertainty stated (formatting only)."""
    info = _outcome_info(row.get("outcome", ""))
    names = DESIGN_NAMES_NL if dutch else DESIGN_NAMES
    design = names.get(row.get("design", ""), row.get("design", ""))
    unit = f" {info['unit']}" if info["unit"] else ""
    est, low, high = (_float(row.get(k)) for k in ("estimate", "ci_low", "ci_high"))
    k = row.get("k", "?")
    if est is None or low is None or high is None:
        return f"- **{info['label']}** ({design}): " + (
            "geen schatting." if dutch else "no estimate."
        )
    head = f"- **{info['label']}** ({design}, {k} {'regio’s' if dutch else 'sites'}): "
    head += f"{fmt_num(est)}{unit} (95%{'-BI' if dutch else ' CI'} {fmt_ci(low, high)}). "
    return head + (_plain_nl(low, high, unit) if dutch else _plain_en(low, high, unit, row))


def _plain_en(low: float, high: float, unit: str, row: dict[str, str]) -> str:
    if low > 0 or high < 0:
        side = "above" if low > 0 else "below"
        text = (
            f"The whole interval lies {side} zero: the Pioneer sites moved "
            f"{'up' if low > 0 else 'down'} relative to comparable regions, by an amount "
            "anywhere in that interval."
        )
    else:
        text = (
            f"The interval includes zero: the data cannot tell a fall of up to "
            f"{fmt_num(abs(low))}{unit} from a rise of up to {fmt_num(high)}{unit}."
        )
    i2 = _float(row.get("i2"))
    if i2 is not None and (i2 if i2 > 1 else i2 * 100) >= 50:
        text += " The sites differ markedly (I² ≥ 50%), so the pooled figure hides real variation."
    return text


def _plain_nl(low: float, high: float, unit: str) -> str:
    if low > 0 or high < 0:
        side = "boven" if low > 0 else "onder"
        return (
            f"Het hele interval ligt {side} nul: de proeftuinen gingen "
            f"{'omhoog' if low > 0 else 'omlaag'} ten opzichte van vergelijkbare regio’s."
        )
    return (
        f"Het interval bevat nul: de gegevens onderscheiden een daling tot "
        f"{fmt_num(abs(low))}{unit} niet van een stijging tot {fmt_num(high)}{unit}."
    )


def _findings(rows: list[dict[str, str]], dutch: bool) -> str:
    if not rows:
        return (
            "_Nog geen gepoolde resultaten: voer eerst `proeftuin run` uit._\n"
            if dutch
            else "_No pooled results yet: run `proeftuin run` first._\n"
        )
    return "\n".join(finding_sentence(r, dutch) for r in rows) + "\n"


def _robustness(plan: Any) -> str:
    """Per-site robustness results (``reports/results/<site>/robustness.csv``)."""
    parts = []
    for region in plan.regions:
        rows = read_csv(settings.results_dir() / region / "robustness.csv")
        table = generic_table(
            rows, f"Robustness checks for {_site_info(region)['name']}", f"tbl-{region}-robustness"
        )
        parts.append(f"### {_site_info(region)['name']}\n\n" + (table or _no_robustness(region)))
    return "\n".join(parts)


def _no_robustness(region: str) -> str:
    return missing_note(
        "No robustness results for this site.",
        f"They are read from `reports/results/{region}/robustness.csv`.",
    )


def _validation() -> str:
    parts = []
    for path in sorted((settings.results_dir() / "validation").glob("*.csv")):
        label = "tbl-validation-" + re.sub(r"[^\w-]", "-", path.stem)
        parts.append(generic_table(read_csv(path), f"Validation: {path.stem}", label))
    return "\n".join(p for p in parts if p) or missing_note(
        "No validation results yet.", "They are read from `reports/results/validation/*.csv`."
    )


def _coverage(plan: Any) -> str:
    rows = []
    for region in plan.regions:
        seen = set()
        for r in read_csv(settings.results_dir() / region / "did_estimates.csv"):
            if r.get("outcome") in seen:
                continue
            seen.add(r.get("outcome"))
            rows.append(
                [
                    region,
                    outcome_label(r.get("outcome", "")),
                    r.get("n_units", "–"),
                    r.get("n_treated_units", "–"),
                    r.get("n_periods", "–"),
                ]
            )
    table = md_table(
        ["Site", "Outcome", "Municipalities", "In the site", "Years"],
        rows,
        "Estimation samples: municipalities and years with data, per site and outcome",
        "tbl-coverage",
    )
    extra = generic_table(
        read_csv(settings.results_dir() / "data" / "coverage.csv"),
        "Coverage and missingness per source and year",
        "tbl-missingness",
    )
    return (table or "_No estimation samples yet._\n") + "\n" + extra


def _provenance_records() -> list[tuple[str, dict[str, Any]]]:
    records = []
    for path in sorted(settings.results_dir().glob("*/*.provenance.json")):
        records.append(
            (
                f"{path.parent.name}/{path.name.removesuffix('.provenance.json')}",
                read_json(path) or {},
            )
        )
    return records


def _reproducibility(plan: Any) -> str:
    records = _provenance_records()
    runs = [
        [
            name,
            p.get("status", "–"),
            _code_version(p.get("code_version")),
            _lock_hash(p),
            fmt_num(p.get("duration_s")),
        ]
        for name, p in records
    ]
    parts = [
        md_table(
            ["Task", "Status", "Code version", "Lock hash", "Run time (s)"],
            runs,
            "Every task run: code version, lock-file hash and run time",
            "tbl-runs",
        )
        or "_No provenance records yet: run `proeftuin run`._\n"
    ]
    checksums: dict[str, set[str]] = {}
    for task, prov in records:
        if task.startswith(f"{SYNTHESIS}/"):
            continue  # the synthesis depends on the region tasks' keys, not on data files
        for name, digest in _data_checksums(prov).items():
            checksums.setdefault(name, set()).add(str(digest))
    rows = [
        [name, ", ".join(sorted(d)), "yes" if len(d) == 1 else "NO: inputs differ"]
        for name, d in sorted(checksums.items())
    ]
    parts.append(
        md_table(
            ["Data file", "SHA-256", "Same for every task"],
            rows,
            "Checksums of the input data used by the tasks",
            "tbl-checksums",
        )
    )
    summary = read_json(settings.results_dir() / "run_summary.json")
    if isinstance(summary, dict) and summary.get("wall_time_s") is not None:
        parts.append(
            f"Wall time of the last `proeftuin run`: {fmt_num(summary['wall_time_s'])} s.\n"
        )
    parts.append(_rerun_commands(plan))
    return "\n".join(p for p in parts if p)


def _rerun_commands(plan: Any) -> str:
    blocks = []
    for region in plan.regions:
        lines = [f"# {region}"]
        for task in _region_tasks(plan, region).values():
            params = json.dumps(task.parameters, sort_keys=True)
            executed = _rel_root(_executed(task, region, task.notebook))
            lines.append(
                f"papermill notebooks/{task.notebook}.ipynb {executed} "
                f"-k {settings.KERNEL_NAME} -y '{params}'"
            )
        blocks.append("\n".join(lines))
    return (
        "To rerun one site, execute its notebooks with the same parameters, then rebuild the "
        "report (`proeftuin report` never re-executes anything):\n\n```bash\n"
        + "\n\n".join(blocks)
        + "\n\nproeftuin report\n```\n"
    )


def write_includes(plan: Any) -> list[Path]:
    """The generated include files that the static pages pull in."""
    results = settings.results_dir()
    pooled = read_csv(results / SYNTHESIS / "pooled.csv")
    scorecard = read_csv(results / SYNTHESIS / "scorecard.csv")
    contents = {
        "scorecard.md": scorecard_table(scorecard)
        or missing_note("No scorecard yet.", "Run `proeftuin run` (the synthesis writes it)."),
        "findings.md": _findings(pooled, dutch=False),
        "samenvatting.md": _findings(pooled, dutch=True),
        "pooled.md": pooled_table(pooled)
        or missing_note("No pooled estimates yet.", "Run `proeftuin run`."),
        "robustness.md": _robustness(plan),
        "validation.md": _validation(),
        "coverage.md": _coverage(plan),
        "reproducibility.md": _reproducibility(plan),
    }
    out = generated_dir()
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
        paths.append(out / name)
    return paths


# --------------------------------------------------------------------------- pages and the PDF


def static_pages() -> list[Path]:
    return [reports_dir() / f"{name}.qmd" for name in STATIC_PAGES]


def generate_pages(plan: Any) -> list[Path]:
    """Write the include files, one page per plan region, and the PDF source; list the pages."""
    write_includes(plan)
    region_dir = region_pages_dir()
    region_dir.mkdir(parents=True, exist_ok=True)
    for stale in region_dir.glob("*.qmd"):
        if stale.stem not in plan.regions:
            stale.unlink()
    regions = [write_region_page(plan, region) for region in plan.regions]
    pages = [p for p in static_pages() if p.is_file()] + regions
    write_pdf_source(plan)
    return pages


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter and body of a page."""
    import yaml

    match = re.match(r"^---\n(.*?)\n---\n", text, flags=re.DOTALL)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, text[match.end() :]


def _demote(body: str) -> str:
    """Headings one level down, outside code fences (pages become chapters of the PDF)."""
    out, fenced = [], False
    for line in body.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(out) + "\n"


def pdf_body(page: Path, prefix: str) -> str:
    """A page as a PDF chapter: embeds become the same notebook figures under unique labels."""
    meta, body = split_front_matter(page.read_text(encoding="utf-8"))
    renamed: dict[str, str] = {}

    def embed(match: re.Match[str]) -> str:
        notebook = (page.parent / match.group(1)).resolve()
        label = match.group(2)
        new = f"fig-{prefix}-{label.removeprefix('fig-')}" if prefix else label
        renamed[label] = new
        return extracted_figure(notebook, label, new)

    body = EMBED_RE.sub(embed, body)
    for old, new in renamed.items():
        body = re.sub(rf"@{re.escape(old)}\b(?!-)", f"@{new}", body)
    body = INCLUDE_RE.sub(lambda m: _rebase_include(page, m.group(1)), body)
    body = re.sub(r"\[([^\]]+)\]\((?:\.\./)?[\w/-]+\.qmd(?:#[\w-]+)?\)", r"\1", body)
    title = str(meta.get("title", page.stem))
    return f"# {title}\n\n{_demote(body)}"


def _rebase_include(page: Path, target: str) -> str:
    path = os.path.relpath((page.parent / target).resolve(), reports_dir().resolve())
    return f"{{{{< include {Path(path).as_posix()} >}}}}"


def extracted_figure(notebook: Path, label: str, new_label: str) -> str:
    """A notebook figure's image written to ``_generated/figures``, as a Markdown figure."""
    cell = notebook_labels(notebook).get(label)
    image = cell_image(cell) if cell else None
    if image is None:
        return missing_note(f"Figure `{label}` from `{notebook.name}` is not available.", "")
    data, ext = image
    target = generated_dir() / "figures" / f"{new_label}.{ext}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    caption = cell_options(cell).get("fig-cap", label)
    source = _rel_root(notebook)
    rel = target.relative_to(reports_dir()).as_posix()
    return f"![{caption} (Source: `{source}`)]({rel}){{#{new_label}}}\n"


def write_pdf_source(plan: Any) -> Path:
    """``reports/full-report.qmd``: every page as one Typst document (gitignored)."""
    chapters = [pdf_body(reports_dir() / "index.qmd", "")]
    chapters += [pdf_body(region_pages_dir() / f"{r}.qmd", r) for r in plan.regions]
    chapters += [pdf_body(reports_dir() / f"{n}.qmd", "") for n in PDF_PAGES[1:]]
    header = _jinja().get_template("full-report.qmd.j2").render()
    target = reports_dir() / "full-report.qmd"
    target.write_text(header + "\n\n".join(chapters), encoding="utf-8")
    return target


# --------------------------------------------------------------------------- checks


def page_problems(page: Path) -> list[str]:
    """Embeds whose target is missing, includes not found, cross-references not defined."""
    text = page.read_text(encoding="utf-8")
    problems, labels = [], set(LABEL_DEF_RE.findall(text))
    for target in INCLUDE_RE.findall(text):
        included = page.parent / target
        if included.is_file():
            labels |= set(LABEL_DEF_RE.findall(included.read_text(encoding="utf-8")))
        else:
            problems.append(f"{page.name}: include {target} not found")
    for target, label in EMBED_RE.findall(text):
        found = notebook_labels(page.parent / target)
        labels |= set(found)
        if label not in found:
            problems.append(f"{page.name}: embed {target}#{label} not in an executed notebook")
    _, body = split_front_matter(text)
    for ref in XREF_RE.findall(re.sub(r"`[^`]*`", "", body)):
        if ref not in labels:
            problems.append(f"{page.name}: cross-reference @{ref} does not resolve")
    return problems


def validate_pages(plan: Any, pages: list[Path]) -> list[str]:
    """Every problem that would break the render or leave a dangling reference."""
    problems = [p for page in pages for p in page_problems(page)]
    names = {page.stem for page in pages if page.parent == region_pages_dir()}
    problems += [f"no page for region {r}" for r in plan.regions if r not in names]
    return problems


# ---------------------------------------------------------------------- previews without Quarto

PREVIEW_CSS = """
body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;
color:#1a1a1a;line-height:1.5}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}
th{background:#eef}
.notice{border-left:.3rem solid #b35900;background:#fff4e5;padding:.5rem 1rem}
code{background:#f3f3f3;padding:0 .2rem}
"""


def _notebook_to_html(notebook: Path, target: Path) -> None:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab", template_file=str(templates_dir() / "preview.html.j2")
    )
    body, _ = exporter.from_filename(str(notebook))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")


def _html_table(rows: list[dict[str, str]], caption: str) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in rows
    )
    table = f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}</table>"
    return f"<div style='overflow-x:auto'>{table}</div>"


def _executed_notebooks() -> list[Path]:
    return sorted(settings.executed_dir().glob("*/*.ipynb"))


def write_previews(message: str = "") -> Path:
    """HTML previews of every executed notebook and an index linking them; the index path."""
    out = previews_dir()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sections: dict[str, list[str]] = {}
    for notebook in _executed_notebooks():
        region = notebook.parent.name
        rel = f"{region}/{notebook.stem}.html"
        _notebook_to_html(notebook, out / rel)
        sections.setdefault(region, []).append(
            f'<li><a href="{html.escape(rel)}">{html.escape(notebook.name)}</a></li>'
        )
    index = out / "index.html"
    index.write_text(_preview_index(sections, message), encoding="utf-8")
    return index


def _preview_index(sections: dict[str, list[str]], message: str) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>proeftuin: notebook previews</title><link rel='icon' href='data:,'>",
        f"<style>{PREVIEW_CSS}</style></head><body>",
        "<h1>Pioneer sites evaluation: notebook previews</h1>",
        f"<p class='notice'>{html.escape(message)}</p>" if message else "",
        "<p>Costs: Bron: Vektis. CBS data: CC BY 4.0.</p>",
    ]
    if not sections:
        parts.append("<p>No executed notebooks yet: run <code>proeftuin run</code>.</p>")
    for region, links in sorted(sections.items()):
        parts.append(f"<h2>{html.escape(region)}</h2><ul>{''.join(links)}</ul>")
        parts += [
            _html_table(read_csv(settings.results_dir() / region / name), name)
            for name in ("did_estimates.csv", "its_estimates.csv", "pooled.csv", "scorecard.csv")
        ]
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- Quarto


def find_quarto() -> Path | None:
    """``quarto`` on PATH, beside this Python, or inside the quarto-cli package."""
    found = shutil.which("quarto")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / ("quarto.exe" if os.name == "nt" else "quarto")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    return _quarto_cli_binary()


def _quarto_cli_binary() -> Path | None:
    """The binary shipped in the quarto-cli Python package (``quarto_cli/bin/quarto``)."""
    spec = import_util.find_spec("quarto_cli")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for candidate in (Path(folder) / "bin" / "quarto", Path(folder) / "bin" / "quarto.exe"):
            if candidate.is_file():
                return candidate
    return None


def _run_quarto(quarto: Path, *args: str) -> None:
    root = settings.project_root()
    result = subprocess.run(
        [str(quarto), *args], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-20:])
        raise RuntimeError(f"quarto {' '.join(args)} failed ({result.returncode}):\n{tail}")


def render_quarto(quarto: Path) -> tuple[Path, Path | None]:
    """Render the website, then the PDF into it; the site folder and the PDF."""
    _run_quarto(quarto, "render", "--to", "html")
    _run_quarto(quarto, "render", "reports/full-report.qmd", "--to", "typst")
    site = site_dir()
    pdf = _collect_pdf(site)
    _ensure_site_index(site)
    return site, pdf


def _collect_pdf(site: Path) -> Path | None:
    """Move the Typst PDF (wherever Quarto put it) to ``_site/proeftuin-report.pdf``."""
    for candidate in (site / "reports" / "full-report.pdf", reports_dir() / "full-report.pdf"):
        if candidate.is_file():
            target = site / PDF_NAME
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(candidate), target)
            return target
    return None


def _ensure_site_index(site: Path) -> None:
    """A root ``index.html`` that forwards to the report's home page (``reports/index.html``)."""
    index = site / "index.html"
    if site.is_dir() and not index.exists() and (site / "reports" / "index.html").is_file():
        index.write_text(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>proeftuin</title>"
            "<meta http-equiv='refresh' content='0; url=reports/index.html'></head><body>"
            "<a href='reports/index.html'>Open the report</a></body></html>",
            encoding="utf-8",
        )


def _require_quarto(value: bool | None) -> bool:
    if value is not None:
        return value
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def not_rendered_message(reason: str, previews: Path) -> str:
    return (
        f"The Quarto report was NOT rendered: {reason}. "
        f"HTML previews of the executed notebooks are in {previews}. {QUARTO_HELP}"
    )


def build_report(*, require_quarto: bool | None = None) -> ReportOutcome:
    """Generate the pages, then render with Quarto if found, else write HTML previews.

    With ``require_quarto`` (default: ``$REQUIRE_QUARTO=1``) a missing Quarto or a page
    problem raises :class:`QuartoRequiredError` after the previews are written.
    """
    plan = _load_plan()
    pages = generate_pages(plan)
    problems = validate_pages(plan, pages) + page_problems(reports_dir() / "full-report.qmd")
    quarto = find_quarto()
    if quarto is not None and not problems:
        site, pdf = render_quarto(quarto)
        message = f"Rendered the website to {site}" + (f" and the PDF {pdf}" if pdf else "")
        if pdf is None:
            message += "; the PDF was not produced (see Quarto's output)"
        return ReportOutcome(True, message, pages, quarto, site, pdf)
    reason = "Quarto was not found" if quarto is None else "the pages have problems"
    index = write_previews(not_rendered_message(reason, previews_dir()))
    outcome = ReportOutcome(
        False,
        not_rendered_message(reason, index.parent),
        pages,
        quarto,
        None,
        None,
        index,
        problems,
    )
    if _require_quarto(require_quarto):
        raise QuartoRequiredError(f"{outcome.message} ({REQUIRE_ENV}=1 makes this an error)")
    return outcome
