"""The pages: one generated page per site, the figure blocks, and the checks before rendering.

A figure on the website is Quarto's ``{{< embed notebook.ipynb#label >}}`` of the executed
notebook's labelled cell (Quarto links it to a rendered copy of the notebook). In the PDF it
is the file the notebook saved beside its results (``reports/results/<site>/<label>.png``)
under a document-wide unique label (``fig-<site>-event-study``). A missing figure or result
becomes a callout saying why, never a broken embed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jinja2

from proeftuin.report import inputs
from proeftuin.report.estimates import METHODS, did_tables, its_tables
from proeftuin.report.inputs import Rows, Runs, TaskRun, executed_notebook, notebook_labels, rows
from proeftuin.report.tables import fmt_int, fmt_num, fmt_p, md_table, missing_note, to_float

STATIC_PAGES = ("index", "regions", "synthesis", "robustness", "methods", "data", "reproducibility")
DID_FIGURES = ("fig-trends", "fig-event-study")
ITS_FIGURES = ("fig-its",)
RUN_HINT = "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")
LABEL_DEF_RE = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)")
XREF_RE = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")
FRONT_MATTER_RE = re.compile(r"^---\n.*?\n---\n", flags=re.DOTALL)


def jinja() -> jinja2.Environment:
    """Jinja with comment markers that cannot clash with Quarto's ``{#label}`` syntax."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(inputs.templates_dir())),
        undefined=jinja2.StrictUndefined,
        comment_start_string="{##",
        comment_end_string="##}",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


# ----------------------------------------------------------------------------- figures


def pdf_label(owner: str, label: str) -> str:
    """A label unique in the whole PDF: prefixed by the site that owns the figure."""
    return f"fig-{owner}-{label.removeprefix('fig-')}" if owner else label


def figure(folder: str, notebook: str, label: str, why: str = RUN_HINT, *,
           page_dir: Path, pdf: bool = False, owner: str = "") -> str:  # fmt: skip
    """A labelled figure: an embed (website) or its saved file (PDF), or a note why not."""
    path = executed_notebook(folder, notebook)
    cell = notebook_labels(path).get(label)
    saved = inputs.figure_file(folder, label)
    if pdf and saved.is_file():
        caption = (cell or {}).get("fig-cap", label)
        image = Path(os.path.relpath(saved, page_dir)).as_posix()
        source = f" (Source: `{inputs.rel_root(path)}`)"
        return f"![{caption}{source}]({image}){{#{pdf_label(owner, label)}}}\n"
    if not pdf and cell is not None:
        return f"{{{{< embed {Path(os.path.relpath(path, page_dir)).as_posix()}#{label} >}}}}\n"
    return missing_note(f"Figure `{label}` from `{path.name}` is not available.", why)


def figure_ref(folder: str, notebook: str, label: str, *, pdf: bool, owner: str) -> str:
    """``@label`` where the figure is shown, else words saying it is missing."""
    shown = (
        inputs.figure_file(folder, label).is_file()
        if pdf
        else label in notebook_labels(executed_notebook(folder, notebook))
    )
    if not shown:
        return f"figure `{label}`: not available"
    return f"@{pdf_label(owner, label) if pdf else label}"


def why_missing(notebook: str, errors: dict[str, str]) -> str:
    """The failed task's error, else how to produce the missing output."""
    return f"The task failed: {errors[notebook]}" if notebook in errors else RUN_HINT


# ----------------------------------------------------------------------------- site pages


def write_site_pages(runs: Runs) -> list[Path]:
    """One page per site of the facts snapshot (pages of sites no longer there removed)."""
    folder = inputs.region_pages_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.qmd"):
        if stale.stem not in inputs.sites():
            stale.unlink()
    pages = []
    for site_id in inputs.sites():
        page = folder / f"{site_id}.qmd"
        page.write_text(site_page(site_id, runs, pdf=False), encoding="utf-8")
        pages.append(page)
    return pages


def site_page(site_id: str, runs: Runs, *, pdf: bool) -> str:
    """A site's page (website) or chapter source (PDF, figures from files)."""
    return jinja().get_template("region.qmd.j2").render(**site_context(site_id, runs, pdf))


def site_context(site_id: str, runs: Runs, pdf: bool) -> dict[str, Any]:
    """Everything the site template shows, from the facts snapshot and the results."""
    site = inputs.site(site_id)
    facts = {**site.model_dump(), "missing": False} if site else {"name": site_id, "status": ""}
    facts.setdefault("missing", True)
    params = next(iter(runs.of(site_id).values()), None)
    params = params.parameters if params else site.parameters.model_dump() if site else {}
    params = {k: v for k, v in params.items() if k != "outcomes"}
    did_rows, its_rows = rows(site_id, "did_estimates.csv"), rows(site_id, "its_estimates.csv")
    errors = runs.errors(site_id)
    did_why, its_why = why_missing("did_region", errors), why_missing("its_region", errors)
    page_dir = inputs.reports_dir() if pdf else inputs.region_pages_dir()
    treated = to_float(did_rows[0].get("n_treated_units")) if did_rows else None

    def figures(notebook: str, labels: tuple[str, ...]) -> list[str]:
        why = why_missing(notebook, errors)
        return [figure(site_id, notebook, lab, why, page_dir=page_dir, pdf=pdf, owner=site_id)
                for lab in labels]  # fmt: skip

    refs = [("did_region", lab) for lab in DID_FIGURES] + [("its_region", "fig-its")]
    return {
        "site": facts,
        "site_id": site_id,
        "params": params,
        "errors": errors,
        "ref": {lab: figure_ref(site_id, nb, lab, pdf=pdf, owner=site_id) for nb, lab in refs},
        "start_year": params.get("start_year") or facts.get("start_year", ""),
        "first_year": params.get("first_year", "–"),
        "last_year": params.get("last_year", "–"),
        "n_municipalities": len(facts.get("municipalities", [])),
        "did_notebook": inputs.rel_root(executed_notebook(site_id, "did_region")),
        "its_notebook": inputs.rel_root(executed_notebook(site_id, "its_region")),
        "municipality_table": municipality_table(site_id),
        "sample": did_rows
        and {
            "units": fmt_int(did_rows[0].get("n_units")),
            "treated": fmt_int(treated),
            "treated_n": 5 if treated is None else treated,
        },
        "parameter_table": parameter_table(site_id, params),
        "did_figures": figures("did_region", DID_FIGURES),
        "its_figures": figures("its_region", ITS_FIGURES),
        "did_table": did_tables(did_rows, f"tbl-{site_id}-did").markdown()
        or missing_note("No difference-in-differences estimates.", did_why),
        "its_table": its_tables(its_rows, f"tbl-{site_id}-its").markdown()
        or missing_note("No interrupted-time-series estimates.", its_why),
        "has_robustness": bool(
            rows(site_id, "robustness.csv") or notebook_labels(robustness_notebook(site_id))
        ),
        "diagnostics": diagnostics(site_id, did_rows, runs),
    }


