"""The generated pages: one page per site, and the include files the static pages pull in
(``reports/_generated/*.md``: scorecard, findings in plain words in English and Dutch,
robustness, validation, data coverage, reproducibility).

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

from proeftuin import settings
from proeftuin.report import inputs
from proeftuin.report.estimates import (
    DESIGN_NAMES,
    METHODS,
    did_tables,
    generic_table,
    its_tables,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.inputs import Rows, Runs, TaskRun, executed_notebook, notebook_labels, rows
from proeftuin.report.tables import (
    fmt_ci,
    fmt_est,
    fmt_int,
    fmt_num,
    fmt_p,
    md_table,
    missing_note,
    shared_decimals,
    to_float,
)

STATIC_PAGES = ("index", "regions", "synthesis", "robustness", "methods", "data", "reproducibility")
DID_FIGURES = ("fig-trends", "fig-event-study")
ITS_FIGURES = ("fig-its",)
ROBUSTNESS_FIGURES = ("fig-robustness", "fig-placebo")
DESIGN_NAMES_NL = {"did_region": "verschil-in-verschillen", "its_region": "onderbroken tijdreeks"}
DESIGN_NAMES_NL |= {"did": DESIGN_NAMES_NL["did_region"], "its": DESIGN_NAMES_NL["its_region"]}
RUN_HINT = "Run `proeftuin run` to execute the notebooks, then `proeftuin report`."
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")


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


def why_missing(notebook: str, tasks: dict[str, TaskRun]) -> str:
    """Why the task's output is missing (failed, not run), else how to produce it."""
    task = tasks.get(notebook)
    return (task.why if task else "") or RUN_HINT


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
    did_rows, its_rows = rows(site_id, "did_estimates.csv"), rows(site_id, "its_estimates.csv")
    tasks = runs.of(site_id)
    did_why, its_why = why_missing("did_region", tasks), why_missing("its_region", tasks)
    page_dir = inputs.reports_dir() if pdf else inputs.region_pages_dir()
    treated = to_float(did_rows[0].get("n_treated_units")) if did_rows else None

    def figures(notebook: str, labels: tuple[str, ...]) -> list[str]:
        why = why_missing(notebook, tasks)
        return [figure(site_id, notebook, lab, why, page_dir=page_dir, pdf=pdf, owner=site_id)
                for lab in labels]  # fmt: skip

    refs = [("did_region", lab) for lab in DID_FIGURES] + [("its_region", "fig-its")]
    return {
        "site": facts,
        "site_id": site_id,
        "params": params,
        "incomplete": runs.incomplete(site_id),
        "failed": {n: t.why for n, t in tasks.items() if t.why},
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
        [t.notebook, t.status, code_version(t), fmt_num(t.duration_s), t.finished]
        for t in runs.of(site_id).values()
    ]  # fmt: skip
    runs_table = md_table(
        ["Notebook", "Status", "Code version", "Run time (s)", "Finished"],
        task_rows,
        "Task runs (from the run manifest)",
        f"tbl-{site_id}-runs",
    )
    return "\n".join([pretrends or "_No difference-in-differences results for this site yet._"]
                     + ([runs_table] if runs_table else []))  # fmt: skip


def code_version(task: TaskRun) -> str:
    """``git describe`` output, with uncommitted changes said in words."""
    if task.code_version == "–":
        return "–"
    dirty = " (uncommitted changes)" if task.code_version.endswith("-dirty") else ""
    return f"`{task.code_version.removesuffix('-dirty')}`{dirty}"


# ----------------------------------------------------------------------------- include files


def include_texts(runs: Runs, *, pdf: bool = False) -> dict[str, str]:
    """Every include file's text, by file name (PDF: figures from the saved files)."""
    pooled = rows(inputs.SYNTHESIS, "pooled.csv")
    return {
        "scorecard.md": scorecard_table(rows(inputs.SYNTHESIS, "scorecard.csv")).markdown()
        or missing_note("No scorecard yet.", "Run `proeftuin run` (the synthesis writes it)."),
        "findings.md": findings(pooled, dutch=False),
        "samenvatting.md": findings(pooled, dutch=True),
        "pooled.md": pooled_table(pooled).markdown()
        or missing_note("No pooled estimates yet.", "Run `proeftuin run`."),
        "robustness.md": "\n".join(robustness_section(s, pdf) for s in inputs.sites()),
        "validation.md": validation(pdf),
        "coverage.md": coverage(),
        "reproducibility.md": reproducibility(runs),
    }


