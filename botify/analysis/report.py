"""Writers of the A/B report: effects.csv/json, summary.json, report.md/html and the figures.

Everything is rendered into a temporary directory inside the output directory first and moved into
place only when all of it succeeded, so a failure never leaves a half-written report.
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify.analysis import columns as col
from botify.analysis.analyze import Analysis
from botify.errors import BotifyError

EFFECTS_CSV = "effects.csv"
EFFECTS_JSON = "effects.json"
SUMMARY_JSON = "summary.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
RESULTS_PNG = "results.png"
SESSION_LENGTH_PNG = "session_length_{treatment}.png"

# What the printed and rendered tables show, in the course's order, then the additions.
TABLE_COLUMNS = (
    col.TREATMENT, col.RECOMMENDER, col.METRIC, col.EFFECT, col.LOWER, col.UPPER,
    col.CONTROL_MEAN, col.TREATMENT_MEAN, col.SIGNIFICANT, col.P_VALUE, col.P_VALUE_HOLM,
    col.SIGNIFICANT_HOLM,
)


def _number(value: object, digits: int = 3) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "n/a"
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.{digits}g}" if abs(value) >= 1e-300 else "0"
        return f"{value:.{digits}f}"
    return str(value)


def effects_table(analysis: Analysis) -> str:
    """The effects as a plain-text table (what ``botify analyze`` prints)."""
    shown = analysis.effects[list(TABLE_COLUMNS)]
    if shown.empty:
        return "(no treatment to compare with the control)"
    return shown.to_string(index=False, formatters={c: _number for c in TABLE_COLUMNS})


def summary(analysis: Analysis) -> dict:
    """The report's context as plain data: treatments, SRM check, CUPED fits, warnings."""
    srm = analysis.srm
    return {
        "experiment": analysis.experiment,
        "control": analysis.control,
        "alpha": analysis.alpha,
        "treatments": analysis.treatments.to_dict(orient="records"),
        "srm": {
            "observed": dict(zip(srm.treatments, srm.observed, strict=True)),
            "expected": dict(zip(srm.treatments, srm.expected, strict=True)),
            "chi2": srm.chi2,
            "p_value": srm.p_value,
            "threshold": srm.threshold,
            "mismatch": srm.mismatch,
            "reason": srm.reason,
        },
        "cuped": {
            metric: {
                "theta": fit.theta,
                "variance_reduction": fit.variance_reduction,
                "reason": fit.reason,
            }
            for metric, fit in analysis.cuped.items()
        },
        "warnings": list(analysis.warnings),
    }


def _json(data: object) -> bytes:
    def default(value: object) -> object:
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(type(value).__name__)

    # NaN is not JSON: orjson writes null for it, as it should be read.
    options = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(data, option=options, default=default)


def _records(frame: pd.DataFrame) -> list[dict]:
    records = frame.to_dict(orient="records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, float) and math.isnan(value):
                record[key] = None
    return records


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))


