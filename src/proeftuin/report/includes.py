"""The include files the static pages pull in (``reports/_generated/*.md``, gitignored):
scorecard, pooled findings in plain words (English and Dutch), robustness, validation, data
coverage and reproducibility. The PDF gets the same texts with figures from files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from proeftuin import settings
from proeftuin.report import inputs
from proeftuin.report.estimates import (
    DESIGN_NAMES,
    generic_table,
    pooled_table,
    robustness_tables,
    scorecard_table,
    validation_table,
)
from proeftuin.report.inputs import Rows, Runs, notebook_labels, rows
from proeftuin.report.pages import code_version, figure, robustness_notebook
from proeftuin.report.tables import (
    fmt_ci,
    fmt_est,
    fmt_int,
    fmt_num,
    md_table,
    missing_note,
    shared_decimals,
    to_float,
)

ROBUSTNESS_FIGURES = ("fig-robustness", "fig-placebo")
DESIGN_NAMES_NL = {"did_region": "verschil-in-verschillen", "its_region": "onderbroken tijdreeks"}
DESIGN_NAMES_NL |= {"did": DESIGN_NAMES_NL["did_region"], "its": DESIGN_NAMES_NL["its_region"]}


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


def finding_sentence(row: dict[str, str], dutch: bool = False) -> str:
    """One pooled estimate in plain words, its uncertainty stated (formatting only)."""
    info = inputs.outcome(row.get("outcome", ""))
    design = (DESIGN_NAMES_NL if dutch else DESIGN_NAMES).get(row.get("design", ""), "")
    design = design or row.get("design", "")
    unit = f" {info.unit}" if info.unit else ""
    est, low, high = (to_float(row.get(k)) for k in ("estimate", "ci_low", "ci_high"))
    if est is None or low is None or high is None:
        return f"- **{info.label}** ({design}): " + ("geen schatting." if dutch else "no estimate.")
    digits = shared_decimals([row])
    head = f"- **{info.label}** ({design}, {row.get('k', '?')} "
    head += f"{'regio’s' if dutch else 'sites'}): {fmt_est(est, digits)}{unit} "
    head += f"(95%{'-BI' if dutch else ' CI'} {fmt_ci(low, high, digits)}). "
    fall, rise = f"{fmt_est(abs(low), digits)}{unit}", f"{fmt_est(high, digits)}{unit}"
    if dutch:
        if low > 0 or high < 0:
            return head + (
                f"Het hele interval ligt {'boven' if low > 0 else 'onder'} nul: de proeftuinen "
                f"gingen {'omhoog' if low > 0 else 'omlaag'} ten opzichte van vergelijkbare "
                "regio’s."
            )
        return head + (
            f"Het interval bevat nul: de gegevens onderscheiden een daling tot {fall} "
            f"niet van een stijging tot {rise}."
        )
    if low > 0 or high < 0:
        text = (
            f"The whole interval lies {'above' if low > 0 else 'below'} zero: the Pioneer sites "
            f"moved {'up' if low > 0 else 'down'} relative to comparable regions, by an amount "
            "anywhere in that interval."
        )
    else:
        text = (
            f"The interval includes zero: the data cannot tell a fall of up to {fall} "
            f"from a rise of up to {rise}."
        )
    i2 = to_float(row.get("i2"))
    if i2 is not None and (i2 if i2 > 1 else i2 * 100) >= 50:
        text += " The sites differ markedly (I² ≥ 50%), so the pooled figure hides real variation."
    return head + text


def findings(pooled: Rows, dutch: bool) -> str:
    """Every pooled estimate as a bullet, or a note that there are none yet."""
    if not pooled:
        return (
            "_Nog geen gepoolde resultaten: voer eerst `proeftuin run` uit._\n"
            if dutch
            else "_No pooled results yet: run `proeftuin run` first._\n"
        )
    return "\n".join(finding_sentence(r, dutch) for r in pooled) + "\n"


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
        [[t.name, t.status, code_version(t), f"`{lock_hash(t.record)[:16]}`",
          fmt_num(t.record.get("duration_s"))] for t in runs.tasks],
        "Every task run: code version, lock-file hash and run time",
        "tbl-runs",
    )  # fmt: skip
    checksums: dict[str, set[str]] = {}
    for task in runs.tasks:
        if task.region != inputs.SYNTHESIS:  # the synthesis depends on tasks, not on data
            for name, digest in data_checksums(task.record).items():
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


def lock_hash(record: dict) -> str:
    return str(record.get("lock_hash") or (record.get("key_parts") or {}).get("lock") or "–")


def data_checksums(record: dict) -> dict[str, str]:
    """Input data checksums recorded for a task."""
    return dict(record.get("data_checksums") or (record.get("key_parts") or {}).get("data") or {})


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