def municipality_table(site_id: str) -> str:
    site = inputs.site(site_id)
    found = [[m.code, m.name or "–"] for m in site.municipalities] if site else []
    caption = f"Municipalities of the site ({len(found)}; CBS codes)"
    return md_table(["Code", "Municipality"], found, caption, f"tbl-{site_id}-municipalities")


def parameter_table(site_id: str, params: dict[str, Any]) -> str:
    def show(key: str, value: Any) -> str:
        if key == "inference":  # the methods' names as the tables print them
            value = [METHODS.get(m, (m,))[0] for m in value]
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return value if isinstance(value, str) else json.dumps(value)

    found = [[f"`{key}`", show(key, value)] for key, value in sorted(params.items())]
    caption = "Notebook parameters of this site's tasks"
    return md_table(["Parameter", "Value"], found, caption, f"tbl-{site_id}-parameters")


def robustness_notebook(site_id: str) -> Path:
    return executed_notebook(site_id, inputs.ROBUSTNESS)


def diagnostics(site_id: str, did_rows: Rows, runs: Runs) -> str:
    seen: dict[str, dict[str, str]] = {}
    for row in did_rows:
        if to_float(row.get("estimate")) is not None:
            seen.setdefault(row.get("outcome", ""), row)
    found = [
        [inputs.outcome_label(o), fmt_p(r.get("pretrend_p")), fmt_int(r.get("n_periods"))]
        for o, r in seen.items()
    ]
    pretrends = md_table(
        ["Outcome", "Pre-trend test p", "Years"],
        found,
        "Parallel pre-trends test (joint test of the pre-start event-study coefficients); "
        "a small p-value warns that the site already diverged from its controls",
        f"tbl-{site_id}-pretrends",
    )
    task_rows = [
        [t.notebook, t.status, code_version(t), fmt_num(t.record.get("duration_s")),
         t.record.get("finished", "–")]
        for t in runs.of(site_id).values()
    ]  # fmt: skip
    runs_table = md_table(
        ["Notebook", "Status", "Code version", "Run time (s)", "Finished"],
        task_rows,
        "Task runs (from the provenance records)",
        f"tbl-{site_id}-runs",
    )
    return "\n".join([pretrends or "_No difference-in-differences results for this site yet._"]
                     + ([runs_table] if runs_table else []))  # fmt: skip


def code_version(task: TaskRun) -> str:
    """``git describe`` output, with uncommitted changes said in words."""
    value = task.record.get("code_version")
    text = str(value) if value else "–"
    return f"`{text.removesuffix('-dirty')}`" + (
        " (uncommitted changes)" if text.endswith("-dirty") else ""
    )


# ----------------------------------------------------------------------------- checks


def expand_includes(page: Path, text: str) -> tuple[str, list[str]]:
    """The page text with its includes inlined (one level), and the includes not found."""
    missing: list[str] = []

    def inline(match: re.Match[str]) -> str:
        included = page.parent / match.group(1)
        if included.is_file():
            return included.read_text(encoding="utf-8")
        missing.append(match.group(1))
        return ""

    return INCLUDE_RE.sub(inline, text), missing


def page_problems(page: Path) -> list[str]:
    """Embeds whose target is missing, includes not found, cross-references not defined."""
    text, missing = expand_includes(page, page.read_text(encoding="utf-8"))
    problems = [f"{page.name}: include {target} not found" for target in missing]
    labels = set(LABEL_DEF_RE.findall(text))
    for target, label in EMBED_RE.findall(text):
        found = notebook_labels(page.parent / target)
        labels |= set(found)
        if label not in found:
            problems.append(f"{page.name}: embed {target}#{label} not in an executed notebook")
    body = FRONT_MATTER_RE.sub("", text, count=1)
    for ref in XREF_RE.findall(re.sub(r"`[^`]*`", "", body)):
        if ref not in labels:
            problems.append(f"{page.name}: cross-reference @{ref} does not resolve")
    return problems


def validate_pages(pages: list[Path]) -> list[str]:
    """Every problem that would break the render, and sites of the snapshot without a page."""
    problems = [p for page in pages for p in page_problems(page)]
    names = {page.stem for page in pages if page.parent == inputs.region_pages_dir()}
    return problems + [f"no page for region {s}" for s in inputs.sites() if s not in names]