def render_markdown(
    analysis: Analysis, figures: list[str], extra: Mapping[str, pd.DataFrame] | None = None
) -> str:
    """The report as Markdown: warnings first, then treatments, effects, ``extra`` tables (title
    to table) and the figures."""
    lines = [f"# A/B report: {analysis.experiment}", ""]
    for warning in analysis.warnings:
        prefix = "**WARNING**" if "MISMATCH" in warning else "Note"
        lines.append(f"> {prefix}: {warning}")
        lines.append("")
    lines += [
        f"Control: `{analysis.control}`; alpha = {analysis.alpha}; intervals are Welch "
        f"(Welch–Satterthwaite dof), effects in % of the control mean; Holm-adjusted p-values "
        f"per metric across treatments.",
        "",
        "## Treatments",
        "",
        _markdown_table(analysis.treatments),
        "",
        f"Sample ratio check: chi-square = {analysis.srm.chi2:.3f}, "
        f"p = {analysis.srm.p_value:.3g} ({'MISMATCH' if analysis.srm.mismatch else 'ok'}).",
        "",
    ]
    if analysis.cuped:
        lines += ["## CUPED", "", "Metrics adjusted by the same metric in the earlier period:", ""]
        for metric, fit in analysis.cuped.items():
            lines.append(
                f"- `{metric}`: theta = {fit.theta:.4g}, variance reduced by "
                f"{fit.variance_reduction * 100:.1f}%"
            )
        lines.append("")
    lines += ["## Effects", "", _markdown_table(analysis.effects[list(TABLE_COLUMNS)]), ""]
    reasons = analysis.effects[analysis.effects[col.REASON] != ""]
    for _, row in reasons.iterrows():
        lines.append(f"- {row[col.TREATMENT]} / {row[col.METRIC]}: {row[col.REASON]}")
    for title, table in (extra or {}).items():
        lines += ["", f"## {title}", "", _markdown_table(table)]
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in figures]
    return "\n".join(lines) + "\n"


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = [
        "| " + " | ".join(_number(value) for value in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _cell_style(column: str, value: object) -> str:
    """The course's colors: effects red or green, significance white on green or red."""
    if column in (col.EFFECT, col.LOWER, col.UPPER) and isinstance(value, float):
        if math.isnan(value):
            return ""
        return "color:red;" if value < 0 else "color:green;"
    if column in (col.SIGNIFICANT, col.SIGNIFICANT_HOLM):
        return (
            "color:white;background-color:green"
            if value
            else "color:white;background-color:red"
        )
    return ""


def render_html(
    analysis: Analysis, figures: list[str], extra: Mapping[str, pd.DataFrame] | None = None
) -> str:
    """The report as a self-contained HTML page (figures referenced next to it)."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>A/B report: {esc(analysis.experiment)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        ".warning{background:#c62828;color:white;padding:1em;font-weight:bold}"
        ".note{background:#fff3e0;padding:0.5em}</style>",
        "</head><body>",
        f"<h1>A/B report: {esc(analysis.experiment)}</h1>",
    ]
    for warning in analysis.warnings:
        kind = "warning" if "MISMATCH" in warning else "note"
        parts.append(f'<p class="{kind}">{esc(warning)}</p>')
    parts.append(
        f"<p>Control: <code>{esc(analysis.control)}</code>; alpha = {analysis.alpha}; Welch "
        f"intervals, effects in % of the control mean; Holm-adjusted p-values per metric.</p>"
    )
    parts.append("<h2>Treatments</h2>")
    parts.append(_html_table(analysis.treatments, styled=False))
    parts.append(
        f"<p>Sample ratio check: chi-square = {analysis.srm.chi2:.3f}, "
        f"p = {analysis.srm.p_value:.3g}.</p>"
    )
    if analysis.cuped:
        items = "".join(
            f"<li><code>{esc(metric)}</code>: theta = {fit.theta:.4g}, variance reduced by "
            f"{fit.variance_reduction * 100:.1f}%</li>"
            for metric, fit in analysis.cuped.items()
        )
        parts.append(f"<h2>CUPED</h2><ul>{items}</ul>")
    parts.append("<h2>Effects</h2>")
    parts.append(_html_table(analysis.effects[list(TABLE_COLUMNS)], styled=True))
    for title, table in (extra or {}).items():
        parts.append(f"<h2>{esc(title)}</h2>")
        parts.append(_html_table(table, styled=False))
    parts.append("<h2>Figures</h2>")
    parts += [f'<p><img src="{esc(name)}" alt="{esc(name)}"></p>' for name in figures]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(frame: pd.DataFrame, styled: bool) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            style = _cell_style(column, value) if styled else ""
            attribute = f' style="{style}"' if style else ""
            cells.append(f"<td{attribute}>{html.escape(_number(value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def styled_effects(analysis: Analysis, metric: str | None = None):
    """The effects as a pandas Styler, colored as in the course (for notebooks).

    Args:
        analysis: the analysis.
        metric: show only this metric (the course showed ``mean_time_per_session``).
    """
    shown = analysis.effects[list(TABLE_COLUMNS)]
    if metric is not None:
        shown = shown[shown[col.METRIC] == metric]
    return (
        shown.style.format(precision=3)
        .map(lambda v: _cell_style(col.EFFECT, v), subset=[col.EFFECT, col.LOWER, col.UPPER])
        .map(lambda v: _cell_style(col.SIGNIFICANT, v),
             subset=[col.SIGNIFICANT, col.SIGNIFICANT_HOLM])
    )


def write_report(
    analysis: Analysis,
    out: str | os.PathLike,
    extra: Mapping[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Write the whole report into ``out`` (created if needed), all or nothing.

    ``extra`` adds titled tables to ``report.md`` and ``report.html`` (e.g. the oracle comparison).

    Returns:
        The files written.

    Raises:
        BotifyError: ``out`` cannot be created or written (a file, no permission).
    """
    from botify.analysis import plots  # matplotlib only when a report is drawn

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    except OSError as exc:
        raise BotifyError(f"{out}: cannot write the report there ({exc.strerror})") from None
    try:
        effects = analysis.effects[list(col.ALL_EFFECT_COLUMNS)]
        effects.to_csv(staging / EFFECTS_CSV, index=False)
        (staging / EFFECTS_JSON).write_bytes(_json(_records(effects)))
        (staging / SUMMARY_JSON).write_bytes(_json(summary(analysis)))

        title = f"{analysis.experiment}: effects vs {analysis.control}"
        plots.save(plots.plot_effects(analysis.effects, title=title), staging / RESULTS_PNG)
        figures = [RESULTS_PNG]
        served = dict(
            zip(analysis.treatments[col.TREATMENT], analysis.treatments[col.RECOMMENDER],
                strict=True)
        )
        for treatment in analysis.treatments[col.TREATMENT]:
            if not (analysis.over_time[col.TREATMENT] == treatment).any():
                continue
            name = SESSION_LENGTH_PNG.format(treatment=_slug(treatment))
            fig = plots.plot_session_length_over_time(
                analysis.over_time, treatment, control=analysis.control,
                recommender=served.get(treatment, ""),
            )
            plots.save(fig, staging / name)
            figures.append(name)

        markdown = render_markdown(analysis, figures, extra)
        (staging / REPORT_MD).write_text(markdown, encoding="utf-8")
        (staging / REPORT_HTML).write_text(render_html(analysis, figures, extra), encoding="utf-8")
        written = []
        for file in sorted(staging.iterdir()):
            target = out / file.name
            os.replace(file, target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
