"""The students' notebook is the one make_notebook.py writes, and it runs top to bottom."""

import nbformat
import pytest
from nbclient import NotebookClient


def all_outputs(notebook):
    """The text of every stream and result of an executed notebook, concatenated."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def notebook_path(kit_dir):
    return kit_dir / "morphology_starting_kit.ipynb"


@pytest.fixture(scope="module")
def executed_notebook(notebook_path, kit_dir, release):
    with pytest.MonkeyPatch.context() as patch:
        # The kernel inherits these: the small release, and quick ramp-test runs.
        patch.setenv("MORPHOLOGY_DATA_DIR", str(release))
        patch.setenv("RAMP_TEST_MODE", "1")
        notebook = nbformat.read(notebook_path, as_version=4)
        client = NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=300,
            resources={"metadata": {"path": str(kit_dir)}},
        )
        client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


def test_notebook_is_built_by_make_notebook_without_outputs(notebook_path):
    from make_notebook import CELLS

    notebook = nbformat.read(notebook_path, as_version=4)
    assert [cell.source for cell in notebook.cells] == [text for _, text in CELLS]
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def test_notebook_loads_the_data_and_lists_the_scores(executed_notebook):
    text = all_outputs(executed_notebook)
    assert "train: X (" in text
    assert "balanced_accuracy" in text and "nll" in text


def test_notebook_scores_both_submissions_and_breaks_down_per_class(executed_notebook):
    text = all_outputs(executed_notebook)
    assert "starting_kit" in text and "gradient_boosting" in text
    assert "Accuracy per true class (recall)" in text


def test_notebook_draws_the_classes(executed_notebook):
    images = [
        output
        for cell in executed_notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 3


def test_notebook_ramp_test_cell_passes(executed_notebook):
    assert "ramp-test exit code: 0" in all_outputs(executed_notebook)
