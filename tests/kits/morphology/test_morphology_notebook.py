"""The students' notebook is the one make_notebook.py writes, and it runs top to bottom."""

import nbformat
import pytest

from tests.notebooks import all_outputs, code_cells_with_outputs, execute_notebook, images


@pytest.fixture(scope="module")
def notebook_path(kit_dir):
    return kit_dir / "morphology_starting_kit.ipynb"


@pytest.fixture(scope="module")
def executed_notebook(notebook_path, release):
    return execute_notebook(
        notebook_path, "MORPHOLOGY_DATA_DIR", release, cell_timeout_seconds=300
    )


def test_notebook_is_built_by_make_notebook_without_outputs(notebook_path):
    from make_notebook import CELLS

    notebook = nbformat.read(notebook_path, as_version=4)
    assert [cell.source for cell in notebook.cells] == [text for _, text in CELLS]
    assert code_cells_with_outputs(notebook_path) == []


def test_notebook_loads_the_data_and_lists_the_scores(executed_notebook):
    text = all_outputs(executed_notebook)
    assert "train: X (" in text
    assert "balanced_accuracy" in text and "nll" in text


def test_notebook_scores_both_submissions_and_breaks_down_per_class(executed_notebook):
    text = all_outputs(executed_notebook)
    assert "starting_kit" in text and "gradient_boosting" in text
    assert "Accuracy per true class (recall)" in text


def test_notebook_draws_the_classes(executed_notebook):
    assert len(images(executed_notebook)) >= 3


def test_notebook_ramp_test_cell_passes(executed_notebook):
    assert "ramp-test exit code: 0" in all_outputs(executed_notebook)
