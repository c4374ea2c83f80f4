"""The report's tables as cells, rendered to Markdown or HTML from the same rows.

A table is a header and rows of :class:`Cell`; a cell's ``kind`` colors it in HTML (improvement
green, regression red, by the metric's direction; decisions and guardrail states) and is dropped
in Markdown.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from botify.analysis import columns as col
from botify.analysis import format as fmt
from botify.analysis import metrics as mt
from botify.analysis.decision import DONT_SHIP, SHIP
from botify.analysis.guardrails import FAILS, HOLDS, Guardrail

ARROWS = {mt.HIGHER_BETTER: "↑", mt.LOWER_BETTER: "↓"}

# Inline styles: the course's colors for effects and significance, and the decisions'.
STYLES = {
    "good": "color:green;",
    "bad": "color:red;",
    "yes": "color:white;background-color:green",
    "no": "color:white;background-color:red",
    "ship": "color:white;background-color:#2e7d32;font-weight:bold",
    "dont": "color:white;background-color:#c62828;font-weight:bold",
    "unclear": "background-color:#eeeeee",
    "undecided": "background-color:#eeeeee",
    "holds": "background-color:#c8e6c9",
    "fails": "background-color:#ffcdd2",
    "text": "",
}


STATES = ("holds", "fails", "unclear")
"""Cell kinds of a guardrail's state: it may go on a line above its value."""


@dataclass(frozen=True)
class Cell:
    """A table cell: its text and how it is colored (a key of :data:`STYLES`, or none)."""

    text: str
    kind: str = ""


@dataclass(frozen=True)
class Table:
    """A header and rows of cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def number(value: object, digits: int = 3) -> str:
    """A table value as text: floats to ``digits`` decimals, NaN as ``n/a``."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "n/a"
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.{digits}g}" if abs(value) >= 1e-300 else "0"
        return f"{value:.{digits}f}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def tone(value: float, direction: str) -> str:
    """``good`` when ``value`` (an effect) moves the metric its better way, ``bad`` otherwise."""
    if not isinstance(value, float) or math.isnan(value) or value == 0:
        return ""
    return "good" if (value > 0) == (direction == mt.HIGHER_BETTER) else "bad"


def _decision(text: str) -> Cell:
    return Cell(text, "ship" if text == SHIP else "dont" if text == DONT_SHIP else "undecided")


def check_cell(check: pd.Series | dict, rail: Guardrail) -> Cell:
    """A guardrail's state and its observed difference: ``holds +0.21 ms``, ``fails -3.1%``."""
    if rail.relative:
        value = fmt.percent(check[col.EFFECT])
    else:
        value = fmt.signed(check[col.DIFFERENCE], 2, mt.UNITS.get(rail.metric, ""))
    status = check[col.STATUS]
    kind = "holds" if status == HOLDS else "fails" if status == FAILS else "unclear"
    return Cell(f"{status} {value}" if value != "n/a" else status, kind)


def summary_cells(decisions: pd.DataFrame, checks: pd.DataFrame, guardrails: Sequence[Guardrail],
                  primary: str, sequential: bool = False) -> Table:
    """Per treatment: recommender, the primary metric's effect and intervals, each guardrail, the
    decision and its reason.

    Args:
        decisions: :attr:`Analysis.decisions` (or a segment's).
        checks: :attr:`Analysis.checks`.
        guardrails: the guardrails, one column each.
        primary: the primary metric.
        sequential: show the always-valid interval too (the decisions used it).
    """
    direction = mt.BETTER[primary]
    header = ["treatment", "recommender", "effect", "95% CI"]
    if sequential:
        header.append("always-valid CI")
    header += ["always-valid Holm p" if sequential else "Holm p",
               *(f"{g.metric} {g.limit}" for g in guardrails), "decision", "reason"]
    rows = []
    for _, row in decisions.iterrows():
        effect = row[col.EFFECT]
        cells = [Cell(row[col.TREATMENT]), Cell(row[col.RECOMMENDER], "text"),
                 Cell(fmt.percent(effect), tone(effect, direction)),
                 Cell(fmt.interval(row[col.LOWER], row[col.UPPER]))]
        if sequential:
            cells.append(Cell(fmt.interval(row[col.SEQ_LOWER], row[col.SEQ_UPPER])))
        decided = col.SEQ_P_VALUE_HOLM if sequential else col.P_VALUE_HOLM
        cells.append(Cell(fmt.p_value(row[decided])))
        mine = checks[checks[col.TREATMENT] == row[col.TREATMENT]]
        for rail in guardrails:
            found = mine[mine[col.METRIC] == rail.metric]
            cells.append(check_cell(found.iloc[0], rail) if len(found) else Cell("n/a"))
        cells += [_decision(row[col.DECISION]), Cell(row[col.REASON], "text")]
        rows.append(tuple(cells))
    return Table(tuple(header), tuple(rows))


