"""report.html in a real headless Chromium at 1280 x 800: the summary on the first screen, no
sideways scrolling, no number broken over two lines."""

from __future__ import annotations

import pytest

from botify.analysis import columns as col
from botify.analysis.analyze import analyze
from botify.analysis.decision import DECISIONS
from botify.analysis.guardrails import parse_guardrail
from botify.analysis.report import write_report
from botify.analysis.synthetic import generate_events
from tests.botify.chromium import chromium, needs_chromium

pytestmark = needs_chromium

RECOMMENDERS = ("sticky_artist", "top_pop", "indexed", "contextual", "i2i", "favorites",
                "hybrid", "random")
WIDTH, HEIGHT = 1280, 800

LAYOUT = """
const summary = document.querySelector("#summary table");
const root = document.documentElement;
const wrapped = [];
// Numbers never break: cells of numbers, and the values of guardrail cells (below their state).
for (const cell of document.querySelectorAll("td:not(.text):not(.wrap), td.wrap .num")) {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  if (lines.size > 1) wrapped.push(cell.textContent);
}
return {
  innerWidth: window.innerWidth,
  innerHeight: window.innerHeight,
  summaryBottom: summary.getBoundingClientRect().bottom,
  summaryRows: summary.querySelectorAll("tbody tr").length,
  decisions: [...summary.querySelectorAll("tbody tr")].map(
    (row) => row.children[row.children.length - 2].textContent),
  scrollWidth: root.scrollWidth,
  clientWidth: root.clientWidth,
  wrapped: wrapped,
  tables: document.querySelectorAll("table").length,
  images: [...document.images].map((image) => image.complete && image.naturalWidth > 0),
  firstHeading: document.querySelector("h2").textContent,
};
"""


@pytest.fixture(scope="module")
def events():
    return generate_events(4000, recommenders=RECOMMENDERS, experiment="RECOMMENDERS", seed=1,
                           open_sessions=0.02,
                           time_effects={"T1": 0.8, "T3": 1.3, "T4": 1.5, "T5": 1.15, "T7": 0.7})


@pytest.mark.parametrize(
    ("options", "first_screen"),
    [
        ({}, True),
        ({"sequential": True, "looks": 4}, True),
        # Twice the guardrails: taller rows, but still nothing wider than the window.
        ({"sequential": True, "guardrails": [parse_guardrail(spec) for spec in (
            "mean_request_latency:+10", "sessions:-10%", "mean_tracks_per_session:-5%",
            "time:-5%")]}, False),
    ],
    ids=["fixed", "sequential-with-looks", "four-guardrails"],
)
def test_the_summary_fits_the_first_screen_of_a_1280_window(events, tmp_path, options,
                                                            first_screen):
    analysis = analyze(events, "RECOMMENDERS", configured=list(RECOMMENDERS), **options)
    out = tmp_path / "report"
    write_report(analysis, out)
    with chromium(tmp_path / "chromium-profile", WIDTH, HEIGHT) as driver:
        driver.get((out / "report.html").as_uri())
        page = driver.execute_script(LAYOUT)
        driver.save_screenshot(str(tmp_path / "report.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert page["innerWidth"] == WIDTH and page["innerHeight"] <= HEIGHT
    assert page["summaryRows"] == len(RECOMMENDERS) - 1
    assert page["decisions"] == analysis.decisions[col.DECISION].tolist()
    assert set(page["decisions"]) <= set(DECISIONS)
    if first_screen:
        assert page["summaryBottom"] <= page["innerHeight"], page
    assert page["scrollWidth"] <= page["clientWidth"], page
    assert page["wrapped"] == []
    assert page["firstHeading"] == "Effects"  # the plot right after the summary
    assert page["images"] and all(page["images"])
    assert errors == []
