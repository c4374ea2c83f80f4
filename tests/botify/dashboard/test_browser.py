"""The dashboard in a real browser: ``botify serve`` fed by the simulator, ``botify dashboard``
following its log, the page in headless Chromium showing ``botify analyze``'s numbers, live."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from botify.service.process import ServiceProcess
from botify.store.redis_server import free_port
from sim.world import generate_world, save_world
from sim.world.files import TRACKS_FILE
from tests.botify.chromium import chromium, needs_chromium

ARMS = ["random", "sticky_artist", "sticky_genre"]
EXPERIMENT = "LIVE"

pytestmark = needs_chromium


def _simulate(world_dir: Path, url: str, episodes: int, seed: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "sim.run", "--episodes", str(episodes), "--seed", str(seed),
         "--world", str(world_dir), "--url", url, "--days", "1", "--no-progress",
         "single", "--recommender", "remote"],
        check=True, capture_output=True, timeout=240,
    )


def _analyze(logs: Path, out: Path, env: dict) -> tuple[dict, dict]:
    """``botify analyze``'s effects and summary on the log as it is now."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "botify.cli", "analyze", str(logs), "--experiment", EXPERIMENT,
         "--out", str(out)],
        check=True, capture_output=True, env=env, timeout=120,
    )
    effects = json.loads((out / "effects.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    return effects, summary


def _expected_cells(effects, summary) -> dict[str, dict[str, str]]:
    """The page's cells as ``botify analyze`` makes them, formatted as the page formats them."""
    rows = effects if isinstance(effects, list) else effects.get("effects", effects)
    primary = {r["treatment"]: r for r in rows if r["metric"] == "mean_time_per_session"}
    treatments = summary["treatments"]
    if isinstance(treatments, dict):
        treatments = [{"treatment": k, **v} for k, v in treatments.items()]
    cells = {}
    for t in treatments:
        name = t["treatment"]
        row = {"recommender": t["recommender"], "users": f"{t['users']:,}",
               "sessions": f"{t['sessions']:,}", "events": f"{t['events']:,}"}
        if name in primary:
            effect = primary[name]
            row["mean"] = f"{effect['treatment_mean']:.4f}"
            row["effect"] = f"{'+' if effect['effect'] > 0 else ''}{effect['effect']:.2f}%"
            row["interval"] = " … ".join(
                f"{'+' if v > 0 else ''}{v:.2f}%" for v in (effect["lower"], effect["upper"])
            )
        else:
            row["mean"] = f"{next(iter(primary.values()))['control_mean']:.4f}"
            row["effect"] = "control"
        cells[name] = row
    return cells


PAGE_CELLS = """
const cells = {};
for (const row of document.querySelectorAll("#treatments tbody tr")) {
  const fields = {};
  for (const cell of row.querySelectorAll("td[data-field]")) {
    fields[cell.dataset.field] = cell.textContent.trim();
  }
  cells[row.dataset.treatment] = fields;
}
return cells;
"""


def _page_cells(driver) -> dict[str, dict[str, str]]:
    """The treatments table's cells, read at once (the page redraws it at every refresh)."""
    return driver.execute_script(PAGE_CELLS)


def _wait_for(driver, expected, timeout=60.0) -> dict:
    """Wait until the page's cells show ``expected`` (every field of it); returns them."""
    deadline = time.monotonic() + timeout
    while True:
        page = _page_cells(driver)
        if set(page) == set(expected) and all(
            page[t].get(key) == value for t, row in expected.items() for key, value in row.items()
        ):
            return page
        if time.monotonic() > deadline:
            pytest.fail(f"the page shows {page}\nnot botify analyze's {expected}")
        time.sleep(0.5)


@pytest.fixture()
def browser(tmp_path):
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver


def test_dashboard_page_follows_a_live_experiment(redis_server, tmp_path, browser):
    world_dir = save_world(generate_world(seed=5, n_tracks=2000, n_users=300),
                           tmp_path / "world")
    workdir = tmp_path / "serve"
    config = {
        "TRACKS_CATALOG": str(world_dir / TRACKS_FILE),
        "DATA_LOG_FILE": "log/data.jsonl",
        "RECOMMENDERS": {name: {"type": name} for name in ARMS},
        "EXPERIMENTS": {EXPERIMENT: ARMS},
        "ACTIVE_EXPERIMENT": EXPERIMENT,
    }
    redis_url = redis_server.url.rsplit("/", 1)[0] + "/9"
    service = ServiceProcess(workdir, config, redis_url=redis_url, workers=2,
                             log_path=tmp_path / "serve.log").start()
    logs = workdir / "log"
    env = {**os.environ, "BOTIFY_CONFIG": str(workdir / "config.json")}
    port = free_port()
    output = tmp_path / "dashboard.log"
    with open(output, "wb") as handle:
        dashboard = subprocess.Popen(
            [sys.executable, "-m", "botify.cli", "dashboard", "--logs", str(logs),
             "--experiment", EXPERIMENT, "--port", str(port), "--refresh", "0.5"],
            env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _simulate(world_dir, service.url, episodes=150, seed=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                assert dashboard.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "the dashboard did not answer"
                time.sleep(0.2)

        browser.get(url)
        first = _wait_for(browser, _expected_cells(*_analyze(logs, tmp_path / "ab1", env)))
        assert set(first) == {"C", "T1", "T2"}
        assert {row["recommender"] for row in first.values()} == set(ARMS)
        assert browser.execute_script(
            "return document.querySelector('[data-field=srm-verdict]').textContent") in (
            "OK", "MISMATCH")
        assert browser.execute_script(
            "return document.querySelectorAll('#over-time polyline').length") == len(ARMS)
        assert set(browser.execute_script(
            "return [...document.querySelectorAll('#latency tbody tr')]"
            ".map((row) => row.dataset.recommender)")) == set(ARMS)

        # A burst of sessions: the page changes by itself, to the new report's numbers.
        _simulate(world_dir, service.url, episodes=120, seed=2)
        second = _wait_for(browser, _expected_cells(*_analyze(logs, tmp_path / "ab2", env)))
        assert second != first
        assert all(
            int(second[t]["events"].replace(",", "")) > int(first[t]["events"].replace(",", ""))
            for t in first
        )
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        if dashboard.poll() is None:
            dashboard.send_signal(signal.SIGTERM)
        try:
            dashboard.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dashboard.kill()
            dashboard.wait()
        service.stop()
    assert dashboard.returncode == 0, output.read_text()
    assert "Traceback" not in output.read_text()
