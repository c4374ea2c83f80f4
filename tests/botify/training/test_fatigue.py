"""Artist fatigue: ``fit_fatigue`` and ``botify tune artist-penalty`` on planted logs."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pandas as pd
import pytest

from botify.cli import main
from botify.errors import DataError
from botify.training.catalog import TrackCatalog
from botify.training.dataset import session_events
from botify.training.fatigue import fit_fatigue
from botify.training.synthetic import write_event_log

# Ten artists of eight tracks: track t is by artist t // 8.
CATALOG = [{"track": t, "artist": f"A{t // 8}", "title": f"T{t}"} for t in range(80)]


def planted_log(sessions: int, penalty: float, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Sessions alternating two artists' tracks (six of each) plus one track the catalog lacks;
    the k-th earlier track of an artist in the session is heard ``0.9 * penalty ** k`` (times
    ``exp`` of normal noise, clipped to [0, 1])."""
    rng = np.random.default_rng(seed)
    rows, clock = [], 0
    for session in range(sessions):
        a, b = rng.choice(10, 2, replace=False)
        pairs = zip(range(a * 8, a * 8 + 6), range(b * 8, b * 8 + 6), strict=True)
        order = [t for pair in pairs for t in pair]
        for i, track in enumerate([*order, 999]):
            k = i // 2 if track != 999 else 0
            time = min(1.0, 0.9 * penalty**k * math.exp(noise * rng.standard_normal()))
            clock += 1
            rows.append({"message": "last" if track == 999 else "next", "timestamp": clock,
                         "user": session % 7, "track": track, "time": round(time, 4),
                         "latency": 0.001, "recommendation": 0, "experiments": {},
                         "recommender": "planted"})
    return pd.DataFrame(rows)


def test_a_planted_penalty_is_recovered_exactly():
    fatigue = fit_fatigue(session_events(planted_log(60, 0.7)), TrackCatalog.from_records(CATALOG),
                          min_listens=100)
    assert fatigue.counts == (1, 2, 3, 4, 5)  # six tracks per artist: counts 0..5
    assert fatigue.listens == (120,) * 5  # two artists per session
    assert fatigue.penalty == pytest.approx(0.7, abs=1e-3)
    assert fatigue.mean_times == pytest.approx([0.9 * 0.7**k for k in range(1, 6)], abs=1e-4)


def test_with_noise_the_fit_is_the_weighted_log_linear_fit_of_the_means():
    events = planted_log(200, 0.8, noise=0.3, seed=2)
    fatigue = fit_fatigue(session_events(events), TrackCatalog.from_records(CATALOG))
    # Independently: the count of each listen from the planted order, the means per count.
    known = events[events.track != 999].copy()
    known["k"] = known.groupby([known.index // 13, known.track // 8]).cumcount()
    means = known[known.k.between(1, 5)].groupby("k").time.agg(["mean", "size"])
    slope = np.polyfit(means.index, np.log(means["mean"]), 1, w=np.sqrt(means["size"]))[0]
    assert fatigue.penalty == pytest.approx(math.exp(slope), rel=1e-9)
    assert abs(fatigue.penalty - 0.8) < 0.05


def test_too_few_repeats_is_a_data_error():
    with pytest.raises(DataError, match="too few repeated artists"):
        fit_fatigue(session_events(planted_log(5, 0.7)), TrackCatalog.from_records(CATALOG))


def test_the_cli_prints_the_table_and_the_value(tmp_path, capsys):
    write_event_log(planted_log(60, 0.75), tmp_path / "logs")
    catalog = tmp_path / "tracks.jsonl"
    catalog.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in CATALOG))
    argv = ["tune", "artist-penalty", "--logs", str(tmp_path / "logs"), "--catalog", str(catalog)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "artist penalty: 0.750" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 5


def test_the_cli_reports_a_missing_catalog(tmp_path, capsys):
    write_event_log(planted_log(60, 0.75), tmp_path / "logs")
    argv = ["tune", "artist-penalty", "--logs", str(tmp_path / "logs"), "--catalog",
            str(tmp_path / "nope.jsonl")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and "Traceback" not in err
