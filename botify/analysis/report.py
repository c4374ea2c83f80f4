"""Writers of the A/B report: effects.csv/json, summary.json, report.md/html and the figures.

The report opens with what a reader needs first: per treatment its recommender, the primary
metric's effect and interval, the guardrails and the decision, in one table on the first screen;
then the effects plot, then every metric, the guardrails' tests, the treatments, CUPED, the looks,
the segments and the figures over time.

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
from importlib import resources
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from botify.analysis import columns as col
from botify.analysis import format as fmt
from botify.analysis import metrics as mt
from botify.analysis import render
from botify.analysis.analyze import Analysis, Segment
from botify.analysis.looks import LOOK, LOOK_COLUMNS, UNTIL
from botify.analysis.render import Table
from botify.errors import BotifyError

EFFECTS_CSV = "effects.csv"
EFFECTS_JSON = "effects.json"
SUMMARY_JSON = "summary.json"
SEGMENTS_CSV = "segments.csv"
LOOKS_CSV = "looks.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
RESULTS_PNG = "results.png"
LOOKS_PNG = "looks.png"
SESSION_LENGTH_PNG = "session_length_{treatment}.png"

# What the printed table shows, in the course's order, then the additions.
TABLE_COLUMNS = (
    col.TREATMENT, col.RECOMMENDER, col.METRIC, col.EFFECT, col.LOWER, col.UPPER,
    col.CONTROL_MEAN, col.TREATMENT_MEAN, col.SIGNIFICANT, col.P_VALUE, col.P_VALUE_HOLM,
    col.SIGNIFICANT_HOLM,
)
SEQUENTIAL_COLUMNS = (col.SEQ_LOWER, col.SEQ_UPPER, col.SEQ_P_VALUE_HOLM)


def effects_table(analysis: Analysis) -> str:
    """The effects as a plain-text table (what ``botify analyze`` prints), then the decisions."""
    columns = [*TABLE_COLUMNS, *(SEQUENTIAL_COLUMNS if analysis.sequential else ())]
    shown = analysis.effects[columns]
    if shown.empty:
        return "(no treatment to compare with the control)"
    formatters = {c: render.number for c in columns}
    for column in (col.P_VALUE, col.P_VALUE_HOLM, col.SEQ_P_VALUE_HOLM):
        formatters[column] = fmt.p_value
    lines = [shown.to_string(index=False, formatters=formatters), "",
             f"Decisions on {analysis.primary}:"]
    for _, row in analysis.decisions.iterrows():
        lines.append(f"  {row[col.TREATMENT]} ({row[col.RECOMMENDER]}): {row[col.DECISION]}: "
                     f"{row[col.REASON]}")
    return "\n".join(lines)


def summary(analysis: Analysis) -> dict:
    """The report's context as plain data: treatments, SRM check, CUPED fits, guardrails,
    decisions, segments, warnings."""
    return {
        "experiment": analysis.experiment,
        "control": analysis.control,
        "alpha": analysis.alpha,
        "primary": analysis.primary,
        "sequential": analysis.sequential,
        "guardrails": [{"metric": g.metric, "margin": g.limit, "spec": g.spec}
                       for g in analysis.guardrails],
        "treatments": analysis.treatments.to_dict(orient="records"),
        "decisions": _decisions(analysis.decisions, analysis.checks),
        "srm": _srm(analysis.srm),
        "cuped": {
            metric: {
                "theta": fit.theta,
                "variance_reduction": fit.variance_reduction,
                "reason": fit.reason,
            }
            for metric, fit in analysis.cuped.items()
        },
        "segments": None if analysis.segment_by is None else {
            "by": analysis.segment_by,
            "segments": {
                s.label: {"treatments": s.treatments.to_dict(orient="records"),
                          "srm": _srm(s.srm), "decisions": _decisions(s.decisions, s.checks)}
                for s in analysis.segments
            },
        },
        "warnings": list(analysis.warnings),
    }


def _srm(srm) -> dict:
    return {
        "observed": dict(zip(srm.treatments, srm.observed, strict=True)),
        "expected": dict(zip(srm.treatments, srm.expected, strict=True)),
        "chi2": srm.chi2,
        "p_value": srm.p_value,
        "threshold": srm.threshold,
        "mismatch": srm.mismatch,
        "reason": srm.reason,
    }


def _decisions(decisions: pd.DataFrame, checks: pd.DataFrame) -> dict[str, dict]:
    """Per treatment: its decision, reason, the primary metric's numbers and its guardrails."""
    found = {}
    for record in _records(decisions):
        name = record.pop(col.TREATMENT)
        mine = checks[checks[col.TREATMENT] == name].drop(columns=col.TREATMENT)
        record["guardrails"] = {r.pop(col.METRIC): r for r in _records(mine)}
        found[name] = record
    return found


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