def effects_cells(effects: pd.DataFrame, sequential: bool = False) -> Table:
    """Every treatment and metric: effect, intervals, means, p-values and significance."""
    header = ["treatment", "recommender", "metric", "better", "effect", "95% CI"]
    if sequential:
        header.append("always-valid CI")
    header += ["control mean", "treatment mean", "p", "Holm p", "sig.", "sig. Holm"]
    rows = []
    for _, row in effects.iterrows():
        direction = row[col.DIRECTION]
        shade = tone(row[col.EFFECT], direction)
        cells = [Cell(row[col.TREATMENT]), Cell(row[col.RECOMMENDER], "text"),
                 Cell(row[col.METRIC], "text"), Cell(ARROWS.get(direction, "")),
                 Cell(fmt.percent(row[col.EFFECT], 2), shade),
                 Cell(fmt.interval(row[col.LOWER], row[col.UPPER], 2),
                      shade if row[col.SIGNIFICANT] else "")]
        if sequential:
            cells.append(Cell(fmt.interval(row[col.SEQ_LOWER], row[col.SEQ_UPPER], 2)))
        cells += [Cell(number(row[col.CONTROL_MEAN])), Cell(number(row[col.TREATMENT_MEAN])),
                  Cell(fmt.p_value(row[col.P_VALUE])), Cell(fmt.p_value(row[col.P_VALUE_HOLM])),
                  _significance(row[col.SIGNIFICANT]), _significance(row[col.SIGNIFICANT_HOLM])]
        rows.append(tuple(cells))
    return Table(tuple(header), tuple(rows))


def _significance(value: bool) -> Cell:
    return Cell("yes" if value else "no", "yes" if value else "no")


def checks_cells(checks: pd.DataFrame, guardrails: Sequence[Guardrail]) -> Table:
    """Every treatment and guardrail: the difference, its worst plausible value, the margin."""
    rails = {g.metric: g for g in guardrails}
    header = ("treatment", "guardrail", "margin", "difference", "bound", "p", "state")
    rows = []
    for _, row in checks.iterrows():
        rail = rails[row[col.METRIC]]
        if rail.relative:
            difference = fmt.percent(row[col.EFFECT], 2)
            bound = fmt.percent(row[col.WORST_EFFECT], 2)
        else:
            unit = mt.UNITS.get(rail.metric, "")
            difference = fmt.signed(row[col.DIFFERENCE], 3, unit)
            bound = fmt.signed(row[col.WORST], 3, unit)
        state = check_cell(row, rail)
        rows.append((Cell(row[col.TREATMENT]), Cell(rail.metric, "text"), Cell(rail.limit),
                     Cell(difference), Cell(bound), Cell(fmt.p_value(row[col.P_VALUE])),
                     Cell(row[col.STATUS], state.kind)))
    return Table(header, tuple(rows))


def frame_cells(frame: pd.DataFrame) -> Table:
    """Any table, its values as :func:`number` writes them."""
    rows = tuple(
        tuple(Cell(number(v), "text" if isinstance(v, str) else "") for v in row)
        for row in frame.itertuples(index=False)
    )
    return Table(tuple(str(c) for c in frame.columns), rows)


def markdown(table: Table) -> str:
    """A Markdown table (``|`` in cells escaped)."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "| " + " | ".join("---" for _ in table.header) + " |"
    return "\n".join([line(table.header), rule,
                      *(line([c.text for c in row]) for row in table.rows)])


def _breakable(text: str) -> str:
    """Escaped, with a line-break opportunity after every underscore (metric names)."""
    return html.escape(text).replace("_", "_<wbr>")


def html_table(table: Table, css: str = "") -> str:
    """An HTML table; headers and cells of kind ``text`` may wrap (also after an underscore),
    the others (numbers) never."""
    esc = html.escape
    texts = [cell.kind == "text" for cell in table.rows[0]] if table.rows else []
    text_header = '<th class="text">'
    head = "".join(
        f"{text_header if i < len(texts) and texts[i] else '<th>'}{_breakable(h)}</th>"
        for i, h in enumerate(table.header))
    body = []
    for row in table.rows:
        cells = []
        for cell in row:
            style = STYLES.get(cell.kind, "")
            css = "text" if cell.kind == "text" else "wrap" if cell.kind in STATES else ""
            attributes = (f' class="{css}"' if css else "") + (
                f' style="{style}"' if style else "")
            if cell.kind == "text":
                text = _breakable(cell.text)
            elif cell.kind in STATES and " " in cell.text:  # the state, then the value unbroken
                state, value = cell.text.split(" ", 1)
                text = f'{esc(state)} <span class="num">{esc(value)}</span>'
            else:
                text = esc(cell.text)
            cells.append(f"<td{attributes}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    klass = f' class="{css}"' if css else ""
    return (f"<table{klass}><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