def write_includes(runs: Runs) -> list[Path]:
    """Write the website's include files; their paths."""
    out = inputs.generated_dir()
    out.mkdir(parents=True, exist_ok=True)
    for name, text in include_texts(runs).items():
        (out / name).write_text(text, encoding="utf-8")
    return sorted(out.glob("*.md"))


# ----------------------------------------------------------------------------- findings


def findings(pooled: Rows, dutch: bool) -> str:
    """Every pooled estimate as a bullet in plain words, its uncertainty stated."""
    found = []
    for row in pooled:
        info = inputs.outcome(row.get("outcome", ""))
        design = (DESIGN_NAMES_NL if dutch else DESIGN_NAMES).get(row.get("design", ""), "")
        est, low, high = (to_float(row.get(k)) for k in ("estimate", "ci_low", "ci_high"))
        f = {"label": info.label, "design": design or row.get("design", ""), "k": row.get("k", "?")}
        if est is None or low is None or high is None:
            found.append({**f, "missing": True})
            continue
        digits, unit = shared_decimals([row]), f" {info.unit}" if info.unit else ""
        i2 = to_float(row.get("i2"))
        mixed = i2 is not None and (i2 if i2 > 1 else i2 * 100) >= 50
        found.append({**f, "missing": False, "est": fmt_est(est, digits) + unit,
                      "ci": fmt_ci(low, high, digits), "fall": fmt_est(abs(low), digits) + unit,
                      "rise": fmt_est(high, digits) + unit, "heterogeneous": mixed,
                      "side": "above" if low > 0 else "below" if high < 0 else ""})  # fmt: skip
    return jinja().get_template("findings.md.j2").render(found=found, dutch=dutch)


# ----------------------------------------------------------------------------- robustness


def robustness_section(site_id: str, pdf: bool = False) -> str:
    """A site's robustness figures and tables (from ``robustness.csv``)."""
    head = f"### {inputs.site_name(site_id)} {{#sec-robustness-{site_id}}}\n\n"
    head += f"Main results: [the site's page](regions/{site_id}.qmd).\n\n"
    hint = (
        f"They are read from `reports/results/{site_id}/robustness.csv` and "
        f"`reports/executed/{site_id}/{inputs.ROBUSTNESS}.ipynb`, written by the "
        f"`{inputs.ROBUSTNESS}` design of `proeftuin run`."
    )
    tables = robustness_tables(rows(site_id, "robustness.csv"), site_id)
    if not tables and not notebook_labels(robustness_notebook(site_id)):
        return head + missing_note("Robustness results for this site are not available yet.", hint)
    figures = [
        figure(site_id, inputs.ROBUSTNESS, label, hint, page_dir=inputs.reports_dir(), pdf=pdf,
               owner=site_id)
        for label in ROBUSTNESS_FIGURES
    ]  # fmt: skip
    body = tables.markdown() or missing_note("No robustness table for this site yet.", hint)
    return head + "\n".join(figures) + "\n" + body


# ----------------------------------------------------------------------------- validation


