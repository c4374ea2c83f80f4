"""The analysts' notebooks run top to bottom on small generated logs (nbclient, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

JUPYTER = Path(__file__).resolve().parents[3] / "jupyter"


def _execute(name: str, parameters: str, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook with ``parameters`` injected after its ``parameters`` cell."""
    book = nbformat.read(JUPYTER / name, as_version=4)
    index = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    book.cells.insert(index + 1, nbformat.v4.new_code_cell(parameters))
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": cwd}}
                   ).execute()
    return book


def _outputs(book: nbformat.NotebookNode) -> str:
    texts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(texts)


def test_ab_analysis_notebook(ab_logs, tmp_path):
    out = tmp_path / "report"
    book = _execute(
        "ab_analysis.ipynb",
        f"LOGS = [{str(ab_logs['post'])!r}]\nEXPERIMENT = 'AB'\n"
        f"PRE_LOGS = [{str(ab_logs['pre'])!r}]\nOUT = {str(out)!r}",
        tmp_path,
    )
    text = _outputs(book)
    assert "background-color: green" in text  # the course's colored table
    assert "image/png" in str(book.cells)
    assert (out / "report.html").exists()


def test_exploration_notebook(ab_logs, tmp_path):
    book = _execute("exploration.ipynb", f"LOGS = [{str(ab_logs['post'])!r}]", tmp_path)
    text = _outputs(book)
    assert "of the plays" in text and "sessions still open" in text
    assert "image/png" in str(book.cells)


def test_notebooks_are_committed_without_outputs():
    for name in ("ab_analysis.ipynb", "exploration.ipynb"):
        book = nbformat.read(JUPYTER / name, as_version=4)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code"), name