def _lead(analysis: Analysis) -> str:
    """The line under the title: what the summary table compares, and how."""
    served = dict(zip(analysis.treatments[col.TREATMENT], analysis.treatments[col.RECOMMENDER],
                      strict=True))
    compared = len(analysis.decisions)
    rails = ", ".join(f"{g.metric} {g.limit}" for g in analysis.guardrails) or "none"
    interval = ("fixed and always-valid intervals; decisions on the always-valid one"
                if analysis.sequential else "Welch intervals")
    return (f"Decisions on {analysis.primary} ({mt.BETTER[analysis.primary]} is better) against "
            f"the control {analysis.control} ({served.get(analysis.control, '')}); alpha "
            f"{analysis.alpha}; {interval}, effects in % of the control mean; Holm across the "
            f"{compared} treatment(s). Guardrails, one-sided at alpha and outside the Holm "
            f"family: {rails}.")


def _sections(analysis: Analysis, figures: list[str], extra: Mapping[str, pd.DataFrame] | None
              ) -> list[tuple[str, list[object]]]:
    """The report's body after the summary: (title, parts) where a part is a :class:`Table`, a
    paragraph (str), a list of items (list) or a figure (``("figure", name)``)."""
    sections: list[tuple[str, list[object]]] = []
    if RESULTS_PNG in figures:
        sections.append(("Effects", [("figure", RESULTS_PNG)]))
    reasons = [f"{r[col.TREATMENT]} / {r[col.METRIC]}: {r[col.REASON]}"
               for _, r in analysis.effects.iterrows() if r[col.REASON]]
    sections.append(("All metrics", [
        "↑ higher is better, ↓ lower is better; an effect is green when it is an improvement, "
        "red when it is a regression; ratio_* metrics are session-level ratios of sums (delta "
        "method), beside the per-user means.",
        render.effects_cells(analysis.effects, analysis.sequential), reasons,
    ]))
    if analysis.guardrails:
        sections.append(("Guardrails", [
            "Non-inferiority: a guardrail holds when its one-sided bound (the worst difference "
            "still plausible at alpha) stays within the margin, fails when even the best one is "
            "beyond it, and is unclear otherwise.",
            render.checks_cells(analysis.checks, analysis.guardrails),
        ]))
    srm = analysis.srm
    sections.append(("Treatments", [
        render.frame_cells(analysis.treatments),
        f"Sample ratio check: chi-square = {srm.chi2:.3f}, p = {srm.p_value:.3g} "
        f"({'MISMATCH' if srm.mismatch else 'ok'}).",
    ]))
    if analysis.cuped:
        sections.append(("CUPED", [
            "Metrics adjusted by the same metric in the earlier period:",
            [f"{metric}: theta = {fit.theta:.4g}, variance reduced by "
             f"{fit.variance_reduction * 100:.1f}%" for metric, fit in analysis.cuped.items()],
        ]))
    if analysis.looks is not None:
        sections.append((f"Looks at {analysis.primary}", [
            "The comparison as it stood at each look (events before it): the fixed interval is "
            "valid at one look chosen in advance, the always-valid one at all looks at once.",
            _looks_cells(analysis.looks),
            *([("figure", LOOKS_PNG)] if LOOKS_PNG in figures else []),
        ]))
    if analysis.segment_by is not None:
        for segment in analysis.segments:
            sections.append(_segment_section(analysis, segment))
    for title, table in (extra or {}).items():
        sections.append((title, [render.frame_cells(table)]))
    over_time = [name for name in figures if name not in (RESULTS_PNG, LOOKS_PNG)]
    if over_time:
        sections.append(("Session length over time", [("figure", n) for n in over_time]))
    return sections


def _segment_section(analysis: Analysis, segment: Segment) -> tuple[str, list[object]]:
    srm = segment.srm
    users = int(segment.treatments["users"].sum())
    return (f"Segment {analysis.segment_by} = {segment.label} ({users:,} users)", [
        f"Sample ratio check: p = {srm.p_value:.3g} ({'MISMATCH' if srm.mismatch else 'ok'}); "
        "exploratory: see the note on multiple comparisons above.",
        render.summary_cells(segment.decisions, segment.checks, analysis.guardrails,
                             analysis.primary, analysis.sequential),
        render.effects_cells(segment.effects, analysis.sequential),
    ])


def _looks_cells(looks: pd.DataFrame) -> Table:
    header = ("look", "until (UTC)", "treatment", "users", "effect", "95% CI", "always-valid CI",
              "Holm p", "always-valid Holm p")
    rows = []
    for _, row in looks.iterrows():
        when = pd.Timestamp(int(row[UNTIL]), unit="ms").strftime("%Y-%m-%d %H:%M")
        rows.append(tuple(render.Cell(text) for text in (
            str(row[LOOK]), when, row[col.TREATMENT],
            f"{int(row[col.CONTROL_USERS]) + int(row[col.TREATMENT_USERS]):,}",
            fmt.percent(row[col.EFFECT], 2), fmt.interval(row[col.LOWER], row[col.UPPER], 2),
            fmt.interval(row[col.SEQ_LOWER], row[col.SEQ_UPPER], 2),
            fmt.p_value(row[col.P_VALUE_HOLM]), fmt.p_value(row[col.SEQ_P_VALUE_HOLM]),
        )))
    return Table(header, tuple(rows))