def validation(pdf: bool = False) -> str:
    """The validation figure and tables (``reports/results/validation/``)."""
    hint = (
        "They are read from `reports/results/validation/validation.csv` and "
        "`reports/executed/validation/validation.ipynb`, written by `proeftuin run`."
    )
    tables = []
    for path in sorted(inputs.results_dir(inputs.VALIDATION).glob("*.csv")):
        if path.stem == "validation":
            tables.append(validation_table(inputs.read_csv(path)).markdown())
        else:
            label = "tbl-validation-" + re.sub(r"[^\w-]", "-", path.stem)
            caption = f"Validation: {path.stem}"
            tables.append(generic_table(inputs.read_csv(path), caption, label).markdown())
    tables = [t for t in tables if t]
    notebook = inputs.executed_notebook(inputs.VALIDATION, inputs.VALIDATION)
    if not tables and not notebook_labels(notebook):
        return missing_note("Validation results are not available yet.", hint)
    page_dir = inputs.reports_dir()
    shown = figure(inputs.VALIDATION, inputs.VALIDATION, "fig-validation", hint,
                   page_dir=page_dir, pdf=pdf)  # fmt: skip
    return shown + "\n" + ("\n".join(tables) or missing_note("No validation table yet.", hint))


# ----------------------------------------------------------------------------- coverage


def coverage() -> str:
    """Estimation samples per site and outcome, then missingness per source and year."""
    found = []
    for site_id in inputs.sites():
        seen = set()
        for r in rows(site_id, "did_estimates.csv"):
            if r.get("outcome") not in seen:
                seen.add(r.get("outcome"))
                found.append(
                    [inputs.site_name(site_id), inputs.outcome_label(r.get("outcome", ""))]
                    + [fmt_int(r.get(k)) for k in ("n_units", "n_treated_units", "n_periods")]
                )
    table = md_table(
        ["Site", "Outcome", "Municipalities", "In the site", "Years"],
        found,
        "Estimation samples: municipalities and years with data, per site and outcome",
        "tbl-coverage",
    )
    extra = generic_table(
        rows("data", "coverage.csv"),
        "Coverage and missingness per source and year",
        "tbl-missingness",
    ).markdown()
    return (table or "_No estimation samples yet._\n") + "\n" + extra


# ----------------------------------------------------------------------------- reproducibility


def reproducibility(runs: Runs) -> str:
    """Every task run, the input checksums, the wall time and the commands to rerun."""
    table = md_table(
        ["Task", "Status", "Code version", "Lock hash", "Run time (s)"],
        [[t.name, t.status, code_version(t), f"`{t.lock_hash[:16]}`", fmt_num(t.duration_s)]
         for t in runs.tasks],
        "Every task run: code version, lock-file hash and run time",
        "tbl-runs",
    )  # fmt: skip
    checksums: dict[str, set[str]] = {}
    for task in runs.tasks:
        if task.region != inputs.SYNTHESIS:  # the synthesis depends on tasks, not on data
            for name, digest in task.data_checksums.items():
                checksums.setdefault(name, set()).add(str(digest))
    sums = md_table(
        ["Data file", "SHA-256", "Same for every task"],
        [[name, ", ".join(sorted(d)), "yes" if len(d) == 1 else "NO: inputs differ"]
         for name, d in sorted(checksums.items())],
        "Checksums of the input data used by the tasks",
        "tbl-checksums",
    )  # fmt: skip
    parts = [table or "_No provenance records yet: run `proeftuin run`._\n", sums]
    if runs.wall_time_s is not None:
        parts.append(f"Wall time of the last `proeftuin run`: {fmt_num(runs.wall_time_s)} s.\n")
    return "\n".join(p for p in [*parts, rerun_commands(runs)] if p)


def rerun_commands(runs: Runs) -> str:
    """Per site, the papermill command of each task that ran, with its parameters."""
    blocks = []
    for site_id in inputs.sites():
        lines = [f"# {site_id}"]
        for task in runs.of(site_id).values():
            executed = task.executed or inputs.rel_root(
                inputs.executed_notebook(site_id, task.notebook)
            )
            lines.append(
                f"papermill notebooks/{task.notebook}.ipynb {executed} "
                f"-k {settings.KERNEL_NAME} -y '{json.dumps(task.parameters, sort_keys=True)}'"
            )
        blocks.append("\n".join(lines))
    return (
        "To rerun one site, execute its notebooks with the same parameters, then rebuild the "
        "report (`proeftuin report` never re-executes anything):\n\n```bash\n"
        + "\n\n".join(blocks)
        + "\n\nproeftuin report\n```\n"
    )
