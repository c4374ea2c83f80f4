"""The training notebook runs top to bottom on small generated logs."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[3] / "jupyter" / "training.ipynb"


def test_training_notebook_executes(small_log_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAINING_LOGS", str(small_log_dir))
    monkeypatch.setenv("TRAINING_OUT", str(tmp_path))
    monkeypatch.setenv("TRAINING_EPOCHS", "2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert {p.name for p in tmp_path.glob("*.jsonl")} == {
        "top_tracks.jsonl",
        "i2i_cooc.jsonl",
        "ranker.jsonl",
        "multidae.jsonl",
        "als.jsonl",
        "user_cf.jsonl",
    }
    outputs = "".join(
        o.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert "ranker_cosine" in outputs
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3
