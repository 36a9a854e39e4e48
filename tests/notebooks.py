"""A kit's starting-kit notebook, run top to bottom as a student would on a small release, and
what it showed: the text of its outputs and the figures it drew."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient


def execute_notebook(
    notebook_path: Path, data_variable: str, data_dir: Path, cell_timeout_seconds: int
) -> nbformat.NotebookNode:
    """The notebook executed in its kit's folder, its data read from ``data_dir``.

    Raises ``CellExecutionError`` on the first failing cell.
    """
    with pytest.MonkeyPatch.context() as patch:
        # The kernel inherits these: the small release, and quick ramp-test runs.
        patch.setenv(data_variable, str(data_dir))
        patch.setenv("RAMP_TEST_MODE", "1")
        notebook = nbformat.read(notebook_path, as_version=4)
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=cell_timeout_seconds,
            resources={"metadata": {"path": str(notebook_path.parent)}},
        )
        client.execute()
    return notebook


def all_outputs(notebook: nbformat.NotebookNode) -> str:
    """The text of every stream and result of an executed notebook, concatenated."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def images(notebook: nbformat.NotebookNode) -> list[dict]:
    """The PNG figures an executed notebook drew, in order."""
    return [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def code_cells_with_outputs(notebook_path: Path) -> list[int]:
    """The indices of the saved notebook's code cells that still hold outputs."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.get("outputs")
    ]
