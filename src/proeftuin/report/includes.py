"""The generated include files (``reports/_generated/*.md``) that the static pages pull in."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from proeftuin import settings
from proeftuin.report import facts, paths
from proeftuin.report.estimates import (
    generic_table,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.figures import figure_block
from proeftuin.report.notebooks import notebook_labels
from proeftuin.report.prose import findings
from proeftuin.report.results import (
    code_version,
    data_checksums,
    lock_hash,
    provenance_records,
    read_csv,
    region_rows,
    run_summary,
)
from proeftuin.report.tables import fmt_int, fmt_num, md_table, missing_note

ROBUSTNESS_FIGURES = ("fig-robustness", "fig-placebo")


def write_includes(plan: Any) -> list[Path]:
    """Write every include file; their paths."""
    pooled = region_rows(paths.SYNTHESIS, "pooled.csv")
    scorecard = region_rows(paths.SYNTHESIS, "scorecard.csv")
    contents = {
        "scorecard.md": scorecard_table(scorecard).markdown()
        or missing_note("No scorecard yet.", "Run `proeftuin run` (the synthesis writes it)."),
        "findings.md": findings(pooled, dutch=False),
        "samenvatting.md": findings(pooled, dutch=True),
        "pooled.md": pooled_table(pooled).markdown()
        or missing_note("No pooled estimates yet.", "Run `proeftuin run`."),
        "robustness.md": robustness(plan),
        "validation.md": validation(),
        "coverage.md": coverage(plan),
        "reproducibility.md": reproducibility(plan),
    }
    out = paths.generated_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written


# ----------------------------------------------------------------------------- robustness


def robustness(plan: Any) -> str:
    """Per site: the robustness figures (embedded) and tables (from ``robustness.csv``)."""
    return "\n".join(robustness_section(region) for region in plan.regions)


def robustness_section(region: str) -> str:
    name = facts.site_name(region)
    head = f"### {name} {{#sec-robustness-{region}}}\n\n"
    head += f"Main results: [the site's page](regions/{region}.qmd).\n\n"
    notebook = paths.robustness_notebook(region)
    tables = robustness_tables(region_rows(region, "robustness.csv"), region)
    if not tables and not notebook_labels(notebook):
        return head + not_available_robustness(region)
    figures = [
        figure_block(paths.reports_dir(), notebook, label, _robustness_hint(region))
        for label in ROBUSTNESS_FIGURES
    ]
    body = tables.markdown() or missing_note(
        "No robustness table for this site yet.", _robustness_hint(region)
    )
    return head + "\n".join(figures) + "\n" + body


def not_available_robustness(region: str) -> str:
    return missing_note(
        "Robustness results for this site are not available yet.", _robustness_hint(region)
    )


def _robustness_hint(region: str) -> str:
    return (
        f"They are read from `reports/results/{region}/robustness.csv` and "
        f"`reports/executed/{region}/{paths.ROBUSTNESS_NOTEBOOK}.ipynb`, written by the "
        f"`{paths.ROBUSTNESS_NOTEBOOK}` design of `proeftuin run`."
    )


# ----------------------------------------------------------------------------- validation


def validation() -> str:
    """The validation figure and tables (``reports/results/validation/``)."""
    folder = paths.results_dir(paths.VALIDATION)
    notebook = paths.validation_notebook()
    tables = []
    for path in sorted(folder.glob("*.csv")):
        rows = read_csv(path)
        if path.stem == "validation":
            tables.append(validation_table(rows).markdown())
        else:
            label = "tbl-validation-" + re.sub(r"[^\w-]", "-", path.stem)
            tables.append(generic_table(rows, f"Validation: {path.stem}", label).markdown())
    tables = [t for t in tables if t]
    if not tables and not notebook_labels(notebook):
        return missing_note("Validation results are not available yet.", _validation_hint())
    figure = figure_block(paths.reports_dir(), notebook, "fig-validation", _validation_hint())
    table = "\n".join(tables) or missing_note("No validation table yet.", _validation_hint())
    return figure + "\n" + table


def _validation_hint() -> str:
    return (
        "They are read from `reports/results/validation/validation.csv` and "
        "`reports/executed/validation/validation.ipynb`, written by `proeftuin run`."
    )


# ----------------------------------------------------------------------------- data coverage


def coverage(plan: Any) -> str:
    rows = []
    for region in plan.regions:
        seen = set()
        for r in region_rows(region, "did_estimates.csv"):
            if r.get("outcome") in seen:
                continue
            seen.add(r.get("outcome"))
            rows.append(
                [
                    facts.site_name(region),
                    facts.outcome_label(r.get("outcome", "")),
                    fmt_int(r.get("n_units")),
                    fmt_int(r.get("n_treated_units")),
                    fmt_int(r.get("n_periods")),
                ]
            )
    table = md_table(
        ["Site", "Outcome", "Municipalities", "In the site", "Years"],
        rows,
        "Estimation samples: municipalities and years with data, per site and outcome",
        "tbl-coverage",
    )
    extra = generic_table(
        read_csv(paths.results_dir("data") / "coverage.csv"),
        "Coverage and missingness per source and year",
        "tbl-missingness",
    ).markdown()
    return (table or "_No estimation samples yet._\n") + "\n" + extra


# ----------------------------------------------------------------------------- reproducibility


def reproducibility(plan: Any) -> str:
    records = provenance_records()
    runs = [
        [
            name,
            p.get("status", "–"),
            code_version(p.get("code_version")),
            lock_hash(p),
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
        or "_No provenance records yet: run `proeftuin run`._\n",
        _checksum_table(records),
    ]
    summary = run_summary()
    if summary.get("wall_time_s") is not None:
        parts.append(
            f"Wall time of the last `proeftuin run`: {fmt_num(summary['wall_time_s'])} s.\n"
        )
    parts.append(rerun_commands(plan))
    return "\n".join(p for p in parts if p)


def _checksum_table(records: list[tuple[str, dict[str, Any]]]) -> str:
    checksums: dict[str, set[str]] = {}
    for task, prov in records:
        if task.startswith(f"{paths.SYNTHESIS}/"):
            continue  # the synthesis depends on the region tasks' keys, not on data files
        for name, digest in data_checksums(prov).items():
            checksums.setdefault(name, set()).add(str(digest))
    rows = [
        [name, ", ".join(sorted(d)), "yes" if len(d) == 1 else "NO: inputs differ"]
        for name, d in sorted(checksums.items())
    ]
    return md_table(
        ["Data file", "SHA-256", "Same for every task"],
        rows,
        "Checksums of the input data used by the tasks",
        "tbl-checksums",
    )


def region_tasks(plan: Any, region: str) -> dict[str, Any]:
    return {t.notebook: t for t in plan.tasks() if t.region == region}


def executed_path(task: Any, region: str, notebook: str) -> Path:
    """Where a task's executed notebook is (from the plan when it says)."""
    if task is not None:
        path = Path(task.executed_path)
        return path if path.is_absolute() else settings.project_root() / path
    return paths.executed_notebook(region, notebook)


def rerun_commands(plan: Any) -> str:
    blocks = []
    for region in plan.regions:
        lines = [f"# {region}"]
        for task in region_tasks(plan, region).values():
            params = json.dumps(task.parameters, sort_keys=True)
            executed = paths.rel_root(executed_path(task, region, task.notebook))
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