def _warnings(analysis: Analysis) -> tuple[list[str], list[str]]:
    """The warnings that go above the summary (a broken split), and the notes below it."""
    loud = [w for w in analysis.warnings if "MISMATCH" in w]
    return loud, [w for w in analysis.warnings if w not in loud]


def render_markdown(
    analysis: Analysis, figures: list[str], extra: Mapping[str, pd.DataFrame] | None = None
) -> str:
    """The report as Markdown: the summary table first, then the sections (``extra``: more titled
    tables, e.g. the oracle comparison)."""
    loud, notes = _warnings(analysis)
    lines = [f"# A/B report: {analysis.experiment}", ""]
    lines += [f"> **WARNING**: {w}\n" for w in loud]
    lines += [_lead(analysis), "", render.markdown(_summary_cells(analysis)), ""]
    lines += [f"> Note: {w}\n" for w in notes]
    for title, parts in _sections(analysis, figures, extra):
        lines += [f"## {title}", ""]
        for part in parts:
            if isinstance(part, Table):
                lines += [render.markdown(part), ""]
            elif isinstance(part, tuple):
                lines += [f"![{part[1]}]({part[1]})", ""]
            elif isinstance(part, list):
                lines += [*(f"- {item}" for item in part), ""] if part else []
            else:
                lines += [part, ""]
    return "\n".join(lines).rstrip() + "\n"


def _summary_cells(analysis: Analysis) -> Table:
    return render.summary_cells(analysis.decisions, analysis.checks, analysis.guardrails,
                                analysis.primary, analysis.sequential)


def render_html(
    analysis: Analysis, figures: list[str], extra: Mapping[str, pd.DataFrame] | None = None
) -> str:
    """The report as a self-contained HTML page (figures referenced next to it): the summary
    table within the first screen, nothing wider than a 1280-pixel window."""
    esc = html.escape
    style = resources.files("botify.analysis").joinpath("templates/report.css").read_text()
    loud, notes = _warnings(analysis)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>A/B report: {esc(analysis.experiment)}</title>",
        f"<style>{style}</style>",
        "</head><body>",
        f"<h1>A/B report: {esc(analysis.experiment)}</h1>",
        *(f'<p class="warning">{esc(w)}</p>' for w in loud),
        f'<p class="lead">{esc(_lead(analysis))}</p>',
        f'<div id="summary">{render.html_table(_summary_cells(analysis), "summary")}</div>',
        *(f'<p class="note">{esc(w)}</p>' for w in notes),
    ]
    for title, body in _sections(analysis, figures, extra):
        parts.append(f"<h2>{esc(title)}</h2>")
        for part in body:
            if isinstance(part, Table):
                parts.append(render.html_table(part))
            elif isinstance(part, tuple):
                parts.append(f'<p><img src="{esc(part[1])}" alt="{esc(part[1])}"></p>')
            elif isinstance(part, list):
                if part:
                    parts.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in part) + "</ul>")
            else:
                parts.append(f"<p>{esc(part)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def styled_effects(analysis: Analysis, metric: str | None = None):
    """The effects as a pandas Styler, colored as the report (for notebooks): an effect green when
    it is an improvement for its metric, red when a regression; significance on green or red.

    Args:
        analysis: the analysis.
        metric: show only this metric (the course showed ``mean_time_per_session``).
    """
    shown = analysis.effects[[*TABLE_COLUMNS, col.DIRECTION]]
    if metric is not None:
        shown = shown[shown[col.METRIC] == metric]

    def tones(row: pd.Series) -> list[str]:
        better = render.STYLES.get(render.tone(row[col.EFFECT], row[col.DIRECTION]), "")
        return [better if c in (col.EFFECT, col.LOWER, col.UPPER) else "" for c in row.index]

    return (
        shown.style.format(precision=3)
        .apply(tones, axis=1)
        .map(lambda v: render.STYLES["yes" if v else "no"],
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
        if analysis.segment_by is not None:
            frames = [s.effects.assign(**{col.SEGMENT: s.label}) for s in analysis.segments]
            table = pd.concat(frames, ignore_index=True)
            table[[col.SEGMENT, *col.ALL_EFFECT_COLUMNS]].to_csv(staging / SEGMENTS_CSV,
                                                                 index=False)

        title = f"{analysis.experiment}: effects vs {analysis.control}"
        figure = plots.plot_effects(analysis.effects, title=title, first=analysis.primary)
        plots.save(figure, staging / RESULTS_PNG)
        figures = [RESULTS_PNG]
        if analysis.looks is not None:
            analysis.looks[list(LOOK_COLUMNS)].to_csv(staging / LOOKS_CSV, index=False)
            plots.save(plots.plot_looks(analysis.looks, analysis.primary), staging / LOOKS_PNG)
            figures.append(LOOKS_PNG)
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
